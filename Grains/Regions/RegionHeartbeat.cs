using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;
using OrleansSessions.Storage;

namespace OrleansSessions.Regions;

/// <summary>
/// Each silo writes its region's heartbeat every <see cref="RegionMap.HeartbeatInterval"/>: the row replicates to every
/// peer, where it tells that everything this region committed before it has been applied (<see cref="RegionLeases"/>).
/// One row per region, never moved back; a beat that cannot be written is logged and the next one tried. Each beat
/// also keeps a connection to every peer's database open (<see cref="RegionStores.KeepPeersWarmAsync"/>).
/// </summary>
public sealed class RegionHeartbeat(RegionMap regions, RegionStores stores, IOptions<StoreOptions> store, TimeProvider clock, ILogger<RegionHeartbeat> log)
    : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stopping)
    {
        if (!regions.IsEnabled)
            return;
        await using var database = NpgsqlDataSource.Create(store.Value.ConnectionString!);
        using var timer = new PeriodicTimer(regions.HeartbeatInterval, clock);
        var failing = false;
        var warming = Task.CompletedTask;
        do
        {
            try
            {
                await using var beat = database.CreateCommand("""
                    INSERT INTO region_heartbeats (region, beat_at) VALUES (@region, @at)
                    ON CONFLICT (region) DO UPDATE SET beat_at = excluded.beat_at WHERE region_heartbeats.beat_at < excluded.beat_at
                    """);
                beat.Parameters.AddWithValue("region", regions.SelfName);
                beat.Parameters.AddWithValue("at", UnixMicros.From(clock.GetUtcNow()));
                await beat.ExecuteNonQueryAsync(stopping);
                if (failing)
                    log.LogInformation("Region heartbeat of {Region} is written again.", regions.SelfName);
                failing = false;
                // Never awaited here: a peer that does not answer must not hold back this region's own beat.
                if (warming.IsCompleted)
                    warming = stores.KeepPeersWarmAsync(stopping);
            }
            catch (OperationCanceledException) when (stopping.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e)
            {
                if (!failing)
                    log.LogWarning("Region heartbeat of {Region} could not be written: {Error}", regions.SelfName, e.Message);
                failing = true;
            }
        }
        while (await WaitAsync(timer, stopping));
    }

    private static async Task<bool> WaitAsync(PeriodicTimer timer, CancellationToken stopping)
    {
        try { return await timer.WaitForNextTickAsync(stopping); }
        catch (OperationCanceledException) { return false; }
    }
}
