using Microsoft.Extensions.Logging;
using OrleansSessions.Identities;
using OrleansSessions.Storage;

namespace OrleansSessions.Sessions;

/// <summary>
/// Runs <see cref="IRevokeEveryoneGrain"/>'s job: a grain timer takes one page of identities per tick, in id order,
/// and revokes each one's sessions; a page that fails (the store unreachable, say) is tried again on the next tick
/// from the same place. The job lives in this activation: if its silo dies, the job stops where it was, its status is
/// gone, and starting it again goes through every identity again (revoking twice is harmless).
/// </summary>
public sealed class RevokeEveryoneGrain(IIdentityStore identities, TimeProvider clock, ILogger<RevokeEveryoneGrain> log)
    : Grain, IRevokeEveryoneGrain
{
    /// <summary>Identities per tick: each is one grain call and, with sessions, one write.</summary>
    private const int PageSize = 100;

    private RevokeEveryoneStatus? _status;
    private Guid? _after;
    private IGrainTimer? _timer;
    private TaskCompletionSource _finished = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public Task<RevokeEveryoneStatus> StartAsync()
    {
        if (_status is { Running: true } running)
            return Task.FromResult(running);
        _status = new RevokeEveryoneStatus { StartedAt = clock.GetUtcNow() };
        _after = null;
        _finished = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        log.LogWarning("Revoking every session of every identity, started {StartedAt:O}", _status.StartedAt);
        // KeepAlive: the activation is not collected while the job runs; ticks never overlap (no interleaving).
        _timer = this.RegisterGrainTimer(NextPageAsync,
            new GrainTimerCreationOptions { DueTime = TimeSpan.Zero, Period = TimeSpan.FromMilliseconds(1), KeepAlive = true });
        return Task.FromResult(_status);
    }

    public Task<RevokeEveryoneStatus?> StatusAsync() => Task.FromResult(_status);

    public async Task<RevokeEveryoneStatus?> WaitAsync(TimeSpan timeout)
    {
        try
        {
            await _finished.Task.WaitAsync(timeout);
        }
        catch (TimeoutException)
        {
        }
        return _status;
    }

    private async Task NextPageAsync(CancellationToken cancellation)
    {
        if (_status is not { Running: true } status)
            return;
        try
        {
            var page = await identities.ListIdentitiesAsync(PageSize, _after, cancellation);
            foreach (var identity in page)
            {
                var revoked = await GrainFactory.GetGrain<IIdentityGrain>(identity.Id).RevokeSessionsAsync(except: null);
                // Progress is kept per identity: a page that fails half way is not counted twice when tried again.
                _after = identity.Id;
                status = status with { Identities = status.Identities + 1, SessionsRevoked = status.SessionsRevoked + revoked, LastError = null };
                _status = status;
            }
            if (page.Count < PageSize)
                Finish(status with { FinishedAt = clock.GetUtcNow() });
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            _status = status with { LastError = e.GetType().Name };
            log.LogWarning(e, "Revoking every session: a page of identities after {After} failed; it is tried again", _after);
        }
    }

    private void Finish(RevokeEveryoneStatus status)
    {
        _status = status;
        _timer?.Dispose();
        _timer = null;
        log.LogWarning("Revoked every session of every identity: {Identities} identities, {Sessions} sessions, started {StartedAt:O}",
            status.Identities, status.SessionsRevoked, status.StartedAt);
        _finished.TrySetResult();
    }
}
