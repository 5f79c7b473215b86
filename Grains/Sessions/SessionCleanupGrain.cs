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
        var now = clock.GetUtcNow();
        // Small batches keep each write transaction short, so logins and revocations are not held up.
        async Task<int> InBatches(Func<int, Task<int>> delete)
        {
            var total = 0;
            int deleted;
            do
            {
                deleted = await delete(settings.CleanupBatchSize);
                total += deleted;
            }
            while (deleted == settings.CleanupBatchSize);
            return total;
        }

        var cutoff = now - settings.CleanupRetention;
        var expired = await InBatches(batch => store.DeleteExpiredSessionsAsync(cutoff, batch));
        // Rows no read sees any more: sessions of deleted identities and those a delete-all mark took out.
        var ended = await InBatches(batch => store.DeleteEndedSessionsAsync(batch));
        // Stored login flows (PostgreSQL) expired long enough ago that no request is answered 410 for them any more.
        var flowCutoff = now - settings.LoginFlowLifespan - Login.LoginFlowGrain.KeptAfterExpiry;
        var flows = await InBatches(batch => store.DeleteGrainStateAsync(Login.LoginStorage.FlowState, flowCutoff, batch));
        // Spent TOTP steps matter while their code could be valid; an identity's next code writes its row again.
        await InBatches(batch => store.DeleteGrainStateAsync(Login.LoginStorage.TotpStepState, now - Identities.IdentityGrain.TotpCodeLifetime, batch));
        if (expired > 0)
            log.LogInformation("Deleted {Count} sessions that expired before {Cutoff}", expired, cutoff);
        if (ended > 0)
            log.LogInformation("Deleted {Count} sessions of deleted identities or deleted all at once", ended);
        if (flows > 0)
            log.LogInformation("Deleted {Count} stored login flows last changed before {Cutoff}", flows, flowCutoff);
        return expired + ended;
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
