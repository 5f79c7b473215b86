using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using OrleansSessions.Tests.Infrastructure;
using static OrleansSessions.Tests.Infrastructure.Answers;
using static OrleansSessions.Tests.Infrastructure.SessionCluster;

namespace OrleansSessions.Tests.Cluster;

/// <summary>
/// <c>session.idle_timeout</c>: a session unused for longer answers Unauthorized; last use is kept in memory on
/// every whoami and written in coalesced batches (at most once per write interval per session). Each test starts
/// a cluster of its own, configured as it needs, over a store that records the last-seen writes.
/// </summary>
public sealed class IdleTimeoutTests : IAsyncLifetime
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan IdleTimeout = TimeSpan.FromMinutes(30);
    private static readonly TimeSpan WriteInterval = TimeSpan.FromMinutes(1);

    private readonly RecordingSessionStore _store = new();
    private SessionCluster? _harness;

    private SessionCluster Harness => _harness!;

    private IGrainFactory SiloA => Harness.Grains(0);

    private IGrainFactory SiloB => Harness.Grains(1);

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        if (_harness is not null)
            await _harness.DisposeAsync();
    }

    private async Task StartAsync(TimeSpan? idleTimeout)
    {
        _harness = await SessionCluster.StartAsync(
            silo => silo.Services.Replace(ServiceDescriptor.Singleton<ISessionStore>(_store)),
            behaviour =>
            {
                behaviour.IdleTimeout = idleTimeout;
                behaviour.LastSeenWriteInterval = WriteInterval;
            });
        _store.Inner = Harness.Store;
    }

    /// <summary>Used within the timeout: Active; unused for longer: Unauthorized through both silos, and it stays so.</summary>
    [Fact]
    public async Task A_session_used_within_the_timeout_is_active_and_one_unused_for_longer_is_not()
    {
        await StartAsync(IdleTimeout);
        var identity = await CreateIdentityAsync(SiloA);
        var used = await IssueAsync(SiloA, identity.Id, SessionChannel.Api);
        var unused = await IssueAsync(SiloB, identity.Id, SessionChannel.Browser);

        Harness.Clock.Advance(IdleTimeout - TimeSpan.FromSeconds(1));
        await AssertActiveAsync(used, SiloB);

        Harness.Clock.Advance(TimeSpan.FromSeconds(2));
        await AssertUnauthorizedAsync(unused, SiloA, SiloB);
        await AssertActiveAsync(used, SiloA, SiloB);
        // Not expired and not revoked: only idle.
        var view = await SiloA.GetGrain<ISessionGrain>(unused.LookupKey).GetAsync();
        Assert.False(view!.Session.Revoked);
        Assert.True(view.Session.ExpiresAt > Harness.Clock.GetUtcNow());

        // A whoami refused as idle does not count as use: it stays refused.
        Harness.Clock.Advance(TimeSpan.FromSeconds(1));
        await AssertUnauthorizedAsync(unused, SiloB, SiloA);
    }

    /// <summary>A whoami at 29 minutes keeps the session alive for another 30, and no longer.</summary>
    [Fact]
    public async Task A_whoami_keeps_the_session_alive_for_another_timeout()
    {
        await StartAsync(IdleTimeout);
        var identity = await CreateIdentityAsync(SiloA);
        var issued = await IssueAsync(SiloA, identity.Id, SessionChannel.Api);

        Harness.Clock.Advance(TimeSpan.FromMinutes(29));
        await AssertActiveAsync(issued, SiloB);
        // 58 minutes after issue, 29 after the last use.
        Harness.Clock.Advance(TimeSpan.FromMinutes(29));
        await AssertActiveAsync(issued, SiloA);
        Harness.Clock.Advance(IdleTimeout - TimeSpan.FromSeconds(1));
        await AssertActiveAsync(issued, SiloB);
        Harness.Clock.Advance(IdleTimeout + TimeSpan.FromSeconds(1));
        await AssertUnauthorizedAsync(issued, SiloA, SiloB);
    }

    /// <summary>
    /// FlushAsync writes last_seen_at; a session evicted and reloaded measures idleness from the stored time (it
    /// would be idle if measured from authentication), and one whose last use was never written from authentication.
    /// </summary>
    [Fact]
    public async Task Last_seen_is_written_by_the_flush_and_a_reloaded_session_measures_idleness_from_it()
    {
        await StartAsync(IdleTimeout);
        var identity = await CreateIdentityAsync(SiloA);
        var flushed = await IssueOnSiloAsync(Harness.Cluster.Silos[0], identity.Id, SessionChannel.Api);
        var unwritten = await IssueOnSiloAsync(Harness.Cluster.Silos[1], identity.Id, SessionChannel.Api);
        var issuedAt = flushed.Session.AuthenticatedAt;

        // Within one write interval of issue: used, but not handed to the writer.
        Harness.Clock.Advance(WriteInterval / 2);
        await AssertActiveAsync(unwritten, SiloA);
        Harness.Clock.Advance(TimeSpan.FromMinutes(10));
        var seenAt = Harness.Clock.GetUtcNow();
        var written = _store.LastSeenWrittenAsync(flushed.Session.Id);
        await AssertActiveAsync(flushed, SiloB);
        await Harness.LastSeenWriter(0).FlushAsync();
        await Harness.LastSeenWriter(1).FlushAsync();
        await written.WaitAsync(Patience);

        Assert.Equal(Rfc3339.Truncate(seenAt), (await Harness.Store.FindSessionByLookupKeyAsync(flushed.LookupKey))!.LastSeenAt);
        Assert.Null((await Harness.Store.FindSessionByLookupKeyAsync(unwritten.LookupKey))!.LastSeenAt);
        Assert.Equal(0, _store.LastSeenWritesOf(unwritten.Session.Id));

        await Harness.Cluster.DeactivateAsync(SiloA.GetGrain<ISessionGrain>(flushed.LookupKey));
        await Harness.Cluster.DeactivateAsync(SiloA.GetGrain<ISessionGrain>(unwritten.LookupKey));
        Assert.Null(Harness.HostOf(SiloA, flushed.LookupKey));
        // 35 minutes after issue: 25 after the stored last use.
        Harness.Clock.SetUtcNow(issuedAt + TimeSpan.FromMinutes(35));

        await AssertActiveAsync(flushed, SiloA, SiloB);
        // Its last use (30 s after issue) was never written: after the reload it is judged from authentication,
        // so idle early by at most the write interval (and the flush delay), never late.
        await AssertUnauthorizedAsync(unwritten, SiloB, SiloA);
    }

    /// <summary>
    /// A re-authentication is use: a session re-authenticated after its stored last-seen time, then evicted before
    /// any later use was written, measures idleness after the reload from the re-authentication, not from the
    /// older stored last-seen time.
    /// </summary>
    [Fact]
    public async Task A_reloaded_session_measures_idleness_from_a_re_authentication_newer_than_its_stored_last_seen()
    {
        await StartAsync(IdleTimeout);
        var identity = await CreateIdentityAsync(SiloA);
        var issued = await IssueAsync(SiloA, identity.Id, SessionChannel.Api);
        Harness.Clock.Advance(TimeSpan.FromMinutes(2));
        var written = _store.LastSeenWrittenAsync(issued.Session.Id);
        await AssertActiveAsync(issued, SiloB);
        await Harness.LastSeenWriter(0).FlushAsync();
        await Harness.LastSeenWriter(1).FlushAsync();
        await written.WaitAsync(Patience);

        Harness.Clock.Advance(TimeSpan.FromMinutes(18));
        var again = await SiloA.GetGrain<ISessionGrain>(issued.LookupKey)
            .AuthenticateAgainAsync(new RequestedMethod { Method = "password", Aal = AuthenticatorAssurance.Aal1 }, TimeSpan.FromHours(24));
        Assert.NotNull(again);
        await Harness.Cluster.DeactivateAsync(SiloA.GetGrain<ISessionGrain>(issued.LookupKey));
        Assert.Null(Harness.HostOf(SiloA, issued.LookupKey));

        // 40 minutes after issue, 38 after the stored last use, 20 after the re-authentication.
        Harness.Clock.Advance(TimeSpan.FromMinutes(20));
        await AssertActiveAsync(issued, SiloB, SiloA);
    }

    /// <summary>
    /// Hundreds of whoamis through both silos within one write interval hand each session to the writer at most
    /// once: one stored entry per session per interval, and a handful of batches, not one write per whoami.
    /// </summary>
    [Fact]
    public async Task Many_whoamis_within_one_write_interval_make_at_most_one_write_per_session()
    {
        await StartAsync(IdleTimeout);
        var identity = await CreateIdentityAsync(SiloA);
        var sessions = new List<IssuedSession>();
        for (var i = 0; i < 5; i++)
            sessions.Add(await IssueOnSiloAsync(Harness.Cluster.Silos[i % 2], identity.Id, SessionChannel.Api));
        var whoamis = 0;

        async Task WhoamisWithinOneIntervalAsync()
        {
            // 50 rounds, 1 s apart: 49 s, all within one interval of the first.
            for (var round = 0; round < 50; round++)
            {
                foreach (var session in sessions)
                {
                    await AssertActiveAsync(session, SiloA, SiloB);
                    whoamis += 2;
                }
                Harness.Clock.Advance(TimeSpan.FromSeconds(1));
            }
            await Harness.LastSeenWriter(0).FlushAsync();
            await Harness.LastSeenWriter(1).FlushAsync();
        }

        Harness.Clock.Advance(WriteInterval);
        var written = sessions.Select(s => _store.LastSeenWrittenAsync(s.Session.Id)).ToArray();
        await WhoamisWithinOneIntervalAsync();
        await Task.WhenAll(written).WaitAsync(Patience);

        Assert.Equal(500, whoamis);
        foreach (var session in sessions)
            Assert.Equal(1, _store.LastSeenWritesOf(session.Session.Id));
        // Two silos, each at most one timer tick and one explicit flush within the interval.
        Assert.InRange(_store.Calls(nameof(ISessionStore.WriteLastSeenAsync)), 1, 4);

        // The next interval: one more each.
        Harness.Clock.Advance(WriteInterval);
        written = sessions.Select(s => _store.LastSeenWrittenAsync(s.Session.Id, times: 2)).ToArray();
        await WhoamisWithinOneIntervalAsync();
        await Task.WhenAll(written).WaitAsync(Patience);
        foreach (var session in sessions)
            Assert.Equal(2, _store.LastSeenWritesOf(session.Session.Id));
    }

    /// <summary>Without an idle timeout, nothing is handed to the writer and nothing is written, however much it is used.</summary>
    [Fact]
    public async Task Without_an_idle_timeout_no_last_seen_is_written()
    {
        await StartAsync(null);
        var identity = await CreateIdentityAsync(SiloA);
        var issued = await IssueAsync(SiloA, identity.Id, SessionChannel.Api);

        for (var i = 0; i < 100; i++)
        {
            Harness.Clock.Advance(TimeSpan.FromSeconds(6));
            await AssertActiveAsync(issued, SiloA, SiloB);
        }
        Harness.Clock.Advance(TimeSpan.FromHours(10));
        await AssertActiveAsync(issued, SiloB, SiloA);
        await Harness.LastSeenWriter(0).FlushAsync();
        await Harness.LastSeenWriter(1).FlushAsync();

        Assert.Equal(0, _store.Calls(nameof(ISessionStore.WriteLastSeenAsync)));
        Assert.Null((await Harness.Store.FindSessionByLookupKeyAsync(issued.LookupKey))!.LastSeenAt);
    }
}
