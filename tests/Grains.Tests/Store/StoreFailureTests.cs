using System.Net;
using System.Net.Sockets;
using Microsoft.Data.Sqlite;
using Npgsql;
using OrleansSessions.Tests.Infrastructure;

namespace OrleansSessions.Tests.Store;

/// <summary>
/// Which real provider failures the stores recognise as "cannot be reached" (answered 503, worth a retry) and which
/// they do not (a bug or a conflict, never disguised as unavailability). Each failure is produced for real.
/// </summary>
public sealed class StoreFailureTests : IDisposable
{
    private readonly TempDirectory _folder = new();

    public void Dispose() => _folder.Dispose();

    [Fact]
    public async Task Sqlite_file_that_cannot_be_opened_is_unavailable()
    {
        var gone = Path.Combine(_folder.Path, "gone");
        var store = new SqliteStore(Path.Combine(gone, "sessions.db"));
        Directory.Delete(gone);

        var e = await Assert.ThrowsAsync<SqliteException>(() => store.FindSessionByLookupKeyAsync("key"));

        Assert.Equal(14, e.SqliteErrorCode); // SQLITE_CANTOPEN
        Assert.True(store.IsUnavailable(e));
    }

    [Fact]
    public async Task Sqlite_database_locked_by_another_writer_is_unavailable()
    {
        var path = _folder.File("busy.db");
        var store = new SqliteStore(path);
        await store.MigrateAsync();
        await using var holder = new SqliteConnection($"Data Source={path};Pooling=False");
        await holder.OpenAsync();
        await using (var begin = holder.CreateCommand())
        {
            begin.CommandText = "BEGIN IMMEDIATE";
            await begin.ExecuteNonQueryAsync();
        }
        // Microsoft.Data.Sqlite retries a busy database until the command timeout (0 would wait forever): one second, not the store's 30.
        await using var writer = new SqliteConnection($"Data Source={path};Pooling=False;Default Timeout=1");
        await writer.OpenAsync();
        await using var write = writer.CreateCommand();
        write.CommandText = "DELETE FROM sessions";

        var e = await Assert.ThrowsAsync<SqliteException>(() => write.ExecuteNonQueryAsync());

        Assert.Equal(5, e.SqliteErrorCode); // SQLITE_BUSY
        Assert.True(store.IsUnavailable(e));
    }

    [Fact]
    public async Task Sqlite_constraint_violation_is_not_unavailability()
    {
        var store = new SqliteStore(_folder.File("constraint.db"));
        await store.MigrateAsync();
        await using var connection = new SqliteConnection($"Data Source={_folder.File("constraint.db")};Pooling=False");
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = "INSERT INTO schema_migrations (version, name, applied_at) VALUES (1, 'again', 0)";

        var e = await Assert.ThrowsAsync<SqliteException>(() => command.ExecuteNonQueryAsync());

        Assert.False(store.IsUnavailable(e));
    }

    [Fact]
    public async Task Postgres_server_that_refuses_connections_is_unavailable()
    {
        // Bound but not listening: the port refuses connections, and no other process can listen on it meanwhile.
        using var closed = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        closed.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        var port = ((IPEndPoint)closed.LocalEndPoint!).Port;
        await using var store = new PostgresStore($"Host=127.0.0.1;Port={port};Username=postgres;Database=postgres;Timeout=5");

        var e = await Assert.ThrowsAsync<NpgsqlException>(() => store.FindSessionByLookupKeyAsync("key"));

        Assert.True(store.IsUnavailable(e));
    }

    [Fact]
    public async Task Postgres_error_in_a_statement_is_not_unavailability()
    {
        var database = await PostgresServer.CreateDatabaseAsync();
        try
        {
            await using var store = new PostgresStore(database);
            await using var connection = new NpgsqlConnection(database);
            await connection.OpenAsync();
            await using var command = new NpgsqlCommand("SELECT * FROM no_such_table", connection);

            var e = await Assert.ThrowsAsync<PostgresException>(() => command.ExecuteNonQueryAsync());

            Assert.False(store.IsUnavailable(e));
        }
        finally
        {
            await PostgresServer.DropDatabaseAsync(database);
        }
    }
}
