using Microsoft.Data.Sqlite;
using OrleansSessions.Tests.Infrastructure;

namespace OrleansSessions.Tests.Store;

/// <summary>The embedded SQLite store, on database files of each test's own.</summary>
public sealed class SqliteStoreTests : StoreContract<SqliteStore>
{
    private readonly TempDirectory _folder = new();

    protected override string Dialect => "sqlite";

    protected override string SchemaMigrationsDdl =>
        "CREATE TABLE schema_migrations (version INTEGER NOT NULL PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)";

    private string PathOf(string database) => _folder.File($"{database}.db");

    protected override Task CreateDatabaseAsync(string database) => Task.CompletedTask; // the store creates the file

    protected override SqliteStore OpenStore(string database) => new(PathOf(database));

    protected override async Task ExecuteAsync(string database, string sql)
    {
        await using var connection = new SqliteConnection($"Data Source={PathOf(database)};Pooling=False");
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        await command.ExecuteNonQueryAsync();
    }

    protected override Task<List<string>> ColumnAsync(string database, string sql, Guid? id = null) =>
        id is { } value ? SqliteRows.ColumnAsync(PathOf(database), sql, ("@id", value.ToString())) : SqliteRows.ColumnAsync(PathOf(database), sql);

    protected override Task DropDatabasesAsync()
    {
        _folder.Dispose();
        return Task.CompletedTask;
    }
}
