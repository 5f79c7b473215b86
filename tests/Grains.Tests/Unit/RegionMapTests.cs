using OrleansSessions.Regions;

namespace OrleansSessions.Tests.Unit;

public sealed class RegionMapTests
{
    private static readonly TimeSpan Lease = TimeSpan.FromSeconds(30);

    private static PeerRegion Peer(string name, char code) => new(name, code, $"Host={name}", $"host={name}");

    private static RegionMap Eu(string? keysFrom = null) =>
        new(new Region("eu", 'e'), [Peer("us", 'u'), Peer("ap", 'a')], Lease, TimeSpan.FromSeconds(1), serveOnPartition: false, keysFrom);

    /// <summary>A region's tokens keep Kratos's format and open with its code; any node of any region reads the home from the token alone.</summary>
    [Fact]
    public void Tokens_carry_their_home_region()
    {
        var eu = Eu();
        var us = new RegionMap(new Region("us", 'u'), [Peer("eu", 'e'), Peer("ap", 'a')], Lease, TimeSpan.FromSeconds(1), false, null);
        var tokens = Enumerable.Range(0, 500).Select(_ => eu.NewToken()).ToList();

        Assert.All(tokens, t =>
        {
            Assert.True(SessionToken.IsWellFormed(t), t);
            Assert.Equal('e', t[SessionToken.Prefix.Length]);
            Assert.Equal("eu", us.HomeOf(t)!.Name);
            Assert.Equal("eu", eu.HomeOf(t)!.Name);
        });
        Assert.Equal(500, tokens.Distinct(StringComparer.Ordinal).Count());
        // 31 random characters after the code: every one of the 62 shows up in 500 tokens.
        Assert.Equal(62, tokens.SelectMany(t => t[(SessionToken.Prefix.Length + 1)..]).Distinct().Count());
        Assert.Null(eu.HomeOf("ory_st_" + new string('z', 32)));
        Assert.Null(eu.HomeOf("ory_st_short"));
        Assert.True(eu.IsSelf("eu"));
        Assert.True(eu.IsSelf("")); // written before regions were configured
        Assert.False(eu.IsSelf("us"));
    }

    /// <summary>Without regions tokens are as they always were and name no home; rows record ''.</summary>
    [Fact]
    public void Without_regions_nothing_changes()
    {
        var none = RegionMap.None;
        var token = none.NewToken();

        Assert.False(none.IsEnabled);
        Assert.True(SessionToken.IsWellFormed(token));
        Assert.Null(none.HomeOf(token));
        Assert.Equal("", none.SelfName);
        Assert.True(none.IsSelf(""));
        Assert.True(none.CreatesKeys);
    }

    /// <summary>One region creates the shared keys: the named one, or the first name in ordinal order on every node alike.</summary>
    [Fact]
    public void One_region_creates_the_keys()
    {
        Assert.Equal("ap", Eu().KeyRegion);
        Assert.False(Eu().CreatesKeys);
        Assert.True(Eu(keysFrom: "eu").CreatesKeys);
        Assert.Contains("neither", Assert.Throws<InvalidOperationException>(() => Eu(keysFrom: "mars")).Message);
    }

    [Theory]
    [InlineData("eu", 'u', "same code")]
    [InlineData("EU", 'x', "not valid")]
    [InlineData("us", 'x', "among its own peers")]
    [InlineData("eu", '-', "[A-Za-z0-9]")]
    public void Inconsistent_regions_are_refused_with_a_reason(string peerName, char peerCode, string reason)
    {
        var error = Assert.Throws<InvalidOperationException>(() =>
            new RegionMap(new Region("us", 'u'), [Peer(peerName, peerCode)], Lease, TimeSpan.FromSeconds(1), false, null));
        Assert.Contains(reason, error.Message);
    }

    /// <summary>The heartbeat must come at least twice within the lease, or one lost beat would end it.</summary>
    [Fact]
    public void Heartbeat_fits_the_lease_twice()
    {
        var error = Assert.Throws<InvalidOperationException>(() =>
            new RegionMap(new Region("eu", 'e'), [Peer("us", 'u')], TimeSpan.FromSeconds(1), TimeSpan.FromMilliseconds(600), false, null));
        Assert.Contains("half of regions:lease", error.Message);
    }
}
