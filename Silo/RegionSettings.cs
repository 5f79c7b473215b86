using Microsoft.Extensions.Configuration;
using OrleansSessions.Api.Configuration;
using OrleansSessions.Regions;

namespace OrleansSessions.Silo;

/// <summary>
/// Configuration section <c>regions</c>: which region this node belongs to and which other regions there are. Each
/// region is its own Orleans cluster on its own PostgreSQL database; `regions link` connects the databases. Without
/// <c>regions:name</c> there are no regions and nothing changes.
/// </summary>
public sealed class RegionSettings
{
    public const string Section = "regions";

    /// <summary>This region's name: 1 to 30 of [a-z0-9_], starting with a letter (e.g. <c>eu</c>).</summary>
    public string? Name { get; set; }

    /// <summary>The character of [A-Za-z0-9] this region's session tokens start with (after <c>ory_st_</c>); one per region.</summary>
    public string? Code { get; set; }

    /// <summary>How long a region keeps serving, from memory, sessions a peer it no longer hears from could have revoked (Go duration, default 30s).</summary>
    public string Lease { get; set; } = "30s";

    /// <summary>How often each silo writes its region's heartbeat (Go duration, default 1s; at most half the lease).</summary>
    [ConfigurationKeyName("heartbeat_interval")]
    public string HeartbeatInterval { get; set; } = "1s";

    /// <summary><c>fail_closed</c> (default): past the lease, a silent peer's sessions answer 503; <c>serve</c>: they keep answering from memory.</summary>
    [ConfigurationKeyName("on_partition")]
    public string OnPartition { get; set; } = "fail_closed";

    /// <summary>The region that creates the shared cookie key ring and signing keys (default: the first name in ordinal order).</summary>
    [ConfigurationKeyName("keys_from")]
    public string? KeysFrom { get; set; }

    /// <summary>The other regions, by name.</summary>
    public Dictionary<string, PeerSettings> Peers { get; set; } = [];

    public sealed class PeerSettings
    {
        public string? Code { get; set; }

        /// <summary>The peer's database as this region's nodes reach it (Npgsql connection string).</summary>
        [ConfigurationKeyName("connection_string")]
        public string? ConnectionString { get; set; }

        /// <summary>The peer's database as this region's PostgreSQL server reaches it (libpq connection string; default: <see cref="ConnectionString"/>).</summary>
        [ConfigurationKeyName("replication_connection_string")]
        public string? ReplicationConnectionString { get; set; }
    }

    public static RegionMap Read(IConfiguration configuration, bool storeIsPostgres)
    {
        var settings = configuration.GetSection(Section).Get<RegionSettings>() ?? new RegionSettings();
        return settings.ToMap(storeIsPostgres);
    }

    public RegionMap ToMap(bool storeIsPostgres)
    {
        if (string.IsNullOrWhiteSpace(Name))
            return Peers.Count == 0 ? RegionMap.None : throw new InvalidOperationException("regions:peers needs regions:name: the name of this node's region.");
        if (!storeIsPostgres)
            throw new InvalidOperationException("Regions replicate through PostgreSQL: set store:provider=postgres (and store:connection_string) in every region.");
        var self = new Region(Name, CodeOf(Code, $"regions:code"));
        var peers = Peers.Select(p => new PeerRegion(p.Key, CodeOf(p.Value.Code, $"regions:peers:{p.Key}:code"),
            Required(p.Value.ConnectionString, $"regions:peers:{p.Key}:connection_string"),
            p.Value.ReplicationConnectionString is { Length: > 0 } replication ? replication : p.Value.ConnectionString!));
        var serve = OnPartition switch
        {
            "fail_closed" => false,
            "serve" => true,
            _ => throw new InvalidOperationException($"regions:on_partition '{OnPartition}' is not known; use 'fail_closed' or 'serve'."),
        };
        return new RegionMap(self, peers, GoDuration.Parse(Lease, "regions:lease"), GoDuration.Parse(HeartbeatInterval, "regions:heartbeat_interval"), serve, KeysFrom);
    }

    private static char CodeOf(string? code, string key) =>
        code is { Length: 1 } one && char.IsAsciiLetterOrDigit(one[0])
            ? one[0]
            : throw new InvalidOperationException($"{key} must be one character of [A-Za-z0-9] (the first character of that region's session tokens).");

    private static string Required(string? value, string key) =>
        string.IsNullOrWhiteSpace(value) ? throw new InvalidOperationException($"{key} is required.") : value;
}
