using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using OrleansSessions.Tests.Infrastructure;
using static OrleansSessions.Tests.Infrastructure.Answers;
using static OrleansSessions.Tests.Infrastructure.SessionCluster;

namespace OrleansSessions.Tests.Cluster;

/// <summary>A two-silo cluster whose session writes and revocation marks can be held at gates (<see cref="GatedSessionStore"/>).</summary>
public abstract class GatedClusterFixture(bool postgres) : IAsyncLifetime
{
    private SessionCluster? _cluster;

    public GatedSessionStore Gates { get; } = new();

    public SessionCluster Cluster => _cluster ?? throw new InvalidOperationException("The cluster has not started.");

    public async Task InitializeAsync()
    {
        _cluster = await StartAsync(silo =>
        {
            silo.Services.Replace(ServiceDescriptor.Singleton<ISessionStore>(Gates));
            silo.Services.Replace(ServiceDescriptor.Singleton<IIdentityStore>(Gates));
        }, postgres: postgres);
        Gates.Inner = _cluster.Store;
    }

    public async Task DisposeAsync()
    {
        if (_cluster is not null)
            await _cluster.DisposeAsync();
    }
}

public sealed class SqliteGatedCluster() : GatedClusterFixture(postgres: false);

public sealed class PostgresGatedCluster() : GatedClusterFixture(postgres: true);

/// <summary>On the embedded store.</summary>
public sealed class SqliteRevokeExtendRaceTests(SqliteGatedCluster fixture) : RevokeExtendRaceTests(fixture), IClassFixture<SqliteGatedCluster>;

/// <summary>On PostgreSQL (a database of its own on the server of <see cref="Store.PostgresServer"/>), where the writes really run at once.</summary>
public sealed class PostgresRevokeExtendRaceTests(PostgresGatedCluster fixture) : RevokeExtendRaceTests(fixture), IClassFixture<PostgresGatedCluster>;

/// <summary>
/// Extend (and re-authentication) racing revoke, revoke-all and delete-all of the same session. Each interleaving
/// is forced with a gate at the store; whatever the order, a revoke that was acknowledged stays revoked, in the
/// store and in memory, and the expiry memory answers is the stored one.
/// </summary>
public abstract class RevokeExtendRaceTests(GatedClusterFixture fixture)
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan Issued = TimeSpan.FromHours(1);
    private static readonly TimeSpan Extended = TimeSpan.FromHours(48);
    // Any session may be extended at once: the race, not Kratos's earliest-extend rule, is under test.
    private static readonly TimeSpan Anytime = TimeSpan.FromDays(3650);

    private SessionCluster Harness => fixture.Cluster;

    private GatedSessionStore Gates => fixture.Gates;

    private IGrainFactory SiloA => Harness.Grains(0);

    private IGrainFactory SiloB => Harness.Grains(1);

    private DateTimeOffset ExtendedExpiry => Rfc3339.Truncate(Rfc3339.Truncate(Harness.Clock.GetUtcNow()) + Extended);

    /// <summary>
    /// Revoke-all has written the identity's mark but not yet told the silos; an extend reaches the session grain in
    /// that gap. Its write finds the session revoked, writes nothing, and the grain answers revoked at once.
    /// </summary>
    [Fact]
    public async Task Extend_between_the_revoke_all_mark_and_its_tell_writes_nothing_and_answers_revoked()
    {
        var (identity, issued) = await HeldSessionAsync();
        var gate = Gates.HoldAfter(nameof(IIdentityStore.UpdateSessionRevocationAsync));
        var revokeAll = SiloB.GetGrain<IIdentityGrain>(identity.Id).RevokeSessionsAsync(null);
        await gate.Entered.WaitAsync(Patience);

        var extended = await ExtendAsync(SiloA, issued).WaitAsync(Patience);

        Assert.NotNull(extended);
        Assert.True(extended.Session.Revoked);
        Assert.Equal(issued.Session.ExpiresAt, extended.Session.ExpiresAt);
        await AssertUnauthorizedAsync(issued, SiloA, SiloB);
        Assert.False(revokeAll.IsCompleted);
        gate.Open();
        Assert.Equal(1, await revokeAll.WaitAsync(Patience));
        await AssertRevokedEverywhereAsync(issued, issued.Session.ExpiresAt);
    }

    /// <summary>
    /// The extend's write is in the store, but the grain has not resumed when revoke-all runs and tells the silos.
    /// The revoke is kept: the grain holds the session revoked, with the expiry the extend stored.
    /// </summary>
    [Fact]
    public async Task Revoke_all_told_while_an_extend_is_writing_keeps_the_session_revoked()
    {
        var (identity, issued) = await HeldSessionAsync();
        var gate = Gates.HoldAfter(nameof(ISessionStore.UpdateSessionExpiryAsync));
        var extend = ExtendAsync(SiloA, issued);
        await gate.Entered.WaitAsync(Patience);

        // The mark reaches the silo's identity standings, not the busy grain (a whoami would queue behind the extend).
        Assert.Equal(1, await SiloB.GetGrain<IIdentityGrain>(identity.Id).RevokeSessionsAsync(null).WaitAsync(Patience));
        Assert.False(extend.IsCompleted);
        gate.Open();

        var extended = await extend.WaitAsync(Patience);
        Assert.NotNull(extended);
        Assert.True(extended.Session.Revoked);
        Assert.Equal(ExtendedExpiry, extended.Session.ExpiresAt);
        await AssertRevokedEverywhereAsync(issued, ExtendedExpiry);
    }

    /// <summary>The extend waits before its write while revoke-all runs whole: the write then finds the session revoked and writes nothing.</summary>
    [Fact]
    public async Task Extend_whose_write_comes_after_revoke_all_writes_nothing()
    {
        var (identity, issued) = await HeldSessionAsync();
        var gate = Gates.HoldBefore(nameof(ISessionStore.UpdateSessionExpiryAsync));
        var extend = ExtendAsync(SiloB, issued);
        await gate.Entered.WaitAsync(Patience);

        Assert.Equal(1, await SiloA.GetGrain<IIdentityGrain>(identity.Id).RevokeSessionsAsync(null).WaitAsync(Patience));
        gate.Open();

        var extended = await extend.WaitAsync(Patience);
        Assert.NotNull(extended);
        Assert.True(extended.Session.Revoked);
        Assert.Equal(issued.Session.ExpiresAt, extended.Session.ExpiresAt);
        await AssertRevokedEverywhereAsync(issued, issued.Session.ExpiresAt);
    }

    /// <summary>
    /// Delete-all (<c>DELETE /admin/identities/{id}/sessions</c>) against an extend, both ways round: the extend
    /// answers null (404) and the session is gone from the store and from memory, never brought back.
    /// </summary>
    [Fact]
    public async Task Extend_racing_delete_all_never_brings_the_session_back()
    {
        // The extend runs between the delete-all mark and its tell.
        var (identity, issued) = await HeldSessionAsync();
        var gate = Gates.HoldAfter(nameof(IIdentityStore.UpdateSessionRevocationAsync));
        var deleteAll = SiloB.GetGrain<IIdentityGrain>(identity.Id).DeleteSessionsAsync();
        await gate.Entered.WaitAsync(Patience);
        Assert.Null(await ExtendAsync(SiloA, issued).WaitAsync(Patience));
        gate.Open();
        Assert.True(await deleteAll.WaitAsync(Patience));
        await AssertGoneAsync(issued);

        // The extend has written; delete-all runs and tells before the extend resumes.
        (identity, issued) = await HeldSessionAsync();
        gate = Gates.HoldAfter(nameof(ISessionStore.UpdateSessionExpiryAsync));
        var extend = ExtendAsync(SiloB, issued);
        await gate.Entered.WaitAsync(Patience);
        Assert.True(await SiloA.GetGrain<IIdentityGrain>(identity.Id).DeleteSessionsAsync().WaitAsync(Patience));
        gate.Open();
        Assert.Null(await extend.WaitAsync(Patience));
        await AssertGoneAsync(issued);
    }

    /// <summary>
    /// A revoke sent while an extend is held before its write queues behind it on the grain; the extend answers the
    /// extended session, then the revoke runs. And the other way round: an extend queued behind a revoke writes
    /// nothing. Either way the session ends revoked, with one expiry in the store and in memory.
    /// </summary>
    [Fact]
    public async Task Revoke_and_extend_of_one_session_are_serialised_and_end_revoked()
    {
        var (_, issued) = await HeldSessionAsync();
        var grain = SiloA.GetGrain<ISessionGrain>(issued.LookupKey);
        var gate = Gates.HoldBefore(nameof(ISessionStore.UpdateSessionExpiryAsync));
        var extend = ExtendAsync(SiloA, issued);
        await gate.Entered.WaitAsync(Patience);
        var revoke = SiloB.GetGrain<ISessionGrain>(issued.LookupKey).RevokeAsync();
        await QueuedAsync(grain, revoke);
        gate.Open();

        var extended = await extend.WaitAsync(Patience);
        Assert.True(await revoke.WaitAsync(Patience));
        Assert.False(extended!.Session.Revoked);
        Assert.Equal(ExtendedExpiry, extended.Session.ExpiresAt);
        await AssertRevokedEverywhereAsync(issued, ExtendedExpiry);

        (_, issued) = await HeldSessionAsync();
        grain = SiloA.GetGrain<ISessionGrain>(issued.LookupKey);
        gate = Gates.HoldBefore(nameof(ISessionStore.RevokeSessionAsync));
        revoke = SiloB.GetGrain<ISessionGrain>(issued.LookupKey).RevokeAsync();
        await gate.Entered.WaitAsync(Patience);
        extend = ExtendAsync(SiloA, issued);
        await QueuedAsync(grain, extend);
        gate.Open();

        Assert.True(await revoke.WaitAsync(Patience));
        extended = await extend.WaitAsync(Patience);
        Assert.True(extended!.Session.Revoked);
        Assert.Equal(issued.Session.ExpiresAt, extended.Session.ExpiresAt);
        await AssertRevokedEverywhereAsync(issued, issued.Session.ExpiresAt);
    }

    /// <summary>
    /// A re-authentication (login again on the same session) has written, and revoke-all tells the session before
    /// the grain resumes: the re-authentication answers null (the caller issues a new session) and the session stays revoked.
    /// </summary>
    [Fact]
    public async Task Revoke_all_told_while_a_reauthentication_is_writing_keeps_the_session_revoked()
    {
        var (identity, issued) = await HeldSessionAsync();
        var gate = Gates.HoldAfter(nameof(ISessionStore.UpdateSessionAuthenticationAsync));
        var again = SiloA.GetGrain<ISessionGrain>(issued.LookupKey)
            .AuthenticateAgainAsync(new RequestedMethod { Method = "password", Aal = AuthenticatorAssurance.Aal1 }, Extended);
        await gate.Entered.WaitAsync(Patience);

        Assert.Equal(1, await SiloB.GetGrain<IIdentityGrain>(identity.Id).RevokeSessionsAsync(null).WaitAsync(Patience));
        gate.Open();

        Assert.Null(await again.WaitAsync(Patience));
        await AssertRevokedEverywhereAsync(issued, ExtendedExpiry);
    }

    /// <summary>
    /// Many sessions, each raced at once by an extend and by a revoke (single, revoke-all or delete-all of its
    /// identity) through both silos, some of them not in memory when the race starts. Every revoke is acknowledged,
    /// and afterwards every session is revoked or gone, in the store, in memory and after a reload, and memory
    /// answers the stored expiry.
    /// </summary>
    [Fact]
    public async Task Many_concurrent_revokes_and_extends_leave_every_session_revoked()
    {
        var silos = new[] { SiloA, SiloB };
        var sessions = new List<(IdentityRecord Identity, IssuedSession Issued, int Kind)>();
        for (var i = 0; i < 12; i++)
        {
            var identity = await CreateIdentityAsync(silos[i % 2]);
            for (var j = 0; j < 4; j++)
                sessions.Add((identity, await IssueAsync(silos[j % 2], identity.Id, SessionChannel.Api, Issued), i % 3));
        }
        foreach (var (_, issued, _) in sessions.Where((_, n) => n % 5 == 0))
            await Harness.Cluster.DeactivateAsync(SiloA.GetGrain<ISessionGrain>(issued.LookupKey));

        var extends = sessions.Select((s, n) => ExtendAsync(silos[n % 2], s.Issued)).ToList();
        var revokes = new List<Task<bool>>();
        foreach (var group in sessions.Select((s, n) => (s, n)).GroupBy(x => x.s.Identity.Id))
        {
            var (identity, _, kind) = group.First().s;
            var other = silos[(group.First().n + 1) % 2];
            revokes.Add(kind switch
            {
                0 => Task.WhenAll(group.Select(x => silos[(x.n + 1) % 2].GetGrain<ISessionGrain>(x.s.Issued.LookupKey).RevokeAsync()))
                    .ContinueWith(t => t.Result.All(r => r), TaskScheduler.Default),
                1 => other.GetGrain<IIdentityGrain>(identity.Id).RevokeSessionsAsync(null).ContinueWith(t => t.Result > 0, TaskScheduler.Default),
                _ => other.GetGrain<IIdentityGrain>(identity.Id).DeleteSessionsAsync(),
            });
        }
        await Task.WhenAll(extends).WaitAsync(Patience);
        Assert.All(await Task.WhenAll(revokes).WaitAsync(Patience), Assert.True);

        foreach (var (identity, issued, kind) in sessions)
        {
            var stored = await Harness.Store.FindSessionByLookupKeyAsync(issued.LookupKey);
            if (kind == 2)
            {
                Assert.Null(stored);
                await AssertGoneAsync(issued);
            }
            else
            {
                Assert.NotNull(stored);
                await AssertRevokedEverywhereAsync(issued, stored.ExpiresAt);
            }
        }
    }

    private async Task<(IdentityRecord Identity, IssuedSession Issued)> HeldSessionAsync()
    {
        var identity = await CreateIdentityAsync(SiloA);
        var issued = await IssueAsync(SiloA, identity.Id, SessionChannel.Api, Issued);
        await AssertActiveAsync(issued, SiloA, SiloB);
        return (identity, issued);
    }

    private static Task<SessionView?> ExtendAsync(IGrainFactory grains, IssuedSession issued) =>
        grains.GetGrain<ISessionGrain>(issued.LookupKey).ExtendAsync(Extended, Anytime);

    /// <summary>Waits until <paramref name="call"/> is queued on <paramref name="grain"/> behind the call it is running.</summary>
    private async Task QueuedAsync(ISessionGrain grain, Task call)
    {
        var deadline = DateTime.UtcNow + Patience;
        while (Harness.WaitingRequests(grain) == 0)
        {
            Assert.False(call.IsCompleted, "The call ran instead of queueing.");
            Assert.True(DateTime.UtcNow < deadline, "The call never queued.");
            await Task.Yield();
        }
    }

    /// <summary>
    /// Revoked in the store; unauthorized on both silos; the grain's view revoked with the stored expiry
    /// (<paramref name="expiresAt"/>); and the same after the session is reloaded from the store.
    /// </summary>
    private async Task AssertRevokedEverywhereAsync(IssuedSession issued, DateTimeOffset expiresAt)
    {
        var stored = await Harness.Store.FindSessionByLookupKeyAsync(issued.LookupKey);
        Assert.NotNull(stored);
        Assert.True(stored.Revoked);
        Assert.Equal(expiresAt, stored.ExpiresAt);
        await AssertUnauthorizedAsync(issued, SiloA, SiloB);
        var held = await SiloB.GetGrain<ISessionGrain>(issued.LookupKey).GetAsync();
        Assert.NotNull(held);
        Assert.True(held.Session.Revoked);
        Assert.Equal(stored.ExpiresAt, held.Session.ExpiresAt);

        await Harness.Cluster.DeactivateAsync(SiloA.GetGrain<ISessionGrain>(issued.LookupKey));
        await AssertUnauthorizedAsync(issued, SiloB, SiloA);
        Assert.Equal(stored.ExpiresAt, (await SiloA.GetGrain<ISessionGrain>(issued.LookupKey).GetAsync())!.Session.ExpiresAt);
    }

    /// <summary>Not in the store, unknown to the grain, unauthorized on both silos.</summary>
    private async Task AssertGoneAsync(IssuedSession issued)
    {
        Assert.Null(await Harness.Store.FindSessionByLookupKeyAsync(issued.LookupKey));
        await AssertUnauthorizedAsync(issued, SiloA, SiloB);
        Assert.Null(await SiloA.GetGrain<ISessionGrain>(issued.LookupKey).GetAsync());
    }
}
