using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Orleans.Hosting;
using OrleansSessions.Tests.Infrastructure;
using static OrleansSessions.Tests.Infrastructure.Answers;
using static OrleansSessions.Tests.Infrastructure.SessionCluster;

namespace OrleansSessions.Tests.Cluster;

/// <summary>
/// Revoke-all and delete-all of an identity's sessions, done through one silo and seen through the other: each is
/// one write of the identity's revocation mark, never a write per session, and reaches each silo once.
/// The identity's sessions are spread over both silos, some held in memory and some evicted; another identity's
/// sessions look on. Each test has a cluster of its own (its store counts calls and can hold a load at a gate).
/// </summary>
public sealed class RevokeAllTests : IAsyncLifetime
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    private readonly RecordingSessionStore _store = new();
    private readonly CallsStarted _started = new();
    private SessionCluster _harness = null!;

    private IGrainFactory SiloA => _harness.Grains(0);

    private IGrainFactory SiloB => _harness.Grains(1);

    public async Task InitializeAsync()
    {
        _harness = await StartAsync(silo =>
        {
            silo.Services.Replace(ServiceDescriptor.Singleton<ISessionStore>(_store));
            silo.Services.Replace(ServiceDescriptor.Singleton<IIdentityStore>(_store));
            silo.AddIncomingGrainCallFilter(_started);
        });
        _store.Inner = _harness.Store;
    }

    public async Task DisposeAsync() => await _harness.DisposeAsync();

    /// <summary>
    /// RevokeSessionsAsync through silo A: the very next whoami through silo B of every revoked session is
    /// Unauthorized (held ones on either silo and evicted ones alike); the excepted session stays Active; the
    /// count is the number of sessions that were active; the store agrees; the other identity is untouched.
    /// </summary>
    [Fact]
    public async Task Revoke_all_through_one_silo_is_seen_through_the_other_and_keeps_the_excepted_session()
    {
        var identity = await CreateIdentityAsync(SiloA);
        var spread = await SpreadAsync(identity.Id);
        var kept = await IssueOnSiloAsync(_harness.Cluster.Silos[1], identity.Id, SessionChannel.Browser);
        var alreadyRevoked = await IssueOnSiloAsync(_harness.Cluster.Silos[0], identity.Id, SessionChannel.Api);
        Assert.True(await SiloA.GetGrain<ISessionGrain>(alreadyRevoked.LookupKey).RevokeAsync());
        var other = await CreateIdentityAsync(SiloB);
        var bystanders = await SpreadAsync(other.Id);
        foreach (var session in spread.All.Concat(bystanders.All).Append(kept))
            Assert.Equal(WhoamiOutcome.Active, (await WhoamiAsync(SiloA, session)).Outcome);
        // The whoamis above loaded the evicted ones again: evict them once more.
        await EvictAsync(spread.Evicted.Concat(bystanders.Evicted));
        _store.ResetCounts();

        var count = await SiloA.GetGrain<IIdentityGrain>(identity.Id).RevokeSessionsAsync(kept.Session);

        var calls = _store.Snapshot();
        // Held ones first (through the silo that did not revoke), before anything else can reload them.
        foreach (var session in spread.Held)
            await AssertUnauthorizedAsync(session, SiloB);
        foreach (var session in spread.All.Append(alreadyRevoked))
            await AssertUnauthorizedAsync(session, SiloB, SiloA);
        Assert.Equal(spread.All.Count, count);
        // One count and one write of the mark: nothing per session.
        Assert.Equal(new Dictionary<string, int>
        {
            [nameof(ISessionStore.CountRevocableSessionsAsync)] = 1,
            [nameof(IIdentityStore.UpdateSessionRevocationAsync)] = 1,
        }, calls);
        Assert.Equal(1, await RevokedRowsAsync(identity.Id)); // alreadyRevoked's own; no session row was written
        await AssertActiveAsync(kept, SiloB, SiloA);
        foreach (var session in bystanders.All)
            await AssertActiveAsync(session, SiloB, SiloA);
        foreach (var session in spread.All)
            Assert.True((await SiloB.GetGrain<ISessionGrain>(session.LookupKey).GetAsync())!.Session.Revoked);
        Assert.False((await SiloB.GetGrain<ISessionGrain>(kept.LookupKey).GetAsync())!.Session.Revoked);

        // The store, as every read sees it: only the excepted session of the identity is active; all of the other identity's are.
        Assert.Equal([kept.Session.Id.ToString()], await ActiveRowsAsync(identity.Id));
        Assert.Equal(bystanders.All.Select(s => s.Session.Id.ToString()).Order(), (await ActiveRowsAsync(other.Id)).Order());

        // Again: nothing is left to revoke but the excepted one, which a revoke without exception takes.
        Assert.Equal(0, await SiloB.GetGrain<IIdentityGrain>(identity.Id).RevokeSessionsAsync(kept.Session));
        Assert.Equal(1, await SiloB.GetGrain<IIdentityGrain>(identity.Id).RevokeSessionsAsync(null));
        await AssertUnauthorizedAsync(kept, SiloA, SiloB);
        Assert.Empty(await ActiveRowsAsync(identity.Id));
        foreach (var session in bystanders.All)
            await AssertActiveAsync(session, SiloA, SiloB);
    }

    /// <summary>
    /// A revoke-all that reaches a session while the session is loading from the store (its row read as still
    /// active, held at a gate): the revoke returns without waiting for the load, and the load answers Unauthorized.
    /// </summary>
    [Fact]
    public async Task Session_told_of_a_revoke_all_while_its_load_is_in_flight_ends_up_revoked()
    {
        var identity = await CreateIdentityAsync(SiloA);
        var loading = await EvictedAsync(identity.Id, silo: 1);
        var held = await IssueOnSiloAsync(_harness.Cluster.Silos[0], identity.Id, SessionChannel.Api);
        var gate = _store.CloseLoad(loading.LookupKey);
        var whoami = WhoamiAsync(SiloB, loading);
        await gate.Entered.WaitAsync(Patience);

        var count = await SiloA.GetGrain<IIdentityGrain>(identity.Id).RevokeSessionsAsync(null).WaitAsync(Patience);

        Assert.Equal(2, count);
        Assert.False(whoami.IsCompleted);
        gate.Open();
        var answer = await whoami.WaitAsync(Patience);
        Assert.Equal(WhoamiOutcome.Unauthorized, answer.Outcome);
        Assert.Null(answer.Body);
        await AssertUnauthorizedAsync(loading, SiloA, SiloB);
        await AssertUnauthorizedAsync(held, SiloB, SiloA);
        Assert.True((await SiloA.GetGrain<ISessionGrain>(loading.LookupKey).GetAsync())!.Session.Revoked);
    }

    /// <summary>
    /// The same for delete-all: the load in flight ends with the session gone, not merely revoked. A GetAsync that
    /// waits on the same load (started before the delete) answers null.
    /// </summary>
    [Fact]
    public async Task Session_told_of_a_delete_all_while_its_load_is_in_flight_ends_up_gone()
    {
        var identity = await CreateIdentityAsync(SiloA);
        var loading = await EvictedAsync(identity.Id, silo: 0);
        var gate = _store.CloseLoad(loading.LookupKey);
        var whoami = WhoamiAsync(SiloA, loading);
        await gate.Entered.WaitAsync(Patience);
        var grain = SiloB.GetGrain<ISessionGrain>(loading.LookupKey);
        var getStarted = _started.NextAsync(grain, nameof(ISessionGrain.GetAsync));
        var get = grain.GetAsync();
        await getStarted.WaitAsync(Patience);

        var deleted = await SiloB.GetGrain<IIdentityGrain>(identity.Id).DeleteSessionsAsync().WaitAsync(Patience);

        Assert.True(deleted);
        Assert.False(whoami.IsCompleted);
        Assert.False(get.IsCompleted);
        gate.Open();
        var answer = await whoami.WaitAsync(Patience);
        Assert.Equal(WhoamiOutcome.Unauthorized, answer.Outcome);
        Assert.Null(answer.Body);
        Assert.Null(await get.WaitAsync(Patience));
        await AssertUnauthorizedAsync(loading, SiloB, SiloA);
        Assert.Null(await SiloB.GetGrain<ISessionGrain>(loading.LookupKey).GetAsync());
    }

    /// <summary>
    /// DeleteSessionsAsync through silo B: every session of the identity (revoked ones too) is gone after one write
    /// of the mark, answers Unauthorized and GetAsync null through both silos; the rows go with the cleanup; a
    /// second call finds nothing and answers false; the other identity is untouched.
    /// </summary>
    [Fact]
    public async Task Delete_all_removes_every_row_and_every_session_answers_unauthorized_through_both_silos()
    {
        var identity = await CreateIdentityAsync(SiloA);
        var spread = await SpreadAsync(identity.Id);
        var revoked = await IssueOnSiloAsync(_harness.Cluster.Silos[1], identity.Id, SessionChannel.Browser);
        Assert.True(await SiloB.GetGrain<ISessionGrain>(revoked.LookupKey).RevokeAsync());
        var other = await CreateIdentityAsync(SiloB);
        var bystanders = await SpreadAsync(other.Id);
        var sessions = spread.All.Append(revoked).ToList();
        _store.ResetCounts();

        Assert.True(await SiloB.GetGrain<IIdentityGrain>(identity.Id).DeleteSessionsAsync());

        // One write of the mark (with the check that there are sessions in it), and no session read or written on its own during the call.
        Assert.Equal(new Dictionary<string, int>
        {
            [nameof(IIdentityStore.UpdateSessionRevocationAsync)] = 1,
        }, _store.Snapshot());
        foreach (var session in spread.Held)
            await AssertUnauthorizedAsync(session, SiloA);
        // The rows stay until the cleanup, which no read waits for.
        Assert.Equal(sessions.Count, (await SqliteRows.RowsOfIdentityAsync(_harness.DatabasePath, identity.Id)).Sessions);
        foreach (var session in sessions)
        {
            await AssertUnauthorizedAsync(session, SiloA, SiloB);
            Assert.Null(await SiloA.GetGrain<ISessionGrain>(session.LookupKey).GetAsync());
            Assert.Null(await SiloB.GetGrain<ISessionGrain>(session.LookupKey).GetAsync());
            Assert.Null(await _harness.Store.FindLookupKeyAsync(session.Session.Id));
        }
        // The identity itself stays.
        Assert.NotNull(await SiloA.GetGrain<IIdentityGrain>(identity.Id).GetAsync());

        Assert.False(await SiloA.GetGrain<IIdentityGrain>(identity.Id).DeleteSessionsAsync());
        Assert.Equal(sessions.Count, await SiloA.GetGrain<ISessionCleanupGrain>(0).RunAsync());
        Assert.Equal(0, (await SqliteRows.RowsOfIdentityAsync(_harness.DatabasePath, identity.Id)).Sessions);
        Assert.Equal(bystanders.All.Count, (await SqliteRows.RowsOfIdentityAsync(_harness.DatabasePath, other.Id)).Sessions);
        foreach (var session in bystanders.All)
            await AssertActiveAsync(session, SiloA, SiloB);
    }

    /// <summary>An identity's sessions on both silos: one held and one evicted on each.</summary>
    private sealed record Spread(IReadOnlyList<IssuedSession> Held, IReadOnlyList<IssuedSession> Evicted)
    {
        public IReadOnlyList<IssuedSession> All => [.. Held, .. Evicted];
    }

    private async Task<Spread> SpreadAsync(Guid identityId)
    {
        var held = new List<IssuedSession>();
        var evicted = new List<IssuedSession>();
        for (var silo = 0; silo < 2; silo++)
        {
            var session = await IssueOnSiloAsync(_harness.Cluster.Silos[silo], identityId, silo == 0 ? SessionChannel.Api : SessionChannel.Browser);
            Assert.Equal(silo, _harness.SiloIndexOf(session.LookupKey));
            held.Add(session);
            evicted.Add(await EvictedAsync(identityId, silo));
        }
        return new Spread(held, evicted);
    }

    /// <summary>A session issued on the silo, then evicted from memory.</summary>
    private async Task<IssuedSession> EvictedAsync(Guid identityId, int silo)
    {
        var session = await IssueOnSiloAsync(_harness.Cluster.Silos[silo], identityId, SessionChannel.Api);
        Assert.Equal(silo, _harness.SiloIndexOf(session.LookupKey));
        await EvictAsync([session]);
        return session;
    }

    private async Task EvictAsync(IEnumerable<IssuedSession> sessions)
    {
        foreach (var session in sessions)
        {
            await _harness.Cluster.DeactivateAsync(SiloA.GetGrain<ISessionGrain>(session.LookupKey));
            Assert.Null(_harness.HostOf(SiloA, session.LookupKey));
        }
    }

    /// <summary>The identity's active sessions as the store reads them (the revocation mark applied).</summary>
    private async Task<List<string>> ActiveRowsAsync(Guid identityId)
    {
        var page = await _harness.Store.ListIdentitySessionsAsync(new IdentitySessionsQuery
        {
            IdentityId = identityId, Offset = 0, Limit = 100, Active = ActiveFilter.Active, Now = _harness.Clock.GetUtcNow(),
        });
        return [.. page.Sessions.Select(v => v.Session.Id.ToString()).Order()];
    }

    /// <summary>Rows of the identity's sessions written revoked on their own (<c>active = 0</c>).</summary>
    private async Task<int> RevokedRowsAsync(Guid identityId) =>
        (await SqliteRows.ColumnAsync(_harness.DatabasePath, "SELECT id FROM sessions WHERE identity_id = $id AND active = 0",
            ("$id", identityId.ToString()))).Count;
}
