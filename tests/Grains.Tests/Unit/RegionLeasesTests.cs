using Microsoft.Extensions.Time.Testing;
using OrleansSessions.Regions;

namespace OrleansSessions.Tests.Unit;

public sealed class RegionLeasesTests
{
    private static readonly DateTimeOffset T0 = new(2030, 1, 2, 3, 4, 5, TimeSpan.Zero);
    private static readonly TimeSpan Lease = TimeSpan.FromSeconds(30);

    private static RegionMap Map(bool serve = false) =>
        new(new Region("eu", 'e'), [new PeerRegion("us", 'u', "Host=us", "host=us")], Lease, TimeSpan.FromSeconds(1), serve, null);

    /// <summary>A region always answers for itself; for a peer only from its first applied beat, and within the lease of the newest.</summary>
    [Fact]
    public void A_peer_is_vouched_for_within_the_lease_of_its_newest_beat()
    {
        var clock = new FakeTimeProvider(T0);
        var leases = new RegionLeases(Map(), clock);

        Assert.True(leases.Vouches("eu"));
        Assert.False(leases.Vouches("us")); // never heard
        Assert.False(leases.Vouches("mars"));
        leases.Heard("us", T0);
        Assert.True(leases.Vouches("us"));
        clock.Advance(Lease);
        Assert.True(leases.Vouches("us"));
        clock.Advance(TimeSpan.FromMilliseconds(1));
        Assert.False(leases.Vouches("us"));
        leases.Heard("us", T0.AddSeconds(-5)); // an older beat moves nothing back
        Assert.False(leases.Vouches("us"));
        leases.Heard("us", clock.GetUtcNow().AddSeconds(-1));
        Assert.True(leases.Vouches("us"));
        Assert.Equal(TimeSpan.FromSeconds(1), leases.Silences()["us"]);
    }

    /// <summary>regions:on_partition=serve answers for every region whatever it heard; without regions everything is this region's.</summary>
    [Fact]
    public void Serving_through_partitions_and_no_regions_vouch_for_everything()
    {
        var clock = new FakeTimeProvider(T0);
        Assert.True(new RegionLeases(Map(serve: true), clock).Vouches("us"));
        var none = new RegionLeases(RegionMap.None, clock);
        Assert.True(none.Vouches(""));
        Assert.Empty(none.Silences());
    }
}
