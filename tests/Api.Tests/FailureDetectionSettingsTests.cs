using Microsoft.Extensions.Options;
using Orleans.Configuration;
using OrleansSessions.Api.Tests.Infrastructure;

namespace OrleansSessions.Api.Tests;

/// <summary>The <c>orleans:</c> failure-detector settings reach Orleans' membership options; unset, Orleans' defaults hold.</summary>
public sealed class FailureDetectionSettingsTests
{
    [Fact]
    public async Task Failure_detector_settings_reach_the_membership_options_and_default_to_orleans_own()
    {
        await using (var tuned = await ServiceNode.StartAsync(new NodeOptions
        {
            ExtraArgs = ["--orleans:probe_timeout=250ms", "--orleans:missed_probes_limit=2", "--orleans:votes_for_death=1", "--orleans:death_vote_expiration=30s"],
        }))
        {
            var options = tuned.Service<IOptions<ClusterMembershipOptions>>().Value;
            Assert.Equal(TimeSpan.FromMilliseconds(250), options.ProbeTimeout);
            Assert.Equal(2, options.NumMissedProbesLimit);
            Assert.Equal(1, options.NumVotesForDeathDeclaration);
            Assert.Equal(TimeSpan.FromSeconds(30), options.DeathVoteExpirationTimeout);
        }

        await using var plain = await ServiceNode.StartAsync();
        var defaults = plain.Service<IOptions<ClusterMembershipOptions>>().Value;
        var orleans = new ClusterMembershipOptions();
        Assert.Equal(orleans.ProbeTimeout, defaults.ProbeTimeout);
        Assert.Equal(orleans.NumMissedProbesLimit, defaults.NumMissedProbesLimit);
        Assert.Equal(orleans.NumVotesForDeathDeclaration, defaults.NumVotesForDeathDeclaration);
        Assert.Equal(orleans.DeathVoteExpirationTimeout, defaults.DeathVoteExpirationTimeout);
    }

    [Theory]
    [InlineData("--orleans:probe_timeout=soon", "orleans:probe_timeout")]
    [InlineData("--orleans:probe_timeout=0", "orleans:probe_timeout")]
    [InlineData("--orleans:missed_probes_limit=0", "orleans:missed_probes_limit")]
    [InlineData("--orleans:votes_for_death=0", "orleans:votes_for_death")]
    public void A_bad_failure_detector_setting_stops_the_node_before_it_is_built(string arg, string key)
    {
        var error = Assert.ThrowsAny<Exception>(() => OrleansSessions.Silo.SessionServiceHost.CreateBuilder([arg]));
        Assert.Contains(key, error.Message);
    }
}
