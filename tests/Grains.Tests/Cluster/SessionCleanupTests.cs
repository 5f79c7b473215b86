using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using OrleansSessions.Tests.Infrastructure;
using static OrleansSessions.Tests.Infrastructure.Answers;
using static OrleansSessions.Tests.Infrastructure.SessionCluster;

namespace OrleansSessions.Tests.Cluster;

/// <summary>
/// The cleanup grain deletes, in batches, the sessions that expired longer ago than the retention, and nothing
/// else. Each test has a cluster of its own (cleanup looks at every session in the store), with a batch of 3.
/// </summary>
public sealed class SessionCleanupTests : IAsyncLifetime
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan Retention = TimeSpan.FromHours(24);
    private const int BatchSize = 3;

    private readonly RecordingSessionStore _store = new();
    private SessionCluster _harness = null!;

    private IGrainFactory SiloA => _harness.Grains(0);

    private IGrainFactory SiloB => _harness.Grains(1);

    public async Task InitializeAsync()
    {
        _harness = await StartAsync(
            silo => silo.Services.Replace(ServiceDescriptor.Singleton<ISessionStore>(_store)),
            behaviour =>
            {
                behaviour.CleanupRetention = Retention;
                behaviour.CleanupBatchSize = BatchSize;
            });
        _store.Inner = _harness.Store;
    }

    public async Task DisposeAsync() => await _harness.DisposeAsync();

    /// <summary>
    /// Seven sessions expired long ago go, in three batches (3, 3, 1); sessions expired within the retention,
    /// live ones and a revoked live one stay. A second run finds nothing.
    /// </summary>
    [Fact]
    public async Task Cleanup_deletes_only_sessions_expired_longer_than_the_retention_in_batches()
    {
        var (old, kept) = await SessionsAsync(expiredLongAgo: 7);
        _store.ResetCounts();

        var deleted = await SiloB.GetGrain<ISessionCleanupGrain>(0).RunAsync();

        Assert.Equal(old.Count, deleted);
        Assert.Equal(3, _store.Calls(nameof(ISessionStore.DeleteExpiredSessionsAsync)));
        Assert.Equal(Ids(kept), await AllRowsAsync());
        foreach (var session in old)
            Assert.Null(await _harness.Store.FindLookupKeyAsync(session.Session.Id));

        Assert.Equal(0, await SiloA.GetGrain<ISessionCleanupGrain>(0).RunAsync());
        Assert.Equal(4, _store.Calls(nameof(ISessionStore.DeleteExpiredSessionsAsync)));
        Assert.Equal(kept.Count, (await AllRowsAsync()).Count);
    }

    /// <summary>A number of expired sessions that is a multiple of the batch: one more (empty) batch ends the run.</summary>
    [Fact]
    public async Task Cleanup_of_a_multiple_of_the_batch_size_deletes_them_all()
    {
        var (old, kept) = await SessionsAsync(expiredLongAgo: 2 * BatchSize);
        _store.ResetCounts();

        Assert.Equal(old.Count, await SiloA.GetGrain<ISessionCleanupGrain>(0).RunAsync());

        Assert.Equal(3, _store.Calls(nameof(ISessionStore.DeleteExpiredSessionsAsync)));
        Assert.Equal(Ids(kept), await AllRowsAsync());
    }

    /// <summary>
    /// Two runs asked at once through both silos. The first is held in the store at its first batch until the
    /// second has either queued behind it in the one activation (as it must) or reached the store itself (a second
    /// activation, or a reentrant one): both complete, their counts add up to exactly the sessions there were to
    /// delete, and no two batches were ever in the store at once.
    /// </summary>
    [Fact]
    public async Task Concurrent_runs_through_both_silos_both_complete_and_delete_each_session_once()
    {
        var (old, kept) = await SessionsAsync(expiredLongAgo: 10);
        _store.ResetCounts();
        var gate = _store.CloseCleanup();
        var cleaner = SiloA.GetGrain<ISessionCleanupGrain>(0);

        var first = cleaner.RunAsync();
        await gate.Entered.WaitAsync(Patience);
        var second = SiloB.GetGrain<ISessionCleanupGrain>(0).RunAsync();
        var deadline = DateTime.UtcNow + Patience;
        while (_harness.WaitingRequests(cleaner) == 0 && _store.CleanupsStarted < 2 && !second.IsCompleted)
        {
            Assert.True(DateTime.UtcNow < deadline, "The second run neither queued nor ran.");
            await Task.Yield();
        }
        Assert.False(first.IsCompleted);
        Assert.False(second.IsCompleted);
        Assert.Equal(1, _store.CleanupsStarted);
        gate.Open();
        var counts = await Task.WhenAll(first, second).WaitAsync(Patience);

        Assert.Equal(old.Count, counts.Sum());
        Assert.Equal([0, old.Count], counts.Order());
        Assert.Equal(1, _store.MaxCleanupsInFlight);
        Assert.Equal(Ids(kept), await AllRowsAsync());
        foreach (var session in kept.Where(s => s.Session.ExpiresAt > _harness.Clock.GetUtcNow()).SkipLast(1))
            await AssertActiveAsync(session, SiloA, SiloB);
        await AssertUnauthorizedAsync(kept[^1], SiloA, SiloB);
    }

    /// <summary>
    /// Issues <paramref name="expiredLongAgo"/> sessions that will have expired longer than the retention ago,
    /// two that will have expired within it, two live ones and a revoked live one (last), then moves the clock 50 hours.
    /// </summary>
    private async Task<(List<IssuedSession> Old, List<IssuedSession> Kept)> SessionsAsync(int expiredLongAgo)
    {
        var identity = await CreateIdentityAsync(SiloA);
        var old = new List<IssuedSession>();
        var kept = new List<IssuedSession>();
        for (var i = 0; i < expiredLongAgo; i++)
            old.Add(await IssueAsync(_harness.Grains(i % 2), identity.Id, SessionChannel.Api, TimeSpan.FromHours(1)));
        for (var i = 0; i < 2; i++)
            kept.Add(await IssueAsync(SiloB, identity.Id, SessionChannel.Api, TimeSpan.FromHours(40)));
        for (var i = 0; i < 2; i++)
            kept.Add(await IssueAsync(SiloA, identity.Id, SessionChannel.Browser, TimeSpan.FromHours(100)));
        var revoked = await IssueAsync(SiloB, identity.Id, SessionChannel.Api, TimeSpan.FromHours(100));
        Assert.True(await SiloA.GetGrain<ISessionGrain>(revoked.LookupKey).RevokeAsync());
        kept.Add(revoked);

        // Now − retention = issue + 26 h: the 1 h sessions expired 25 h before it, the 40 h ones 14 h after it.
        _harness.Clock.Advance(TimeSpan.FromHours(50));
        return (old, kept);
    }

    private async Task<List<string>> AllRowsAsync() =>
        [.. (await SqliteRows.ColumnAsync(_harness.DatabasePath, "SELECT id FROM sessions")).Order(StringComparer.Ordinal)];

    private static List<string> Ids(IEnumerable<IssuedSession> sessions) => [.. sessions.Select(s => s.Session.Id.ToString()).Order(StringComparer.Ordinal)];
}
