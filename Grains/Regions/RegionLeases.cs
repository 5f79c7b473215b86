namespace OrleansSessions.Regions;

/// <summary>
/// What this silo has heard from each peer region: the newest heartbeat of that region applied to this region's
/// database, written at the peer's time T. A subscription applies a peer's changes in commit order, so everything that
/// peer acknowledged before T is applied here; a revocation acknowledged there after T may not be. This region vouches
/// for a peer's sessions while T is within the lease (<see cref="Vouches"/>), and so no session revoked there more
/// than a lease ago is answered 200 here. Plain: the change feed tells it the beats, the session grain asks it, on
/// every whoami of another region's session, without a lock (one read of a number per region).
/// </summary>
public sealed class RegionLeases
{
    private readonly RegionMap _regions;
    private readonly TimeProvider _clock;
    // Peer names in the map's order, and the newest beat applied of each (UTC ticks; 0: never heard).
    private readonly string[] _peers;
    private readonly long[] _heard;

    public RegionLeases(RegionMap regions, TimeProvider clock)
    {
        _regions = regions;
        _clock = clock;
        _peers = [.. regions.Peers.Select(p => p.Name)];
        _heard = new long[_peers.Length];
        if (regions.IsEnabled)
            // How stale this silo's view of each peer is: past regions:lease, that peer's sessions answer 503 here.
            Telemetry.ServiceTelemetry.Meter.CreateObservableGauge("orleans_sessions.region.heard_age", () =>
                Silences().Select(s => new System.Diagnostics.Metrics.Measurement<double>(s.Value?.TotalSeconds ?? double.PositiveInfinity,
                    new KeyValuePair<string, object?>("peer", s.Key))),
                unit: "s", description: "Age of the newest heartbeat of each peer region applied here");
    }

    /// <summary>A beat of <paramref name="region"/> written at <paramref name="beatAt"/> (its clock) was applied here; an older one changes nothing.</summary>
    public void Heard(string region, DateTimeOffset beatAt)
    {
        var i = IndexOf(region);
        if (i < 0)
            return;
        long known;
        while (beatAt.UtcTicks > (known = Volatile.Read(ref _heard[i])) && Interlocked.CompareExchange(ref _heard[i], beatAt.UtcTicks, known) != known)
        {
        }
    }

    /// <summary>
    /// Whether this region answers from memory for what <paramref name="region"/> owns: always for itself (and without
    /// regions); for a peer while its last beat is within the lease, or always with <c>regions:on_partition = serve</c>.
    /// </summary>
    public bool Vouches(string region)
    {
        if (_regions.IsSelf(region) || _regions.ServeOnPartition)
            return true;
        var i = IndexOf(region);
        if (i < 0)
            return false;
        var heard = Volatile.Read(ref _heard[i]);
        return heard != 0 && _clock.GetUtcNow().UtcTicks - heard <= _regions.Lease.Ticks;
    }

    /// <summary>How long ago (by this silo's clock) the newest applied beat of each peer was written; null for one never heard.</summary>
    public IReadOnlyDictionary<string, TimeSpan?> Silences()
    {
        var now = _clock.GetUtcNow().UtcTicks;
        var silences = new Dictionary<string, TimeSpan?>(StringComparer.Ordinal);
        for (var i = 0; i < _peers.Length; i++)
        {
            var heard = Volatile.Read(ref _heard[i]);
            silences[_peers[i]] = heard == 0 ? null : TimeSpan.FromTicks(now - heard);
        }
        return silences;
    }

    // A handful of peers: a scan of interned names is cheaper than hashing.
    private int IndexOf(string region)
    {
        for (var i = 0; i < _peers.Length; i++)
            if (ReferenceEquals(_peers[i], region) || _peers[i] == region)
                return i;
        return -1;
    }
}
