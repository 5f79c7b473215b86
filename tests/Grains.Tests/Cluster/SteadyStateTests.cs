using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using OrleansSessions.Tests.Infrastructure;

namespace OrleansSessions.Tests.Cluster;

/// <summary>The hot path in steady state: no store access, and the answer written from what is held (the session record, the silo's identity JSON), nothing rendered kept per session.</summary>
public sealed class SteadyStateTests : IAsyncLifetime
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
    public async Task Whoami_in_steady_state_reads_nothing_from_the_store_and_answers_from_what_is_held()
    {
        var identity = await SessionCluster.CreateIdentityAsync(_cluster.Grains(0));
        var issued = await SessionCluster.IssueAsync(_cluster.Grains(0), identity.Id, SessionChannel.Api);
        var host = _cluster.HostOf(_cluster.Grains(0), issued.LookupKey)!;
        var local = SessionCluster.Grains(_cluster.Cluster.Silos.Single(s => s.SiloAddress.Equals(host)));
        var remote = SessionCluster.Grains(_cluster.Cluster.Silos.Single(s => !s.SiloAddress.Equals(host)));
        var readsBefore = _counting.Reads;

        var first = await local.GetGrain<ISessionGrain>(issued.LookupKey).WhoamiAsync(SessionChannel.Api, false);
        for (var i = 0; i < 200; i++)
        {
            var again = await local.GetGrain<ISessionGrain>(issued.LookupKey).WhoamiAsync(SessionChannel.Api, false);
            Assert.Same(first.Body!.Session, again.Body!.Session);
            Assert.Same(first.Body.Identity, again.Body.Identity);
            Assert.Equal(WhoamiOutcome.Active, (await remote.GetGrain<ISessionGrain>(issued.LookupKey).WhoamiAsync(SessionChannel.Api, false)).Outcome);
        }

        Assert.Equal(WhoamiOutcome.Active, first.Outcome);
        Assert.Equal(readsBefore, _counting.Reads);
    }

    /// <summary>
    /// The identity's piece of the whoami body is held once per silo: every session of the identity there answers
    /// with the same array, whether it was issued there or read back from the store after an eviction.
    /// </summary>
    [Fact]
    public async Task The_sessions_of_one_identity_on_a_silo_share_its_json()
    {
        var issued = await _cluster.IssueSpreadAsync(8);

        async Task<Dictionary<SiloAddress, List<WhoamiAnswer>>> AnswersByHost()
        {
            var byHost = new Dictionary<SiloAddress, List<WhoamiAnswer>>();
            foreach (var session in issued)
            {
                await _cluster.Grains(0).GetGrain<ISessionGrain>(session.LookupKey).GetAsync(); // active (read back after an eviction)
                var host = _cluster.HostOf(_cluster.Grains(0), session.LookupKey)!;
                var local = SessionCluster.Grains(_cluster.Silo(host));
                var answer = await local.GetGrain<ISessionGrain>(session.LookupKey).WhoamiAsync(SessionChannel.Api, false);
                Assert.Equal(WhoamiOutcome.Active, answer.Outcome);
                (byHost.TryGetValue(host, out var answers) ? answers : byHost[host] = []).Add(answer);
            }
            return byHost;
        }

        void AssertShared(Dictionary<SiloAddress, List<WhoamiAnswer>> byHost)
        {
            Assert.Equal(issued.Count, byHost.Values.Sum(a => a.Count));
            foreach (var answers in byHost.Values)
                foreach (var answer in answers)
                {
                    Assert.Same(answers[0].Body!.Identity, answer.Body!.Identity);
                    Assert.Same(answers[0].IdentityId, answer.IdentityId);
                }
        }

        AssertShared(await AnswersByHost());
        foreach (var session in issued)
            await _cluster.Cluster.DeactivateAsync(_cluster.Grains(0).GetGrain<ISessionGrain>(session.LookupKey));
        var reloaded = await AnswersByHost();
        AssertShared(reloaded);
        Assert.Equal(issued.Select(s => s.Session.Id.ToString()).Order(),
            reloaded.Values.SelectMany(a => a).Select(a => JsonDocument.Parse(a.Body!.ToArray()).RootElement.GetProperty("id").GetString()).Order());
    }

    [Fact]
    public async Task An_evicted_session_is_read_from_the_store_once_on_its_next_lookup()
    {
        var identity = await SessionCluster.CreateIdentityAsync(_cluster.Grains(0));
        var issued = await SessionCluster.IssueAsync(_cluster.Grains(0), identity.Id, SessionChannel.Api);
        var grain = _cluster.Grains(1).GetGrain<ISessionGrain>(issued.LookupKey);
        var before = await grain.WhoamiAsync(SessionChannel.Api, false);

        await _cluster.Cluster.DeactivateAsync(grain);
        var sessionReadsBefore = _counting.SessionReads;
        var after = await grain.WhoamiAsync(SessionChannel.Api, false);
        for (var i = 0; i < 50; i++)
            await grain.WhoamiAsync(SessionChannel.Api, false);

        Assert.Equal(1, _counting.SessionReads - sessionReadsBefore);
        Assert.Equal(before.Body!.ToArray(), after.Body!.ToArray());
    }

    [Fact]
    public async Task A_session_found_expired_gives_its_memory_back()
    {
        var identity = await SessionCluster.CreateIdentityAsync(_cluster.Grains(0));
        var issued = await SessionCluster.IssueAsync(_cluster.Grains(0), identity.Id, SessionChannel.Api, TimeSpan.FromMinutes(5));
        var grain = _cluster.Grains(0).GetGrain<ISessionGrain>(issued.LookupKey);
        Assert.Equal(WhoamiOutcome.Active, (await grain.WhoamiAsync(SessionChannel.Api, false)).Outcome);

        _cluster.Clock.Advance(TimeSpan.FromMinutes(6));
        Assert.Equal(WhoamiOutcome.Unauthorized, (await grain.WhoamiAsync(SessionChannel.Api, false)).Outcome);

        await _cluster.Cluster.WaitForDeactivationAsync(grain);
        Assert.Null(_cluster.HostOf(_cluster.Grains(0), issued.LookupKey));
    }

    [Fact]
    public async Task A_lookup_of_an_unknown_credential_leaves_no_activation_behind()
    {
        var lookupKey = SessionToken.LookupKey(SessionToken.New());
        var grain = _cluster.Grains(1).GetGrain<ISessionGrain>(lookupKey);

        Assert.Equal(WhoamiOutcome.Unauthorized, (await grain.WhoamiAsync(SessionChannel.Api, false)).Outcome);

        await _cluster.Cluster.WaitForDeactivationAsync(grain);
        Assert.Null(_cluster.HostOf(_cluster.Grains(1), lookupKey));
    }

    /// <summary>
    /// An identity change loads no session that is not in memory (it only tells those that are), renders the
    /// identity's JSON once for the held session, and the whoamis after it read nothing from the store.
    /// </summary>
    [Fact]
    public async Task An_identity_change_loads_no_session_and_renders_the_identity_once()
    {
        var identity = await SessionCluster.CreateIdentityAsync(_cluster.Grains(0));
        var held = await SessionCluster.IssueAsync(_cluster.Grains(0), identity.Id, SessionChannel.Api);
        var evicted = new List<IssuedSession>();
        for (var i = 0; i < 4; i++)
        {
            var issued = await SessionCluster.IssueAsync(_cluster.Grains(i % 2), identity.Id, SessionChannel.Api);
            await _cluster.Cluster.DeactivateAsync(_cluster.Grains(0).GetGrain<ISessionGrain>(issued.LookupKey));
            evicted.Add(issued);
        }
        var host = _cluster.HostOf(_cluster.Grains(0), held.LookupKey)!;
        var local = SessionCluster.Grains(_cluster.Cluster.Silos.Single(s => s.SiloAddress.Equals(host)));
        var remote = SessionCluster.Grains(_cluster.Cluster.Silos.Single(s => !s.SiloAddress.Equals(host)));
        var lookupsBefore = _counting.LookupReads;
        const string traits = """{"email":"steady@example.test"}""";

        var updated = await remote.GetGrain<IIdentityGrain>(identity.Id).UpdateAsync(SessionCluster.DraftFor(identity.Id) with { Traits = traits }, expectedVersion: null);

        Assert.Equal(IdentityWriteOutcome.Written, updated.Outcome);
        Assert.Equal(lookupsBefore, _counting.LookupReads);
        var readsBefore = _counting.Reads;
        var first = await local.GetGrain<ISessionGrain>(held.LookupKey).WhoamiAsync(SessionChannel.Api, false);
        Assert.Equal(traits, Answers.TraitsOf(first));
        for (var i = 0; i < 50; i++)
        {
            var again = await local.GetGrain<ISessionGrain>(held.LookupKey).WhoamiAsync(SessionChannel.Api, false);
            Assert.Same(first.Body!.Session, again.Body!.Session);
            Assert.Same(first.Body.Identity, again.Body.Identity);
            Assert.Equal(first.Body!.ToArray(), (await remote.GetGrain<ISessionGrain>(held.LookupKey).WhoamiAsync(SessionChannel.Api, false)).Body!.ToArray());
        }
        Assert.Equal(readsBefore, _counting.Reads);
        // The evicted ones are read once each when next looked up, and answer the new traits.
        foreach (var issued in evicted)
            Assert.Equal(traits, Answers.TraitsOf(await remote.GetGrain<ISessionGrain>(issued.LookupKey).WhoamiAsync(SessionChannel.Api, false)));
        Assert.Equal(lookupsBefore + evicted.Count, _counting.LookupReads);
    }
}
