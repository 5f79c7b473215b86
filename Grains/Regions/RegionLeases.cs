namespace OrleansSessions.Regions;

/// <summary>
/// What this silo has heard from each peer region: the newest heartbeat of that region applied to this region's
/// database, written at the peer's time T. A subscription applies a peer's changes in commit order, so everything that
/// peer acknowledged before T is applied here; a revocation acknowledged there after T may not be. This region vouches
/// for a peer's sessions while T is within the lease (<see cref="Vouches"/>), and so no session revoked there more
/// than a lease ago is answered 200 here. Plain: the change feed tells it the beats, the session grain asks it.
/// </summary>
public sealed class RegionLeases
{
    private readonly RegionMap regions;
    private readonly TimeProvider clock;
    private readonly Dictionary<string, long> _heard;

    public RegionLeases(RegionMap regions, TimeProvider clock)
    {
        this.regions = regions;
        this.clock = clock;
        _heard = regions.Peers.ToDictionary(p => p.Name, _ => 0L, StringComparer.Ordinal);
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
        lock (_heard)
        {
            if (_heard.TryGetValue(region, out var known) && beatAt.UtcTicks > known)
                _heard[region] = beatAt.UtcTicks;
        }
    }

    /// <summary>
    /// Whether this region answers from memory for what <paramref name="region"/> owns: always for itself (and without
    /// regions); for a peer while its last beat is within the lease, or always with <c>regions:on_partition = serve</c>.
    /// </summary>
    public bool Vouches(string region)
    {
        if (regions.IsSelf(region) || regions.ServeOnPartition)
            return true;
        long heard;
        lock (_heard)
            if (!_heard.TryGetValue(region, out heard)) return false;
        return clock.GetUtcNow().UtcTicks - heard <= regions.Lease.Ticks;
    }

    /// <summary>How long ago (by this silo's clock) the newest applied beat of each peer was written; null for one never heard.</summary>
    public IReadOnlyDictionary<string, TimeSpan?> Silences()
    {
        var now = clock.GetUtcNow().UtcTicks;
        lock (_heard)
            return _heard.ToDictionary(h => h.Key, h => h.Value == 0 ? (TimeSpan?)null : TimeSpan.FromTicks(now - h.Value), StringComparer.Ordinal);
    }
}
