using System.Collections.Immutable;
using OrleansSessions.Sessions;

namespace OrleansSessions.Regions;

/// <summary>One region as this node knows it: its name (in row filters and replication names) and the character that opens its tokens.</summary>
public sealed record Region(string Name, char Code);

/// <summary>
/// Another region: where its database is, as this region's nodes reach it (<see cref="ConnectionString"/>: reads of
/// what has not replicated yet, writes of what that region owns) and as this region's PostgreSQL server reaches it
/// (<see cref="ReplicationConnectionString"/>: the subscription to its publication).
/// </summary>
public sealed record PeerRegion(string Name, char Code, string ConnectionString, string ReplicationConnectionString);

/// <summary>
/// The regions of a deployment as one node sees them: its own and its peers, each its own Orleans cluster on its own
/// PostgreSQL database. <see cref="None"/> (no <c>regions:name</c>) is one region as the service has always been: rows
/// carry region <c>''</c>, tokens are 32 random characters, nothing is replicated. Plain: no Orleans and no database in it.
/// </summary>
public sealed class RegionMap
{
    public static readonly RegionMap None = new(null, [], TimeSpan.Zero, TimeSpan.Zero, serveOnPartition: false, keyRegion: null);

    private readonly Region?[] _byCode = new Region?[128];

    public RegionMap(Region? self, IEnumerable<PeerRegion> peers, TimeSpan lease, TimeSpan heartbeatInterval, bool serveOnPartition, string? keyRegion)
    {
        Self = self;
        Peers = [.. peers.OrderBy(p => p.Name, StringComparer.Ordinal)];
        Lease = lease;
        HeartbeatInterval = heartbeatInterval;
        ServeOnPartition = serveOnPartition;
        if (self is null)
        {
            if (!Peers.IsEmpty) throw new InvalidOperationException("regions:peers needs regions:name: the name of this node's region.");
            KeyRegion = "";
            return;
        }
        var all = new List<Region> { self };
        all.AddRange(Peers.Select(p => new Region(p.Name, p.Code)));
        foreach (var region in all)
        {
            if (!IsValidName(region.Name))
                throw new InvalidOperationException($"Region name '{region.Name}' is not valid: use 1 to 30 of [a-z0-9_], starting with a letter.");
            if (!char.IsAsciiLetterOrDigit(region.Code))
                throw new InvalidOperationException($"The code of region '{region.Name}' must be one of [A-Za-z0-9].");
            if (_byCode[region.Code] is { } taken)
                throw new InvalidOperationException($"Regions '{taken.Name}' and '{region.Name}' have the same code '{region.Code}': each region's tokens need their own.");
            _byCode[region.Code] = region;
        }
        var names = all.Select(r => r.Name).ToList();
        if (names.Distinct(StringComparer.Ordinal).Count() != names.Count)
            throw new InvalidOperationException($"Region '{self.Name}' is listed among its own peers.");
        KeyRegion = keyRegion is { Length: > 0 } named
            ? names.Contains(named) ? named : throw new InvalidOperationException($"regions:keys_from '{named}' is neither this region nor one of its peers.")
            : names.Min(StringComparer.Ordinal)!;
        if (lease <= TimeSpan.Zero) throw new InvalidOperationException("regions:lease must be a positive duration.");
        if (heartbeatInterval <= TimeSpan.Zero || heartbeatInterval * 2 > lease)
            throw new InvalidOperationException("regions:heartbeat_interval must be positive and at most half of regions:lease.");
    }

    /// <summary>This node's region; null when no regions are configured.</summary>
    public Region? Self { get; }

    public bool IsEnabled => Self is not null;

    /// <summary>What rows written here record as their region: the region's name, <c>''</c> without regions.</summary>
    public string SelfName => Self?.Name ?? "";

    public ImmutableArray<PeerRegion> Peers { get; }

    /// <summary>How long this region serves, from memory, what a silent peer could have revoked.</summary>
    public TimeSpan Lease { get; }

    /// <summary>How often each silo writes its region's heartbeat.</summary>
    public TimeSpan HeartbeatInterval { get; }

    /// <summary><c>regions:on_partition = serve</c>: keep answering a silent peer's sessions past the lease (availability over the bound).</summary>
    public bool ServeOnPartition { get; }

    /// <summary>The region whose nodes create the shared key rings (cookies, tokenizer); the others use what replicates from it.</summary>
    public string KeyRegion { get; }

    /// <summary>Whether this region creates keys: always without regions.</summary>
    public bool CreatesKeys => !IsEnabled || KeyRegion == Self!.Name;

    public PeerRegion? Peer(string name)
    {
        foreach (var peer in Peers)
            if (peer.Name == name) return peer;
        return null;
    }

    /// <summary>
    /// Whether <paramref name="region"/> (a row's region) is this one. <c>''</c> always is: a row written before regions
    /// were configured is this region's (`regions link` records it so, and a copy read before that still says <c>''</c>).
    /// </summary>
    public bool IsSelf(string region) => region.Length == 0 || region == SelfName;

    /// <summary>A new session token: with regions its first character after the prefix is this region's code.</summary>
    public string NewToken() => SessionToken.New(Self?.Code);

    /// <summary>The region a well-formed token says issued it, without a lookup; null without regions or for a code no region has.</summary>
    public Region? HomeOf(ReadOnlySpan<char> token) =>
        token.Length != SessionToken.Length ? null : RegionOfCode(SessionToken.RegionCode(token));

    /// <summary>The region whose tokens open with <paramref name="code"/>; null without regions or for a code no region has.</summary>
    public Region? RegionOfCode(char code) => Self is null || code >= 128 ? null : _byCode[code];

    public static bool IsValidName(string name) =>
        name.Length is >= 1 and <= 30 && char.IsAsciiLetterLower(name[0]) && name.All(c => char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c == '_');
}
