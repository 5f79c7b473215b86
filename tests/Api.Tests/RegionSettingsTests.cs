using Microsoft.Extensions.Configuration;
using OrleansSessions.Silo;

namespace OrleansSessions.Api.Tests;

/// <summary><c>regions:*</c> read the ASP.NET Core way, and refused with the key to fix when inconsistent.</summary>
public sealed class RegionSettingsTests
{
    private static IConfiguration Config(params (string Key, string Value)[] values) =>
        new ConfigurationBuilder().AddInMemoryCollection(values.Select(v => new KeyValuePair<string, string?>(v.Key, v.Value))).Build();

    [Fact]
    public void Regions_are_read_from_configuration()
    {
        var map = RegionSettings.Read(Config(
            ("regions:name", "eu"), ("regions:code", "e"), ("regions:lease", "20s"), ("regions:on_partition", "serve"),
            ("regions:peers:us:code", "u"), ("regions:peers:us:connection_string", "Host=10.0.0.2;Username=postgres"),
            ("regions:peers:ap:code", "a"), ("regions:peers:ap:connection_string", "Host=10.0.0.3"),
            ("regions:peers:ap:replication_connection_string", "host=10.1.0.3 user=replicator")), storeIsPostgres: true);

        Assert.Equal("eu", map.SelfName);
        Assert.Equal(TimeSpan.FromSeconds(20), map.Lease);
        Assert.Equal(TimeSpan.FromSeconds(1), map.HeartbeatInterval);
        Assert.True(map.ServeOnPartition);
        Assert.Equal(["ap", "us"], map.Peers.Select(p => p.Name));
        Assert.Equal("Host=10.0.0.2;Username=postgres", map.Peer("us")!.ReplicationConnectionString);
        Assert.Equal("host=10.1.0.3 user=replicator", map.Peer("ap")!.ReplicationConnectionString);
        Assert.Equal('u', map.Peer("us")!.Code);
    }

    [Fact]
    public void No_regions_is_the_default()
    {
        Assert.Same(OrleansSessions.Regions.RegionMap.None, RegionSettings.Read(Config(), storeIsPostgres: false));
    }

    [Theory]
    [InlineData("store:provider=postgres", "regions:name", "eu", "regions:code", "", "regions:code must be one character")]
    [InlineData("store:provider=postgres", "regions:name", "eu", "regions:code", "ee", "regions:code must be one character")]
    [InlineData("store:provider=postgres", "regions:name", "eu", "regions:on_partition", "maybe", "regions:on_partition 'maybe'")]
    [InlineData("sqlite", "regions:name", "eu", "regions:code", "e", "store:provider=postgres")]
    [InlineData("store:provider=postgres", "regions:name", "", "regions:peers:us:code", "u", "needs regions:name")]
    public void Inconsistent_settings_name_the_key(string store, string k1, string v1, string k2, string v2, string message)
    {
        var values = new List<(string, string)> { (k1, v1), (k2, v2) };
        if (k2 != "regions:code") values.Add(("regions:code", "e"));
        var error = Assert.ThrowsAny<Exception>(() => RegionSettings.Read(Config([.. values]), storeIsPostgres: store != "sqlite"));
        Assert.Contains(message, error.Message);
    }

    [Fact]
    public void A_peer_needs_its_database()
    {
        var error = Assert.Throws<InvalidOperationException>(() => RegionSettings.Read(Config(
            ("regions:name", "eu"), ("regions:code", "e"), ("regions:peers:us:code", "u")), storeIsPostgres: true));
        Assert.Contains("regions:peers:us:connection_string is required", error.Message);
    }
}
