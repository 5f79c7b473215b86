using Orleans.Configuration;
using OrleansSessions.Tests.Infrastructure;
using static OrleansSessions.Tests.Infrastructure.Answers;
using static OrleansSessions.Tests.Infrastructure.SessionCluster;

namespace OrleansSessions.Tests.Cluster;

/// <summary>On the embedded store.</summary>
public sealed class SqliteRevocationMarkTests() : RevocationMarkTests(postgres: false);

/// <summary>On PostgreSQL (a database of its own per test).</summary>
public sealed class PostgresRevocationMarkTests() : RevocationMarkTests(postgres: true);

/// <summary>
/// Revoke-all as one revocation mark on the identity: what it reaches and what it does not, racing issuance,
/// across a silo restart and a silo's death. Each test has a two-silo cluster of its own (some kill a silo).
/// The fake clock stands still unless a test moves it, so issuance and revocation happen at the same instant:
/// the order between them must come from the identity grain, not from the clock.
/// </summary>
public abstract class RevocationMarkTests(bool postgres) : IAsyncLifetime
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    private SessionCluster _harness = null!;

    private IGrainFactory SiloA => _harness.Grains(0);

    private IGrainFactory SiloB => _harness.Grains(1);

    public async Task InitializeAsync() =>
        // One missed probe and one vote declare a silo dead (as SiloFailureTests), so a killed silo leaves soon.
        _harness = await StartAsync(silo => silo.Configure<ClusterMembershipOptions>(o =>
        {
            o.NumMissedProbesLimit = 1;
            o.NumVotesForDeathDeclaration = 1;
            o.TableRefreshTimeout = TimeSpan.FromSeconds(2);
        }), postgres: postgres);

    public async Task DisposeAsync() => await _harness.DisposeAsync();

    /// <summary>
    /// With the clock standing still, a session issued right after a revoke-all is active, and the next revoke-all
    /// takes it; the admin listing's <c>active</c> and totals agree with whoami on both silos.
    /// </summary>
    [Fact]
    public async Task A_session_issued_after_a_revoke_all_at_the_same_instant_is_active_and_the_next_one_takes_it()
    {
        var identity = await CreateIdentityAsync(SiloA);
        var first = await IssueAsync(SiloA, identity.Id, SessionChannel.Api);

        Assert.Equal(1, await SiloB.GetGrain<IIdentityGrain>(identity.Id).RevokeSessionsAsync(null));
        var second = await IssueAsync(SiloB, identity.Id, SessionChannel.Api);

        await AssertUnauthorizedAsync(first, SiloA, SiloB);
        await AssertActiveAsync(second, SiloA, SiloB);
        Assert.True(second.Session.IssuedAt > first.Session.IssuedAt);
        Assert.Equal([second.Session.Id], await ListedAsync(identity.Id, ActiveFilter.Active));
        Assert.Equal([first.Session.Id], await ListedAsync(identity.Id, ActiveFilter.Inactive));

        Assert.Equal(1, await SiloA.GetGrain<IIdentityGrain>(identity.Id).RevokeSessionsAsync(null));
        var third = await IssueAsync(SiloA, identity.Id, SessionChannel.Browser);

        await AssertUnauthorizedAsync(second, SiloB, SiloA);
        await AssertActiveAsync(third, SiloB, SiloA);
        Assert.Equal([third.Session.Id], await ListedAsync(identity.Id, ActiveFilter.Active));
        Assert.Equal(2, (await ListedAsync(identity.Id, ActiveFilter.Inactive)).Count);
    }

    /// <summary>
    /// Issuances running while a revoke-all runs: every session issued before the call started is revoked, every
    /// one issued after it returned is active, and each one issued meanwhile is one or the other, the same on both
    /// silos, after a reload and in the store; the count is what it revoked.
    /// </summary>
    [Fact]
    public async Task Revoke_all_racing_issuance_revokes_what_came_before_and_never_what_comes_after()
    {
        var identity = await CreateIdentityAsync(SiloA);
        var silos = new[] { SiloA, SiloB };
        var before = new List<IssuedSession>();
        for (var i = 0; i < 6; i++)
            before.Add(await IssueAsync(silos[i % 2], identity.Id, SessionChannel.Api));

        var during = Enumerable.Range(0, 24).Select(i => IssueAsync(silos[i % 2], identity.Id, SessionChannel.Api)).ToList();
        var count = await SiloB.GetGrain<IIdentityGrain>(identity.Id).RevokeSessionsAsync(null).WaitAsync(Patience);
        var after = new List<IssuedSession>();
        for (var i = 0; i < 6; i++)
            after.Add(await IssueAsync(silos[i % 2], identity.Id, SessionChannel.Api));
        var raced = await Task.WhenAll(during).WaitAsync(Patience);

        foreach (var session in before)
            await AssertUnauthorizedAsync(session, SiloA, SiloB);
        foreach (var session in after)
            await AssertActiveAsync(session, SiloA, SiloB);
        var revokedMeanwhile = 0;
        foreach (var session in raced)
        {
            var outcome = (await WhoamiAsync(SiloA, session)).Outcome;
            Assert.Equal(outcome, (await WhoamiAsync(SiloB, session)).Outcome);
            await _harness.Cluster.DeactivateAsync(SiloA.GetGrain<ISessionGrain>(session.LookupKey));
            Assert.Equal(outcome, (await WhoamiAsync(SiloB, session)).Outcome);
            Assert.Equal(outcome == WhoamiOutcome.Unauthorized, (await _harness.Store.FindSessionByLookupKeyAsync(session.LookupKey))!.Revoked);
            if (outcome == WhoamiOutcome.Unauthorized)
                revokedMeanwhile++;
        }
        Assert.Equal(before.Count + revokedMeanwhile, count);
    }

    /// <summary>
    /// A session whose issuance time is ahead of this node's clock (issued by a node whose clock runs ahead, or
    /// before this clock stepped back) is still reached by a revoke-all made now: the mark reaches the latest
    /// issuance the store has, read when the identity grain activates.
    /// </summary>
    [Fact]
    public async Task Revoke_all_reaches_a_session_issued_by_a_clock_that_runs_ahead()
    {
        var identity = await CreateIdentityAsync(SiloA);
        var issued = await IssueAsync(SiloA, identity.Id, SessionChannel.Api);
        var ahead = Rfc3339.Truncate(_harness.Clock.GetUtcNow()).AddMinutes(5);
        var token = SessionToken.New();
        var early = issued.Session with
        {
            Id = Guid.NewGuid(), IssuedAt = ahead, CreatedAt = ahead, UpdatedAt = ahead,
            AuthenticatedAt = ahead, ExpiresAt = ahead.AddDays(1),
        };
        await _harness.Store.InsertSessionAsync(early);
        var fromAhead = new IssuedSession(token, early.TestKey, issued.Result with { Issued = new SessionView { Session = early, Identity = issued.Identity } });
        await AssertActiveAsync(fromAhead, SiloA, SiloB);
        await _harness.Cluster.DeactivateAsync(SiloA.GetGrain<IIdentityGrain>(identity.Id));

        Assert.Equal(2, await SiloB.GetGrain<IIdentityGrain>(identity.Id).RevokeSessionsAsync(null));
        var next = await IssueAsync(SiloB, identity.Id, SessionChannel.Api);

        await AssertUnauthorizedAsync(fromAhead, SiloA, SiloB);
        await AssertUnauthorizedAsync(issued, SiloA, SiloB);
        await AssertActiveAsync(next, SiloA, SiloB);
        Assert.True(next.Session.IssuedAt > ahead);
    }

    /// <summary>
    /// Revoke-all, then the silo that held the identity's sessions restarts: every revoked session loads revoked on
    /// either silo, the excepted one and a later one stay active, and a revoke-all after the restart reaches
    /// sessions held by the restarted silo.
    /// </summary>
    [Fact]
    public async Task Revocations_hold_across_a_silo_restart_and_reach_the_restarted_silo()
    {
        var identity = await CreateIdentityAsync(SiloA);
        var (keeper, restarted) = (_harness.Cluster.Silos[0], _harness.Cluster.Silos[1]);
        var kept = await IssueOnSiloAsync(restarted, identity.Id, SessionChannel.Browser);
        var revoked = new[] { await IssueOnSiloAsync(restarted, identity.Id, SessionChannel.Api), await IssueOnSiloAsync(keeper, identity.Id, SessionChannel.Api) };

        Assert.Equal(2, await Grains(keeper).GetGrain<IIdentityGrain>(identity.Id).RevokeSessionsAsync(kept.Session));
        var later = await IssueOnSiloAsync(keeper, identity.Id, SessionChannel.Api);
        await _harness.Cluster.RestartSiloAsync(restarted);
        await _harness.Cluster.WaitForLivenessToStabilizeAsync();
        var silos = _harness.Cluster.Silos.Select(Grains).ToArray();

        foreach (var session in revoked)
            await AssertUnauthorizedAsync(session, silos);
        await AssertActiveAsync(kept, silos);
        await AssertActiveAsync(later, silos);

        // Sessions now held by the restarted silo are reached by the next revoke-all too.
        var onRestarted = await IssueOnSiloAsync(_harness.Cluster.Silos[^1], identity.Id, SessionChannel.Api);
        await AssertActiveAsync(onRestarted, silos);
        Assert.Equal(3, await silos[0].GetGrain<IIdentityGrain>(identity.Id).RevokeSessionsAsync(null));
        foreach (var session in new[] { kept, later, onRestarted })
            await AssertUnauthorizedAsync(session, silos.Reverse().ToArray());
    }

    /// <summary>
    /// A silo dies holding sessions of the identity; a revoke-all made through the survivor is acknowledged (the
    /// dead silo is not waited for once the cluster has declared it dead) and every session, reloaded on the
    /// survivor, answers Unauthorized.
    /// </summary>
    [Fact]
    public async Task Revoke_all_after_a_silo_died_is_acknowledged_and_seen_by_the_survivor()
    {
        var identity = await CreateIdentityAsync(SiloA);
        var (survivor, doomed) = (_harness.Cluster.Silos[0], _harness.Cluster.Silos[1]);
        var sessions = new[]
        {
            await IssueOnSiloAsync(doomed, identity.Id, SessionChannel.Api), await IssueOnSiloAsync(doomed, identity.Id, SessionChannel.Browser),
            await IssueOnSiloAsync(survivor, identity.Id, SessionChannel.Api),
        };
        foreach (var session in sessions)
            await AssertActiveAsync(session, Grains(survivor), Grains(doomed));

        await _harness.Cluster.KillSiloAsync(doomed);
        await _harness.Cluster.WaitForLivenessToStabilizeAsync(didKill: true);

        Assert.Equal(sessions.Length, await Grains(survivor).GetGrain<IIdentityGrain>(identity.Id).RevokeSessionsAsync(null).WaitAsync(Patience));
        foreach (var session in sessions)
            await AssertUnauthorizedAsync(session, Grains(survivor));
    }

    private async Task<List<Guid>> ListedAsync(Guid identityId, ActiveFilter filter)
    {
        var page = await SiloA.GetGrain<ISessionCatalogGrain>(0).ListForIdentityAsync(new IdentitySessionsQuery
        {
            IdentityId = identityId, Offset = 0, Limit = 100, Active = filter, Now = _harness.Clock.GetUtcNow(),
        });
        Assert.Equal(page.Sessions.Length, page.Total);
        Assert.All(page.Sessions, v => Assert.Equal(filter == ActiveFilter.Active, v.Session.IsActiveAt(_harness.Clock.GetUtcNow(), v.Identity)));
        return [.. page.Sessions.Select(v => v.Session.Id)];
    }
}
