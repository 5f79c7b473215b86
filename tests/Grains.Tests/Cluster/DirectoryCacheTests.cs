using Microsoft.Extensions.DependencyInjection;
using Orleans.Runtime.GrainDirectory;
using OrleansSessions.Cluster;
using OrleansSessions.Tests.Infrastructure;

namespace OrleansSessions.Tests.Cluster;

/// <summary>Orleans' directory cache, as the silos run it: no entry for a grain active on the silo itself.</summary>
public sealed class DirectoryCacheTests : IAsyncLifetime
{
    private SessionCluster _cluster = null!;

    public async Task InitializeAsync() => _cluster = await SessionCluster.StartAsync();

    public async Task DisposeAsync() => await _cluster.DisposeAsync();

    [Fact]
    public async Task A_silo_caches_only_addresses_on_other_silos_and_finds_its_own_grains_without_an_entry()
    {
        var sessions = await _cluster.IssueSpreadAsync(12);
        // Every session called through both silos: each silo addresses every grain.
        foreach (var session in sessions)
            for (var silo = 0; silo < 2; silo++)
                Assert.Equal(WhoamiOutcome.Active,
                    (await _cluster.Grains(silo).GetGrain<ISessionGrain>(session.LookupKey).WhoamiAsync(SessionChannel.Api, false)).Outcome);

        var hosted = 0;
        foreach (var silo in _cluster.Cluster.Silos)
        {
            var cache = Assert.IsType<LocalFirstDirectoryCache>(silo.ServiceProvider.GetRequiredService<IGrainDirectoryCache>());
            Assert.DoesNotContain(cache.KeyValues, entry => entry.ActivationAddress.SiloAddress!.Equals(silo.SiloAddress));
            foreach (var session in sessions)
            {
                var grainId = _cluster.Grains(0).GetGrain<ISessionGrain>(session.LookupKey).GetGrainId();
                if (!silo.SiloAddress.Equals(_cluster.HostOf(_cluster.Grains(0), session.LookupKey)))
                    continue;
                hosted++;
                Assert.True(cache.LookUp(grainId, out var address, out _));
                Assert.Equal(silo.SiloAddress, address.SiloAddress);
            }
        }
        Assert.Equal(sessions.Count, hosted);

        // Deactivated, a grain is no longer found here (and whoami reads it back, wherever it is placed now).
        var first = _cluster.Grains(0).GetGrain<ISessionGrain>(sessions[0].LookupKey);
        var host = _cluster.Silo(_cluster.HostOf(_cluster.Grains(0), sessions[0].LookupKey)!);
        await _cluster.Cluster.DeactivateAsync(first);
        var hostCache = host.ServiceProvider.GetRequiredService<IGrainDirectoryCache>();
        Assert.False(hostCache.LookUp(first.GetGrainId(), out var stale, out _) && stale.SiloAddress!.Equals(host.SiloAddress));
        Assert.Equal(WhoamiOutcome.Active, (await first.WhoamiAsync(SessionChannel.Api, false)).Outcome);
    }
}
