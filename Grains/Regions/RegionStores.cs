using OrleansSessions.Storage;

namespace OrleansSessions.Regions;

/// <summary>
/// Which database a row is read from and written to. This region's own store for everything of this region (and for
/// everything, without regions); a peer's database, reached directly, for a write of a row that peer owns (a row is
/// written only in its home region's database, so replication never meets two writers of one row) and for a read
/// of what has not replicated here yet. One pool per peer, opened once.
/// </summary>
public sealed class RegionStores : IAsyncDisposable
{
    private readonly RegionMap _regions;
    // Each peer's database: the store (its pool), and the same store timed and traced as the own one is.
    private readonly Dictionary<string, (PostgresStore Store, ISessionStore Sessions, IIdentityStore Identities)> _peers = new(StringComparer.Ordinal);

    public RegionStores(RegionMap regions, ISessionStore sessions, IIdentityStore identities)
    {
        _regions = regions;
        Own = sessions;
        OwnIdentities = identities;
        foreach (var peer in regions.Peers)
        {
            var store = new PostgresStore(peer.ConnectionString);
            _peers[peer.Name] = (store, InstrumentedStore.Wrap<ISessionStore>(store), InstrumentedStore.Wrap<IIdentityStore>(store));
        }
    }

    public ISessionStore Own { get; }

    public IIdentityStore OwnIdentities { get; }

    /// <summary>Whether rows of <paramref name="region"/> are this region's (every row, without regions).</summary>
    public bool IsOwn(string region) => _regions.IsSelf(region);

    /// <summary>The store that owns rows of <paramref name="region"/>: this region's own for its own rows (and for <c>''</c>).</summary>
    public ISessionStore Sessions(string region) =>
        _regions.IsSelf(region) ? Own : _peers.TryGetValue(region, out var peer) ? peer.Sessions : throw UnknownRegion(region);

    public IIdentityStore Identities(string region) =>
        _regions.IsSelf(region) ? OwnIdentities : _peers.TryGetValue(region, out var peer) ? peer.Identities : throw UnknownRegion(region);

    /// <summary>
    /// The database of the peer a token's region <paramref name="code"/> names (where its session is before it replicates
    /// here); null for this region's code, without regions, or for a code no region has.
    /// </summary>
    public ISessionStore? PeerSessionsOfCode(char code) =>
        _regions.RegionOfCode(code) is { } region && !_regions.IsSelf(region.Name) ? Sessions(region.Name) : null;

    /// <summary>
    /// One query to each peer's database, so that its pool holds an open connection: the first read of a session issued
    /// there then costs one round trip, not a connection's handshakes. A peer that does not answer is left for the next time.
    /// </summary>
    public async Task KeepPeersWarmAsync(CancellationToken ct)
    {
        foreach (var (store, _, _) in _peers.Values)
        {
            try { await store.ProbeAsync(ct); }
            catch (Exception e) when (e is not OperationCanceledException) { }
        }
    }

    private static InvalidOperationException UnknownRegion(string region) =>
        new($"A row belongs to region '{region}', which is neither this region nor one of regions:peers.");

    public async ValueTask DisposeAsync()
    {
        foreach (var (store, _, _) in _peers.Values)
            await store.DisposeAsync();
    }
}
