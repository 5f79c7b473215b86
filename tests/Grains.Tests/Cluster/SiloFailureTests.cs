using Orleans.Configuration;
using OrleansSessions.Tests.Infrastructure;
using static OrleansSessions.Tests.Infrastructure.SessionCluster;

namespace OrleansSessions.Tests.Cluster;

/// <summary>
/// A silo that holds sessions dies without warning. Memory is only a cache of the store, so the surviving
/// silo answers the same sessions, reloaded from the store. Each test has a cluster of its own, since it
/// kills a silo of it.
/// </summary>
public sealed class SiloFailureTests : IAsyncLifetime
{
    private SessionCluster? _harness;

    private SessionCluster Harness => _harness!;

    public async Task InitializeAsync() =>
        // As Orleans' own SilosStopTests: one missed probe and one vote declare a silo dead, so that
        // WaitForLivenessToStabilizeAsync returns soon after the kill.
        _harness = await StartAsync(silo => silo.Configure<ClusterMembershipOptions>(o =>
        {
            o.NumMissedProbesLimit = 1;
            o.NumVotesForDeathDeclaration = 1;
            o.TableRefreshTimeout = TimeSpan.FromSeconds(2);
        }));

    public async Task DisposeAsync()
    {
        if (_harness is not null)
            await _harness.DisposeAsync();
    }

    /// <summary>
    /// The session (and its identity) live on the second silo; it is killed; the first silo answers the
    /// session as Active with exactly the body the dead silo rendered.
    /// </summary>
    [Fact]
    public async Task Session_survives_the_kill_of_its_silo_reloaded_from_the_store()
    {
        // Silos[0] is the first silo the repository's convention keeps alive ("membership is kept on the
        // primary"); the session is placed on Silos[1], which is the one killed.
        var (survivor, doomed) = (Harness.Cluster.Silos[0], Harness.Cluster.Silos[1]);
        var identity = await CreateIdentityAsync(Grains(survivor));
        var issued = await IssueOnSiloAsync(doomed, identity.Id, SessionChannel.Api);
        var before = await Grains(survivor).GetGrain<ISessionGrain>(issued.LookupKey).WhoamiAsync(SessionChannel.Api, false);
        Assert.Equal(WhoamiOutcome.Active, before.Outcome);
        Assert.Equal(doomed.SiloAddress, Harness.HostOf(Grains(survivor), issued.LookupKey));

        await KillAsync(doomed);

        var after = await Grains(survivor).GetGrain<ISessionGrain>(issued.LookupKey).WhoamiAsync(SessionChannel.Api, false);
        Assert.Equal(WhoamiOutcome.Active, after.Outcome);
        Assert.Equal(before.Body!.ToArray(), after.Body!.ToArray());
        Assert.Equal(before.IdentityId, after.IdentityId);
        Assert.Equal(before.ExpiresAt, after.ExpiresAt);
        // A new activation, on the survivor: the answer came from the store, not from the dead silo's memory.
        Assert.Equal(survivor.SiloAddress, Harness.HostOf(Grains(survivor), issued.LookupKey));
        var view = await Grains(survivor).GetGrain<ISessionGrain>(issued.LookupKey).GetAsync();
        Assert.NotNull(view);
        SessionClusterTests.AssertSameSession(issued.Session, view.Session);
        Assert.Equal(identity, view.Identity);
    }

    /// <summary>A session revoked before its silo dies is still revoked when the survivor reloads it.</summary>
    [Fact]
    public async Task Revoked_session_stays_revoked_after_the_kill_of_its_silo()
    {
        var (survivor, doomed) = (Harness.Cluster.Silos[0], Harness.Cluster.Silos[1]);
        var identity = await CreateIdentityAsync(Grains(survivor));
        var revoked = await IssueOnSiloAsync(doomed, identity.Id, SessionChannel.Browser);
        var kept = await IssueOnSiloAsync(doomed, identity.Id, SessionChannel.Browser);
        Assert.True(await Grains(doomed).GetGrain<ISessionGrain>(revoked.LookupKey).RevokeAsync());
        Assert.Equal(doomed.SiloAddress, Harness.HostOf(Grains(survivor), revoked.LookupKey));
        Assert.Equal(doomed.SiloAddress, Harness.HostOf(Grains(survivor), kept.LookupKey));

        await KillAsync(doomed);

        var answer = await Grains(survivor).GetGrain<ISessionGrain>(revoked.LookupKey).WhoamiAsync(SessionChannel.Browser, false);
        Assert.Equal(WhoamiOutcome.Unauthorized, answer.Outcome);
        Assert.Null(answer.Body);
        Assert.Equal(survivor.SiloAddress, Harness.HostOf(Grains(survivor), revoked.LookupKey));
        var view = await Grains(survivor).GetGrain<ISessionGrain>(revoked.LookupKey).GetAsync();
        Assert.NotNull(view);
        Assert.True(view.Session.Revoked);
        // The other session of the same identity, on the same dead silo, is still active.
        Assert.Equal(WhoamiOutcome.Active,
            (await Grains(survivor).GetGrain<ISessionGrain>(kept.LookupKey).WhoamiAsync(SessionChannel.Browser, false)).Outcome);
    }

    private async Task KillAsync(Orleans.TestingHost.InProcessSiloHandle silo)
    {
        await Harness.Cluster.KillSiloAsync(silo);
        // Completes once every remaining silo (and the test client) sees the dead silo as dead.
        await Harness.Cluster.WaitForLivenessToStabilizeAsync(didKill: true);
        Assert.Single(Harness.Cluster.Silos);
    }
}
