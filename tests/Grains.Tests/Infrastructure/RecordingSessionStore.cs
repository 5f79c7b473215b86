using System.Collections.Concurrent;

namespace OrleansSessions.Tests.Infrastructure;

/// <summary>
/// A session store in front of the real one that counts every call by member name, records the last-seen
/// batches written, and can hold a session's load or a cleanup batch at a gate. Every member delegates to <see cref="DelegatingSessionStore.Inner"/>.
/// </summary>
public sealed class RecordingSessionStore : DelegatingSessionStore
{
    private readonly ConcurrentDictionary<string, int> _calls = new();
    private readonly ConcurrentDictionary<string, Gate> _loadGates = new();
    private readonly ConcurrentQueue<KeyValuePair<Guid, DateTimeOffset>[]> _lastSeenBatches = new();
    private readonly List<(Guid Id, int Times, TaskCompletionSource Waiter)> _lastSeenWaiters = [];
    private Gate? _cleanupGate;
    private int _cleanupsInFlight;
    private int _maxCleanupsInFlight;

    /// <summary>How many times <paramref name="member"/> (e.g. <c>nameof(ISessionStore.RevokeSessionAsync)</c>) was called.</summary>
    public int Calls(string member) => _calls.TryGetValue(member, out var n) ? n : 0;

    /// <summary>Every member called so far, with its count.</summary>
    public IReadOnlyDictionary<string, int> Snapshot() => new Dictionary<string, int>(_calls);

    public void ResetCounts() => _calls.Clear();

    /// <summary>The last-seen batches written so far, in order of completion.</summary>
    public IReadOnlyList<KeyValuePair<Guid, DateTimeOffset>[]> LastSeenBatches => [.. _lastSeenBatches];

    /// <summary>How many last-seen entries for <paramref name="sessionId"/> were written, over all batches.</summary>
    public int LastSeenWritesOf(Guid sessionId) => _lastSeenBatches.Sum(batch => batch.Count(e => e.Key == sessionId));

    /// <summary>Completes once <paramref name="times"/> last-seen batches holding <paramref name="sessionId"/> have been written.</summary>
    public Task LastSeenWrittenAsync(Guid sessionId, int times = 1)
    {
        var waiter = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_lastSeenWaiters)
        {
            if (LastSeenWritesOf(sessionId) >= times)
                return Task.CompletedTask;
            _lastSeenWaiters.Add((sessionId, times, waiter));
        }
        return waiter.Task;
    }

    /// <summary>How many cleanup batches have reached the store (counted before any gate).</summary>
    public int CleanupsStarted => Calls(nameof(DeleteExpiredSessionsAsync));

    /// <summary>The largest number of cleanup batches that were ever in the store at once.</summary>
    public int MaxCleanupsInFlight => Volatile.Read(ref _maxCleanupsInFlight);

    /// <summary>The next load of <paramref name="lookupKey"/> reads its row, then waits at the gate.</summary>
    public Gate CloseLoad(string lookupKey) => _loadGates[lookupKey] = new Gate();

    /// <summary>The next cleanup batch waits at the gate before it deletes anything.</summary>
    public Gate CloseCleanup() => _cleanupGate = new Gate();

    private void Count(string member) => _calls.AddOrUpdate(member, 1, (_, n) => n + 1);

    public override Task InsertSessionAsync(string lookupKey, SessionRecord session, CancellationToken ct = default)
    {
        Count(nameof(InsertSessionAsync));
        return Inner.InsertSessionAsync(lookupKey, session, ct);
    }

    public override async Task<SessionRecord?> FindSessionByLookupKeyAsync(string lookupKey, CancellationToken ct = default)
    {
        Count(nameof(FindSessionByLookupKeyAsync));
        var row = await Inner.FindSessionByLookupKeyAsync(lookupKey, ct);
        if (_loadGates.TryRemove(lookupKey, out var gate))
        {
            gate.SignalEntered();
            await gate.Opened;
        }
        return row;
    }

    public override Task<string?> FindLookupKeyAsync(Guid sessionId, CancellationToken ct = default)
    {
        Count(nameof(FindLookupKeyAsync));
        return Inner.FindLookupKeyAsync(sessionId, ct);
    }

    public override Task<int> CountRevocableSessionsAsync(Guid identityId, Guid? except, CancellationToken ct = default)
    {
        Count(nameof(CountRevocableSessionsAsync));
        return Inner.CountRevocableSessionsAsync(identityId, except, ct);
    }

    public override Task<DateTimeOffset?> LatestSessionIssuedAtAsync(Guid identityId, CancellationToken ct = default)
    {
        Count(nameof(LatestSessionIssuedAtAsync));
        return Inner.LatestSessionIssuedAtAsync(identityId, ct);
    }

    public override Task<bool> RevokeSessionAsync(Guid sessionId, DateTimeOffset at, CancellationToken ct = default)
    {
        Count(nameof(RevokeSessionAsync));
        return Inner.RevokeSessionAsync(sessionId, at, ct);
    }

    public override Task<bool> UpdateSessionAuthenticationAsync(SessionRecord session, CancellationToken ct = default)
    {
        Count(nameof(UpdateSessionAuthenticationAsync));
        return Inner.UpdateSessionAuthenticationAsync(session, ct);
    }

    public override Task<bool> UpdateSessionExpiryAsync(Guid sessionId, DateTimeOffset expiresAt, DateTimeOffset updatedAt, CancellationToken ct = default)
    {
        Count(nameof(UpdateSessionExpiryAsync));
        return Inner.UpdateSessionExpiryAsync(sessionId, expiresAt, updatedAt, ct);
    }

    /// <summary>How long the last revocation mark write (revoke-all, delete-all) took in the real store.</summary>
    public TimeSpan LastRevokeAllDuration { get; private set; }

    public override async Task<IdentityWriteOutcome> UpdateSessionRevocationAsync(Guid id, SessionRevocation revocation, long version, long expectedVersion, bool requireSessions,
        CancellationToken ct = default)
    {
        Count(nameof(UpdateSessionRevocationAsync));
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        var outcome = await base.UpdateSessionRevocationAsync(id, revocation, version, expectedVersion, requireSessions, ct);
        LastRevokeAllDuration = System.Diagnostics.Stopwatch.GetElapsedTime(started);
        return outcome;
    }

    public override Task<IReadOnlyList<SessionView>> ListSessionsAsync(SessionListQuery query, CancellationToken ct = default)
    {
        Count(nameof(ListSessionsAsync));
        return Inner.ListSessionsAsync(query, ct);
    }

    public override Task<SessionPage> ListIdentitySessionsAsync(IdentitySessionsQuery query, CancellationToken ct = default)
    {
        Count(nameof(ListIdentitySessionsAsync));
        return Inner.ListIdentitySessionsAsync(query, ct);
    }

    public override async Task WriteLastSeenAsync(IReadOnlyCollection<KeyValuePair<Guid, DateTimeOffset>> lastSeen, CancellationToken ct = default)
    {
        Count(nameof(WriteLastSeenAsync));
        var batch = lastSeen.ToArray();
        await Inner.WriteLastSeenAsync(batch, ct);
        lock (_lastSeenWaiters)
        {
            _lastSeenBatches.Enqueue(batch);
            foreach (var done in _lastSeenWaiters.Where(w => LastSeenWritesOf(w.Id) >= w.Times).ToList())
            {
                _lastSeenWaiters.Remove(done);
                done.Waiter.TrySetResult();
            }
        }
    }

    public override async Task<int> DeleteExpiredSessionsAsync(DateTimeOffset expiredBefore, int batchSize, CancellationToken ct = default)
    {
        Count(nameof(DeleteExpiredSessionsAsync));
        var inFlight = Interlocked.Increment(ref _cleanupsInFlight);
        try
        {
            int seen;
            while ((seen = Volatile.Read(ref _maxCleanupsInFlight)) < inFlight)
                Interlocked.CompareExchange(ref _maxCleanupsInFlight, inFlight, seen);
            if (Interlocked.Exchange(ref _cleanupGate, null) is { } gate)
            {
                gate.SignalEntered();
                await gate.Opened;
            }
            return await Inner.DeleteExpiredSessionsAsync(expiredBefore, batchSize, ct);
        }
        finally
        {
            Interlocked.Decrement(ref _cleanupsInFlight);
        }
    }
}

/// <summary>Holds one store call: <see cref="Entered"/> once it is waiting, and it goes on after <see cref="Open"/>.</summary>
public sealed class Gate
{
    private readonly TaskCompletionSource _entered = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _opened = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public Task Entered => _entered.Task;

    public Task Opened => _opened.Task;

    public void SignalEntered() => _entered.TrySetResult();

    public void Open() => _opened.TrySetResult();
}
