using OrleansSessions.Tests.Infrastructure;
using static OrleansSessions.Tests.Infrastructure.SessionCluster;

namespace OrleansSessions.Tests.Cluster;

/// <summary>
/// <see cref="SessionGrainReferences.SessionGrain"/> resolves the grain and interface types once; its reference must be
/// the one <c>GetGrain&lt;ISessionGrain&gt;</c> gives, on every silo, and reach the same activation.
/// </summary>
public sealed class SessionGrainReferencesTests(SessionClusterFixture fixture) : IClassFixture<SessionClusterFixture>
{
    [Fact]
    public async Task The_reference_equals_GetGrain_and_reaches_the_same_session_on_both_silos()
    {
        var harness = fixture.Cluster;
        var identity = await CreateIdentityAsync(harness.Grains(0));
        var issued = await IssueAsync(harness.Grains(0), identity.Id, SessionChannel.Api, TimeSpan.FromHours(1));

        for (var silo = 0; silo < 2; silo++)
        {
            var grains = harness.Grains(silo);
            var resolved = (GrainReference)grains.SessionGrain(issued.LookupKey);
            var expected = (GrainReference)grains.GetGrain<ISessionGrain>(issued.LookupKey);
            Assert.Equal(expected.GrainId, resolved.GrainId);
            Assert.Equal(expected.InterfaceType, resolved.InterfaceType);
            Assert.Equal(expected, resolved);

            var answer = await ((ISessionGrain)resolved).WhoamiAsync(SessionChannel.Api, requireHighestAal: false);
            Assert.Equal(WhoamiOutcome.Active, answer.Outcome);
            Assert.Equal(issued.Session.Id, (await ((ISessionGrain)resolved).GetAsync())!.Session.Id);
        }
    }
}
