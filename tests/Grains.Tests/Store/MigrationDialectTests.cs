using OrleansSessions.Storage.Migrations;
using OrleansSessions.Tests.Infrastructure;

namespace OrleansSessions.Tests.Store;

/// <summary>
/// The SQLite and PostgreSQL migrations are one set in two dialects: the same versions and names, and once
/// applied, the same tables with the same columns (and nullability) and the same named indexes.
/// </summary>
public sealed class MigrationDialectTests
{
    [Fact]
    public void Both_dialects_have_the_same_versions_and_names()
    {
        var sqlite = Migration.For("sqlite").Select(m => (m.Version, m.Name)).ToList();
        var postgres = Migration.For("postgres").Select(m => (m.Version, m.Name)).ToList();
        Assert.NotEmpty(sqlite);
        Assert.Equal(sqlite, postgres);
        Assert.Equal(Enumerable.Range(1, sqlite.Count), sqlite.Select(m => m.Version));
    }

    [Fact]
    public async Task Both_dialects_create_the_same_tables_columns_and_indexes()
    {
        using var folder = new TempDirectory();
        var path = folder.File("sessions.db");
        await new SqliteStore(path).MigrateAsync();
        var sqliteColumns = await SqliteRows.ColumnAsync(path, """
            SELECT m.name || '.' || p.name || CASE WHEN p."notnull" = 1 OR p.pk = 1 THEN ' not null' ELSE ' null' END
            FROM sqlite_master m JOIN pragma_table_info(m.name) p
            WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite%' ORDER BY 1
            """);
        var sqliteIndexes = await SqliteRows.ColumnAsync(path,
            "SELECT tbl_name || '.' || name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL ORDER BY 1");

        var database = await PostgresServer.CreateDatabaseAsync();
        try
        {
            await using (var store = new PostgresStore(database))
                await store.MigrateAsync();
            var postgresColumns = await PostgresServer.ColumnAsync(database, """
                SELECT table_name || '.' || column_name || CASE WHEN is_nullable = 'NO' THEN ' not null' ELSE ' null' END
                FROM information_schema.columns WHERE table_schema = current_schema()
                """);
            // Indexes named in the migrations (not those behind primary keys and unique constraints).
            var postgresIndexes = await PostgresServer.ColumnAsync(database, """
                SELECT i.tablename || '.' || i.indexname FROM pg_indexes i
                WHERE i.schemaname = current_schema()
                  AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)
               
                """);

            Assert.NotEmpty(sqliteColumns);
            Assert.Equal(sqliteColumns.Order(StringComparer.Ordinal), postgresColumns.Order(StringComparer.Ordinal));
            Assert.NotEmpty(sqliteIndexes);
            Assert.Equal(sqliteIndexes.Order(StringComparer.Ordinal), postgresIndexes.Order(StringComparer.Ordinal));
        }
        finally
        {
            await PostgresServer.DropDatabaseAsync(database);
        }
    }
}
