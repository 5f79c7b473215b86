using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Orleans.Hosting;
using OrleansSessions.Tests.Infrastructure;
using static OrleansSessions.Tests.Infrastructure.Answers;
using static OrleansSessions.Tests.Infrastructure.SessionCluster;

namespace OrleansSessions.Tests.Cluster;

/// <summary>
/// Revoke-all and delete-all of an identity's sessions, done through one silo and seen through the other.
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

        var count = await SiloA.GetGrain<IIdentityGrain>(identity.Id).RevokeSessionsAsync(kept.Session.Id);

        var calls = _store.Snapshot();
        // Held ones first (through the silo that did not revoke), before anything else can reload them.
        foreach (var session in spread.Held)
            await AssertUnauthorizedAsync(session, SiloB);
        foreach (var session in spread.All.Append(alreadyRevoked))
            await AssertUnauthorizedAsync(session, SiloB, SiloA);
        Assert.Equal(spread.All.Count, count);
        Assert.Equal(new Dictionary<string, int> { [nameof(ISessionStore.RevokeIdentitySessionsAsync)] = 1 }, calls);
        await AssertActiveAsync(kept, SiloB, SiloA);
        foreach (var session in bystanders.All)
            await AssertActiveAsync(session, SiloB, SiloA);
        foreach (var session in spread.All)
            Assert.True((await SiloB.GetGrain<ISessionGrain>(session.LookupKey).GetAsync())!.Session.Revoked);
        Assert.False((await SiloB.GetGrain<ISessionGrain>(kept.LookupKey).GetAsync())!.Session.Revoked);

        // The store: only the excepted session of the identity is active; all of the other identity's are.
        Assert.Equal([kept.Session.Id.ToString()], await ActiveRowsAsync(identity.Id));
        Assert.Equal(bystanders.All.Select(s => s.Session.Id.ToString()).Order(), (await ActiveRowsAsync(other.Id)).Order());

        // Again: nothing is left to revoke but the excepted one, which a revoke without exception takes.
        Assert.Equal(0, await SiloB.GetGrain<IIdentityGrain>(identity.Id).RevokeSessionsAsync(kept.Session.Id));
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

        var count = await SiloB.GetGrain<IIdentityGrain>(identity.Id).DeleteSessionsAsync().WaitAsync(Patience);

        Assert.Equal(1, count);
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
    /// DeleteSessionsAsync through silo B: every session of the identity (revoked ones too) is deleted in one
    /// statement, answers Unauthorized and GetAsync null through both silos; the count is how many rows it
    /// deleted; a second call deletes nothing and returns 0; the other identity is untouched.
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

        var count = await SiloB.GetGrain<IIdentityGrain>(identity.Id).DeleteSessionsAsync();

        // One statement, and no session read or written on its own during the call.
        Assert.Equal(new Dictionary<string, int> { [nameof(ISessionStore.DeleteIdentitySessionsAsync)] = 1 }, _store.Snapshot());
        foreach (var session in spread.Held)
            await AssertUnauthorizedAsync(session, SiloA);
        Assert.Equal(sessions.Count, count);
        Assert.Equal(0, (await SqliteRows.RowsOfIdentityAsync(_harness.DatabasePath, identity.Id)).Sessions);
        foreach (var session in sessions)
        {
            await AssertUnauthorizedAsync(session, SiloA, SiloB);
            Assert.Null(await SiloA.GetGrain<ISessionGrain>(session.LookupKey).GetAsync());
            Assert.Null(await SiloB.GetGrain<ISessionGrain>(session.LookupKey).GetAsync());
            Assert.Null(await _harness.Store.FindLookupKeyAsync(session.Session.Id));
        }
        // The identity itself stays.
        Assert.NotNull(await SiloA.GetGrain<IIdentityGrain>(identity.Id).GetAsync());

        Assert.Equal(0, await SiloA.GetGrain<IIdentityGrain>(identity.Id).DeleteSessionsAsync());
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

    private Task<List<string>> ActiveRowsAsync(Guid identityId) =>
        SqliteRows.ColumnAsync(_harness.DatabasePath, "SELECT id FROM sessions WHERE identity_id = $id AND active = 1 ORDER BY id",
            ("$id", identityId.ToString()));
}
