using System.Data.Common;
using Microsoft.Data.Sqlite;

namespace OrleansSessions.Storage;

/// <summary>
/// The embedded store: one SQLite file, WAL journal, synchronous=FULL so that an acknowledged
/// write survives a crash of the process or of the machine.
/// </summary>
public sealed class SqliteStore : RelationalStore
{
    private const int UniqueConstraint = 2067;
    private const int PrimaryKeyConstraint = 1555;
    private const int Busy = 5;
    private const int Locked = 6;
    private const int CannotOpen = 14;
    private readonly string _connectionString;

    public SqliteStore(string path)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        _connectionString = new SqliteConnectionStringBuilder
        {
            DataSource = path,
            ForeignKeys = true,
            Pooling = true,
            DefaultTimeout = 30,
        }.ToString();
    }

    /// <summary>synchronous is a per-connection setting, so every connection sets it.</summary>
    protected override DbConnection Open()
    {
        var connection = new SqliteConnection(_connectionString);
        connection.Open();
        using var pragma = connection.CreateCommand();
        pragma.CommandText = "PRAGMA synchronous = FULL;";
        pragma.ExecuteNonQuery();
        return connection;
    }

    /// <summary>Microsoft.Data.Sqlite opens synchronously whichever method is called, so this is <see cref="Open"/>.</summary>
    protected override ValueTask<DbConnection> OpenAsync(CancellationToken ct) => ValueTask.FromResult(Open());

    protected override string MigrationDialect => "sqlite";

    /// <summary>
    /// The journal mode is a property of the file and cannot change inside a transaction, so it is set here, with
    /// the bookkeeping table. No lock is needed: one file has one migrating process, and SQLite serialises writers.
    /// </summary>
    protected override async Task BeforeMigrationsAsync(DbConnection connection, CancellationToken ct)
    {
        await using var init = Command(connection,
            "PRAGMA journal_mode = WAL; CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER NOT NULL PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL);");
        await init.ExecuteNonQueryAsync(ct);
    }

    protected override bool IsUniqueViolation(DbException e) =>
        e is SqliteException { SqliteExtendedErrorCode: UniqueConstraint or PrimaryKeyConstraint };

    /// <summary>The file is locked by another writer beyond the busy timeout, or cannot be opened at all.</summary>
    protected override bool IsUnreachable(DbException e) =>
        e is SqliteException { SqliteErrorCode: Busy or Locked or CannotOpen };

    /// <summary>SQLite names no constraint, only the violated table and columns in its message.</summary>
    protected override IdentityWriteOutcome TakenBy(DbException e) =>
        e.Message.Contains("identity_identifiers", StringComparison.Ordinal) ? IdentityWriteOutcome.IdentifierTaken
        : e.Message.Contains("external_id", StringComparison.Ordinal) ? IdentityWriteOutcome.ExternalIdTaken
        : IdentityWriteOutcome.IdTaken;

    /// <summary>json_group_array yields <c>[]</c> over no rows.</summary>
    protected override string IdentifiersJsonArray => "json_group_array(identifier)";

    /// <summary>rowid grows with every insert.</summary>
    protected override string KeyRingOrder => "rowid";
}
