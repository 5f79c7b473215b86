using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using OrleansSessions.Tests.Infrastructure;

namespace OrleansSessions.Tests.Cluster;

/// <summary>
/// A silo joining and leaving the cluster moves no other silo's sessions: Orleans' distributed grain directory hands
/// the directory ranges over (its default directory deactivated every activation registered on a leaving silo, a
/// graceful leave too, and each came back with a store read on its next whoami).
/// </summary>
public sealed class DirectoryHandOverTests : IAsyncLifetime
{
    private readonly CountingStore _counting = new();
    private SessionCluster _cluster = null!;

    public async Task InitializeAsync()
    {
        _cluster = await SessionCluster.StartAsync(silo =>
        {
            silo.Services.Replace(ServiceDescriptor.Singleton<ISessionStore>(_counting));
            silo.Services.Replace(ServiceDescriptor.Singleton<IIdentityStore>(_counting));
        });
        _counting.Inner = _cluster.Store;
    }

    public async Task DisposeAsync() => await _cluster.DisposeAsync();

    [Fact]
    public async Task A_silo_that_joins_and_then_leaves_gracefully_takes_no_session_of_the_others_with_it()
    {
        var sessions = await _cluster.IssueSpreadAsync(40);
        var activations = Activations(sessions);
        Assert.Equal(2, activations.Values.Select(a => a.Address.SiloAddress).Distinct().Count());
        var lookupsBefore = _counting.LookupReads;

        var joined = await _cluster.Cluster.StartAdditionalSiloAsync();
        await _cluster.Cluster.WaitForLivenessToStabilizeAsync();
        // Through the new silo: it owns part of the directory now, and finds every session where it was.
        await AssertAllActiveAsync(SessionCluster.Grains(joined), sessions);
        Assert.Equal(activations, Activations(sessions));

        await _cluster.Cluster.StopSiloAsync(joined);
        await _cluster.Cluster.WaitForLivenessToStabilizeAsync();
        await AssertAllActiveAsync(_cluster.Grains(0), sessions);
        await AssertAllActiveAsync(_cluster.Grains(1), sessions);

        Assert.Equal(activations, Activations(sessions));
        Assert.Equal(lookupsBefore, _counting.LookupReads);
    }

    /// <summary>Each session's activation (the object itself: a deactivated and re-created one is another).</summary>
    private Dictionary<string, IGrainContext> Activations(IEnumerable<IssuedSession> sessions) =>
        sessions.ToDictionary(s => s.LookupKey, s =>
            _cluster.Cluster.TryGetGrainContext(_cluster.Grains(0).GetGrain<ISessionGrain>(s.LookupKey).GetGrainId(), out var context)
                ? context
                : throw new Xunit.Sdk.XunitException($"Session {s.Session.Id} has no activation."));

    private static async Task AssertAllActiveAsync(IGrainFactory grains, IEnumerable<IssuedSession> sessions)
    {
        foreach (var session in sessions)
            Assert.Equal(WhoamiOutcome.Active, (await grains.GetGrain<ISessionGrain>(session.LookupKey).WhoamiAsync(SessionChannel.Api, false)).Outcome);
    }
}
