using Microsoft.Extensions.Configuration;

namespace OrleansSessions.Storage;

/// <summary>Where the durable store lives (configuration section <c>store</c>).</summary>
public sealed class StoreOptions
{
    public const string Section = "store";

    /// <summary><c>sqlite</c> (embedded, the default).</summary>
    public string Provider { get; set; } = "sqlite";

    /// <summary>Folder of the embedded SQLite file <c>sessions.db</c>.</summary>
    [ConfigurationKeyName("data_directory")]
    public string DataDirectory { get; set; } = "data";

    /// <summary>Apply pending migrations when the node starts (default for the embedded store).</summary>
    [ConfigurationKeyName("migrate_on_start")]
    public bool MigrateOnStart { get; set; } = true;

    public string SqlitePath => Path.Combine(DataDirectory, "sessions.db");
}
