using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using OrleansSessions.Storage;

namespace OrleansSessions.Sessions;

/// <summary>The cluster's one cleaner of expired and ended sessions and stored login flows (non-reentrant: runs never overlap).</summary>
public sealed class SessionCleanupGrain(ISessionStore store, TimeProvider clock, IOptions<SessionBehaviour> behaviour,
    ILogger<SessionCleanupGrain> log) : Grain, ISessionCleanupGrain
{
    public async Task<int> RunAsync()
    {
        var settings = behaviour.Value;
        var cutoff = clock.GetUtcNow() - settings.CleanupRetention;
        var total = 0;
        int deleted;
        do
        {
            // Small batches keep each write transaction short, so logins and revocations are not held up.
            deleted = await store.DeleteExpiredSessionsAsync(cutoff, settings.CleanupBatchSize);
            total += deleted;
        }
        while (deleted == settings.CleanupBatchSize);
        var ended = 0;
        do
        {
            // Rows no read sees any more: sessions of deleted identities and those a delete-all mark took out.
            deleted = await store.DeleteEndedSessionsAsync(settings.CleanupBatchSize);
            ended += deleted;
        }
        while (deleted == settings.CleanupBatchSize);
        var flows = 0;
        var flowCutoff = clock.GetUtcNow() - settings.LoginFlowLifespan - Login.LoginFlowGrain.KeptAfterExpiry;
        do
        {
            // Stored login flows (PostgreSQL) expired long enough ago that no request is answered 410 for them any more.
            deleted = await store.DeleteGrainStateAsync(Login.LoginStorage.FlowState, flowCutoff, settings.CleanupBatchSize);
            flows += deleted;
        }
        while (deleted == settings.CleanupBatchSize);
        if (flows > 0)
            log.LogInformation("Deleted {Count} stored login flows last changed before {Cutoff}", flows, flowCutoff);
        // Spent TOTP steps matter while their code could be valid; an identity's next code writes its row again.
        var stepCutoff = clock.GetUtcNow() - Identities.IdentityGrain.TotpCodeLifetime;
        while (await store.DeleteGrainStateAsync(Login.LoginStorage.TotpStepState, stepCutoff, settings.CleanupBatchSize) == settings.CleanupBatchSize)
        {
        }
        if (total > 0)
            log.LogInformation("Deleted {Count} sessions that expired before {Cutoff}", total, cutoff);
        if (ended > 0)
            log.LogInformation("Deleted {Count} sessions of deleted identities or deleted all at once", ended);
        return total + ended;
    }
}

/// <summary>Asks the cleanup grain to run once per interval, from every silo; the grain makes sure only one runs at a time.</summary>
public sealed class SessionCleanupScheduler(IGrainFactory grains, TimeProvider clock, TimeSpan interval, ILogger<SessionCleanupScheduler> log)
    : Microsoft.Extensions.Hosting.BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(interval, clock);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                try
                {
                    await grains.GetGrain<ISessionCleanupGrain>(0).RunAsync();
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    log.LogWarning(e, "Session cleanup failed; it runs again in {Interval}", interval);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }
}
