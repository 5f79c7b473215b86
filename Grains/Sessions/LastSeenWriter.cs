using System.Collections.Concurrent;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using OrleansSessions.Storage;

namespace OrleansSessions.Sessions;

/// <summary>
/// Coalesces last-seen times of this silo's sessions (for <c>session.idle_timeout</c>) and writes
/// them in one batch per <see cref="SessionBehaviour.LastSeenWriteInterval"/>, so a whoami never
/// waits on the store. The stored time may lag the real one by up to about two intervals; after
/// an eviction or a crash a session can therefore be judged idle that much early, never late.
/// A batch the store refuses (it cannot be reached, say) is kept for the next flush; whoami never notices.
/// </summary>
public sealed class LastSeenWriter(ISessionStore store, IStoreFailures failures, IOptions<SessionBehaviour> behaviour, TimeProvider clock,
    ILogger<LastSeenWriter> log)
    : BackgroundService
{
    private ConcurrentDictionary<Guid, DateTimeOffset> _pending = new();
    // One flush at a time: when FlushAsync returns, every time recorded before it was called is stored or pending again.
    private readonly SemaphoreSlim _flushing = new(1, 1);

    public void Record(Guid sessionId, DateTimeOffset seenAt) =>
        _pending.AddOrUpdate(sessionId, seenAt, (_, earlier) => earlier > seenAt ? earlier : seenAt);

    /// <summary>Writes what has been recorded since the last flush.</summary>
    public async Task FlushAsync(CancellationToken ct = default)
    {
        // Not cancelled by ct: a stopping host passes a cancelled token, and the flush it waits for ends with the timer's token.
        await _flushing.WaitAsync();
        try
        {
            var batch = Interlocked.Exchange(ref _pending, new ConcurrentDictionary<Guid, DateTimeOffset>());
            if (batch.IsEmpty)
                return;
            try
            {
                await store.WriteLastSeenAsync(batch.ToArray(), ct);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                foreach (var (id, seen) in batch)
                    Record(id, seen);
                if (failures.IsUnavailable(e))
                    log.LogWarning("The store could not be reached ({Error}); {Count} last-seen times are kept for the next attempt", e.Message, batch.Count);
                else
                    log.LogWarning(e, "Writing {Count} last-seen times failed; they are kept for the next attempt", batch.Count);
            }
        }
        finally
        {
            _flushing.Release();
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(behaviour.Value.LastSeenWriteInterval, clock);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
                await FlushAsync(stoppingToken);
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken);
        await FlushAsync(cancellationToken);
    }
}
