using Microsoft.Data.Sqlite;

namespace OrleansSessions.Tests.Infrastructure;

/// <summary>Reads a store's rows directly, around the store's own code, as ground truth for a test.</summary>
public static class SqliteRows
{
    /// <summary>The first column of the first row of <paramref name="sql"/> as a number.</summary>
    public static async Task<long> ScalarAsync(string databasePath, string sql, params (string Name, object Value)[] parameters)
    {
        await using var connection = new SqliteConnection($"Data Source={databasePath};Pooling=False");
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        foreach (var (name, value) in parameters)
            command.Parameters.AddWithValue(name, value);
        return (long)(await command.ExecuteScalarAsync())!;
    }

    /// <summary>The first column of every row of <paramref name="sql"/>, as text.</summary>
    public static async Task<List<string>> ColumnAsync(string databasePath, string sql, params (string Name, object Value)[] parameters)
    {
        await using var connection = new SqliteConnection($"Data Source={databasePath};Pooling=False");
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        foreach (var (name, value) in parameters)
            command.Parameters.AddWithValue(name, value);
        var values = new List<string>();
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
            values.Add(reader.GetValue(0).ToString()!);
        return values;
    }

    /// <summary>Rows that still name the identity: its own row, its credentials, its identifiers and its sessions.</summary>
    public static async Task<(long Identities, long Credentials, long Identifiers, long Sessions)> RowsOfIdentityAsync(string databasePath, Guid identityId)
    {
        var id = ("$id", (object)identityId.ToString());
        return (
            await ScalarAsync(databasePath, "SELECT COUNT(*) FROM identities WHERE id = $id", id),
            await ScalarAsync(databasePath, "SELECT COUNT(*) FROM identity_credentials WHERE identity_id = $id", id),
            await ScalarAsync(databasePath, "SELECT COUNT(*) FROM identity_identifiers WHERE identity_id = $id", id),
            await ScalarAsync(databasePath, "SELECT COUNT(*) FROM sessions WHERE identity_id = $id", id));
    }
}
