using System.Data.Common;
using Npgsql;

namespace OrleansSessions.Storage;

/// <summary>
/// The cluster store: PostgreSQL through one <see cref="NpgsqlDataSource"/> (a connection pool). Same schema
/// and semantics as <see cref="SqliteStore"/>: ids as text, timestamps as bigint microseconds since the Unix
/// epoch, so that every value round-trips exactly as it does on SQLite. A write returns once it is committed.
/// </summary>
public sealed class PostgresStore : RelationalStore, IDisposable
{
    /// <summary>Key of the transaction-scoped advisory lock that serialises migrations across nodes.</summary>
    private const long MigrationLockKey = 0x4F726C53657373; // "OrlSess"

    private readonly NpgsqlDataSource _dataSource;

    public PostgresStore(string connectionString)
    {
        if (string.IsNullOrWhiteSpace(connectionString))
            throw new InvalidOperationException("store:connection_string is required when store:provider is 'postgres'.");
        _dataSource = NpgsqlDataSource.Create(connectionString);
    }

    public void Dispose() => _dataSource.Dispose();

    public override ValueTask DisposeAsync() => _dataSource.DisposeAsync();

    protected override DbConnection Open() => _dataSource.OpenConnection();

    protected override async ValueTask<DbConnection> OpenAsync(CancellationToken ct) => await _dataSource.OpenConnectionAsync(ct);

    protected override string MigrationDialect => "postgres";

    /// <summary>
    /// Each migration's transaction first takes a transaction-scoped advisory lock: nodes migrating at once apply
    /// each version exactly once, and a second run finds nothing to do. The bookkeeping table is created under
    /// the lock too, since concurrent CREATE TABLE IF NOT EXISTS can collide.
    /// </summary>
    protected override async Task BeginMigrationAsync(DbConnection connection, DbTransaction tx, CancellationToken ct)
    {
        await using var init = Command(connection, """
            SELECT pg_advisory_xact_lock(@lock);
            CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER NOT NULL PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL);
            """, ("@lock", MigrationLockKey));
        init.Transaction = tx;
        await init.ExecuteNonQueryAsync(ct);
    }

    protected override bool IsUniqueViolation(DbException e) =>
        e is PostgresException { SqlState: PostgresErrorCodes.UniqueViolation };

    /// <summary>
    /// Network failures and timeouts (Npgsql marks them transient), a lost connection (SQLSTATE class 08), a server
    /// that is shutting down, starting or crashed (57P01–57P03), and a server out of connections (53300).
    /// </summary>
    protected override bool IsUnreachable(DbException e) => e switch
    {
        PostgresException p => p.SqlState.StartsWith("08", StringComparison.Ordinal)
            || p.SqlState is PostgresErrorCodes.AdminShutdown or PostgresErrorCodes.CrashShutdown or PostgresErrorCodes.CannotConnectNow
                or PostgresErrorCodes.TooManyConnections,
        NpgsqlException n => n.IsTransient,
        _ => false,
    };

    /// <summary>Npgsql keeps idle connections to a server that restarted; each would fail once on its next use.</summary>
    protected override void DropPooledConnections() => _dataSource.Clear();

    /// <summary>The constraint names come from our migrations.</summary>
    protected override IdentityWriteOutcome TakenBy(DbException e)
    {
        var constraint = ((PostgresException)e).ConstraintName;
        return constraint switch
        {
            "identity_identifiers_pkey" => IdentityWriteOutcome.IdentifierTaken,
            "identities_external_id_key" => IdentityWriteOutcome.ExternalIdTaken,
            "identities_pkey" => IdentityWriteOutcome.IdTaken,
            _ => throw new InvalidOperationException($"Unexpected unique violation on {constraint}.", e),
        };
    }

    /// <summary>json_agg yields NULL over no rows, hence the COALESCE.</summary>
    protected override string IdentifiersJsonArray => "COALESCE(json_agg(identifier)::text, '[]')";

    /// <summary>PostgreSQL has no insertion order; friendly_name breaks ties of the same microsecond.</summary>
    protected override string KeyRingOrder => "created_at, friendly_name";
}
