using OrleansSessions.Storage.Migrations;

namespace OrleansSessions.Tests.Store;

/// <summary>
/// The PostgreSQL store, on databases of each test's own, created on the server named by
/// <c>ORLEANS_SESSIONS_TEST_POSTGRES</c> (see <see cref="PostgresServer"/>).
/// </summary>
public sealed class PostgresStoreTests : StoreContract<PostgresStore>
{
    private readonly Dictionary<string, string> _databases = [];
    private readonly List<PostgresStore> _stores = [];

    protected override string Dialect => "postgres";

    protected override string SchemaMigrationsDdl =>
        "CREATE TABLE schema_migrations (version INTEGER NOT NULL PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)";

    protected override async Task CreateDatabaseAsync(string database) =>
        _databases[database] = await PostgresServer.CreateDatabaseAsync();

    protected override PostgresStore OpenStore(string database)
    {
        var store = new PostgresStore(_databases[database]);
        _stores.Add(store);
        return store;
    }

    protected override Task ExecuteAsync(string database, string sql) => PostgresServer.ExecuteAsync(_databases[database], sql);

    protected override Task<List<string>> ColumnAsync(string database, string sql, Guid? id = null) =>
        PostgresServer.ColumnAsync(_databases[database], sql, id);

    protected override async Task DropDatabasesAsync()
    {
        foreach (var store in _stores)
            await store.DisposeAsync();
        foreach (var connectionString in _databases.Values)
            await PostgresServer.DropDatabaseAsync(connectionString);
    }

    /// <summary>Nodes migrating a new database at the same moment apply every version exactly once between them.</summary>
    [Fact]
    public async Task Concurrent_migrations_apply_each_version_once()
    {
        await CreateDatabaseAsync("racing");
        var stores = Enumerable.Range(0, 4).Select(_ => OpenStore("racing")).ToList();
        var results = await Task.WhenAll(stores.Select(s => Task.Run(() => s.MigrateAsync())));

        var known = Migration.For(Dialect).Select(m => m.Version).ToArray();
        Assert.Equal(known, results.SelectMany(r => r).Order());
        Assert.Equal(known.Select(v => v.ToString()), await ColumnAsync("racing", "SELECT version FROM schema_migrations ORDER BY version"));
    }
}
