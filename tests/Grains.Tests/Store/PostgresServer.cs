using Npgsql;

namespace OrleansSessions.Tests.Store;

/// <summary>
/// The PostgreSQL server the tests run against: <c>ORLEANS_SESSIONS_TEST_POSTGRES</c> is a connection string to
/// a maintenance database on it (test.sh and .ci/run start a throwaway server and set it). Tests create and drop
/// databases of their own there. When the variable is not set the PostgreSQL tests fail; they never skip.
/// </summary>
public static class PostgresServer
{
    public const string Variable = "ORLEANS_SESSIONS_TEST_POSTGRES";

    public static string MaintenanceConnectionString =>
        Environment.GetEnvironmentVariable(Variable) is { Length: > 0 } value
            ? value
            : throw new InvalidOperationException(
                $"{Variable} is not set: the PostgreSQL tests need a PostgreSQL server. Set it to a connection string to a "
                + "maintenance database (e.g. Host=127.0.0.1;Port=5432;Username=postgres;Database=postgres) on a server "
                + "where that role may create databases, or run ./test.sh, which starts a throwaway server.");

    /// <summary>Creates an empty database with a fresh name; its connection string.</summary>
    public static async Task<string> CreateDatabaseAsync()
    {
        var name = $"orleans_sessions_test_{Guid.NewGuid():N}";
        await using (var connection = new NpgsqlConnection(MaintenanceConnectionString))
        {
            await connection.OpenAsync();
            await using var command = new NpgsqlCommand($"CREATE DATABASE \"{name}\"", connection);
            await command.ExecuteNonQueryAsync();
        }
        return new NpgsqlConnectionStringBuilder(MaintenanceConnectionString) { Database = name }.ToString();
    }

    /// <summary>Drops the database of <paramref name="connectionString"/>, closing what is still connected to it.</summary>
    public static async Task DropDatabaseAsync(string connectionString)
    {
        var name = new NpgsqlConnectionStringBuilder(connectionString).Database!;
        await using (var pooled = new NpgsqlConnection(connectionString))
            NpgsqlConnection.ClearPool(pooled);
        await using var connection = new NpgsqlConnection(MaintenanceConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand($"DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)", connection);
        await command.ExecuteNonQueryAsync();
    }

    public static async Task ExecuteAsync(string connectionString, string sql)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync();
    }

    /// <summary>The first column of every row, as text; <c>@id</c> is <paramref name="id"/> as text.</summary>
    public static async Task<List<string>> ColumnAsync(string connectionString, string sql, Guid? id = null)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        if (id is { } value)
            command.Parameters.AddWithValue("id", value.ToString());
        var values = new List<string>();
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
            values.Add(reader.GetValue(0).ToString()!);
        return values;
    }
}
