using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;
using OrleansSessions.Identities;
using OrleansSessions.Sessions;
using OrleansSessions.Storage;

namespace OrleansSessions.Regions;

/// <summary>
/// Brings what changed in this region's database to what this silo holds, with regions configured. Another region's
/// writes reach this database by replication (or directly, for rows this region owns); the triggers of migration 0007
/// record each change in <c>region_changes</c>, numbered in commit order, and notify. This service reads the record
/// from where it left off (on each notification, and every second should one be missed) and, in order:
/// a session's change reaches its grain if this silo holds its identity (so, possibly, the session); an identity's
/// change reaches its identity grain, which tells every silo; a peer's heartbeat moves this silo's lease of that peer
/// (<see cref="RegionLeases"/>) only after everything recorded before it was applied. A change that cannot be
/// applied yet is tried again, never skipped: the lease runs out rather than a revocation being lost.
/// </summary>
public sealed class RegionChangeFeed(RegionMap regions, RegionLeases leases, IdentityStandings standings, IGrainFactory grains,
    IOptions<StoreOptions> store, TimeProvider clock, ILogger<RegionChangeFeed> log) : BackgroundService
{
    private const string Channel = "orleans_sessions_changes";
    private const int Batch = 500;
    private static readonly TimeSpan Poll = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan Retention = TimeSpan.FromHours(1);

    private long _applied;
    private long _nextCleanup;

    /// <summary>The number of the last change this silo applied (tests wait on it).</summary>
    public long Applied => Interlocked.Read(ref _applied);

    /// <summary>Completes once the feed has read where to start and the peers' last beats.</summary>
    public Task Started => _started.Task;

    private readonly TaskCompletionSource _started = new(TaskCreationOptions.RunContinuationsAsynchronously);

    protected override async Task ExecuteAsync(CancellationToken stopping)
    {
        if (!regions.IsEnabled)
        {
            _started.TrySetResult();
            return;
        }
        await using var database = NpgsqlDataSource.Create(store.Value.ConnectionString!);
        var started = false;
        while (!stopping.IsCancellationRequested)
        {
            try
            {
                await using var listener = await database.OpenConnectionAsync(stopping);
                await using (var listen = new NpgsqlCommand($"LISTEN {Channel}", listener))
                    await listen.ExecuteNonQueryAsync(stopping);
                if (!started)
                {
                    // A silo starts holding nothing: only what changes from now on can concern it. The peers' beats as
                    // applied so far open their leases.
                    await StartAsync(database, stopping);
                    started = true;
                    _started.TrySetResult();
                }
                while (!stopping.IsCancellationRequested)
                {
                    if (await ApplyBatchAsync(database, stopping) == Batch)
                        continue;
                    await CleanupAsync(database, stopping);
                    await listener.WaitAsync(Poll, stopping);
                }
            }
            catch (OperationCanceledException) when (stopping.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e)
            {
                log.LogWarning("Region change feed: {Error}; reading again from change {Applied} in a second.", e.Message, Applied);
                try { await Task.Delay(Poll, stopping); }
                catch (OperationCanceledException) { return; }
            }
        }
    }

    private async Task StartAsync(NpgsqlDataSource database, CancellationToken ct)
    {
        await using (var last = database.CreateCommand("SELECT COALESCE(MAX(seq), 0) FROM region_changes"))
            Interlocked.Exchange(ref _applied, (long)(await last.ExecuteScalarAsync(ct))!);
        await using var beats = database.CreateCommand("SELECT region, beat_at FROM region_heartbeats");
        await using var reader = await beats.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
            leases.Heard(reader.GetString(0), UnixMicros.To(reader.GetInt64(1)));
    }

    /// <summary>Applies the next changes in order; how many it read.</summary>
    private async Task<int> ApplyBatchAsync(NpgsqlDataSource database, CancellationToken ct)
    {
        var changes = new List<(long Seq, string Kind, string Key, string? IdentityId, string Region, long? Value)>(Batch);
        await using (var read = database.CreateCommand(
            $"SELECT seq, kind, key, identity_id, region, value FROM region_changes WHERE seq > @after ORDER BY seq LIMIT {Batch}"))
        {
            read.Parameters.AddWithValue("after", Applied);
            await using var reader = await read.ExecuteReaderAsync(ct);
            while (await reader.ReadAsync(ct))
                changes.Add((reader.GetInt64(0), reader.GetString(1), reader.GetString(2), reader.IsDBNull(3) ? null : reader.GetString(3),
                    reader.GetString(4), reader.IsDBNull(5) ? null : reader.GetInt64(5)));
        }
        foreach (var change in changes)
        {
            switch (change.Kind)
            {
                case "heartbeat":
                    leases.Heard(change.Region, UnixMicros.To(change.Value!.Value));
                    break;
                case "session" when Guid.TryParse(change.IdentityId, out var identity) && standings.Holds(identity):
                    await grains.GetGrain<ISessionGrain>(change.Key).RefreshAsync();
                    break;
                case "identity" when Guid.TryParse(change.Key, out var identity) && standings.Holds(identity):
                    await grains.GetGrain<IIdentityGrain>(identity).RefreshAsync();
                    break;
            }
            Interlocked.Exchange(ref _applied, change.Seq);
            Telemetry.ServiceTelemetry.RegionChangesApplied.Add(1, new KeyValuePair<string, object?>("kind", change.Kind));
        }
        return changes.Count;
    }

    /// <summary>Every few minutes, the record older than an hour goes (any silo may: deleting twice is harmless).</summary>
    private async Task CleanupAsync(NpgsqlDataSource database, CancellationToken ct)
    {
        var now = clock.GetUtcNow();
        if (now.UtcTicks < _nextCleanup)
            return;
        _nextCleanup = (now + TimeSpan.FromMinutes(5)).UtcTicks;
        await using var delete = database.CreateCommand("DELETE FROM region_changes WHERE recorded_at < @before");
        delete.Parameters.AddWithValue("before", UnixMicros.From(now - Retention));
        await delete.ExecuteNonQueryAsync(ct);
    }
}
