using Microsoft.Extensions.Configuration;

namespace OrleansSessions.Storage;

/// <summary>Where the durable store lives (configuration section <c>store</c>).</summary>
public sealed class StoreOptions
{
    public const string Section = "store";

    public const string Sqlite = "sqlite";
    public const string Postgres = "postgres";

    /// <summary><c>sqlite</c> (embedded, the default) or <c>postgres</c> (clusters; needs <see cref="ConnectionString"/>).</summary>
    public string Provider { get; set; } = Sqlite;

    /// <summary>Npgsql connection string of the PostgreSQL database (<c>store:connection_string</c>), for <c>postgres</c>.</summary>
    [ConfigurationKeyName("connection_string")]
    public string? ConnectionString { get; set; }

    /// <summary>Folder of the embedded SQLite file <c>sessions.db</c>.</summary>
    [ConfigurationKeyName("data_directory")]
    public string DataDirectory { get; set; } = "data";

    /// <summary>Apply pending migrations when the node starts (default for the embedded store).</summary>
    [ConfigurationKeyName("migrate_on_start")]
    public bool MigrateOnStart { get; set; } = true;

    public string SqlitePath => Path.Combine(DataDirectory, "sessions.db");

    public bool IsPostgres => string.Equals(Provider, Postgres, StringComparison.OrdinalIgnoreCase);

    /// <summary>Throws a clear message for an unknown provider or a missing PostgreSQL connection string.</summary>
    public void Validate()
    {
        if (!IsPostgres && !string.Equals(Provider, Sqlite, StringComparison.OrdinalIgnoreCase))
            throw new InvalidOperationException($"store:provider '{Provider}' is not supported; use 'sqlite' or 'postgres'.");
        if (IsPostgres && string.IsNullOrWhiteSpace(ConnectionString))
            throw new InvalidOperationException("store:connection_string is required when store:provider is 'postgres'.");
    }

    /// <summary><paramref name="text"/> with the connection string's password, should it appear, masked.</summary>
    public string WithoutPassword(string text)
    {
        if (!IsPostgres || string.IsNullOrEmpty(ConnectionString))
            return text;
        var password = new Npgsql.NpgsqlConnectionStringBuilder(ConnectionString).Password;
        return string.IsNullOrEmpty(password) ? text : text.Replace(password, "***", StringComparison.Ordinal);
    }

    /// <summary>The store these options name (validate first); the caller disposes it.</summary>
    public RelationalStore Open(string region = "") =>
        IsPostgres ? new PostgresStore(ConnectionString!) { Region = region } : new SqliteStore(SqlitePath) { Region = region };

    /// <summary>Where the store is, for messages (never the connection string's password).</summary>
    public string Describe()
    {
        if (!IsPostgres)
            return Path.GetFullPath(SqlitePath);
        var b = new Npgsql.NpgsqlConnectionStringBuilder(ConnectionString);
        return $"postgres://{b.Host}:{b.Port}/{b.Database}";
    }
}
