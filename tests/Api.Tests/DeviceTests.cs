using System.Net;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Options;
using OrleansSessions.Api.Sessions;
using OrleansSessions.Api.Tests.Infrastructure;

namespace OrleansSessions.Api.Tests;

/// <summary>A node behind trusted proxies (the test client's 127.0.0.1 among them), with its own location header.</summary>
public sealed class TrustedProxyNodeFixture : DevNodeFixture
{
    protected override NodeOptions Options => new()
    {
        Dev = true,
        ExtraArgs =
        [
            "--serve:public:trusted_proxies:0=127.0.0.1", "--serve:public:trusted_proxies:1=10.0.0.0/8",
            "--serve:public:trusted_proxies:2=2001:db8:ffff::/48", "--session:device:location_headers:0=X-Geo",
        ],
    };
}

/// <summary>What a login records as the session's device.</summary>
internal static class DeviceLogin
{
    /// <summary>A native password login sent with these headers; returns the session's one device.</summary>
    public static async Task<JsonElement> DeviceOfLoginAsync(this ServiceNode node, params (string, string)[] headers)
    {
        var identity = await node.CreatePasswordIdentityAsync();
        var flow = await node.NewNativeFlowAsync();
        var answer = await node.SubmitAsync(LoginHelpers.FlowId(flow),
            LoginHelpers.AsJson(LoginHelpers.PasswordBody(identity.Email, identity.Password)), headers);
        Assert.True(answer.Status == HttpStatusCode.OK, $"login answered {answer}");
        var device = Assert.Single(answer.Json.GetProperty("session").GetProperty("devices").EnumerateArray());
        // The device is stored, not only answered.
        var stored = await node.GetSessionAsync(answer.Json.GetProperty("session").GetProperty("id").GetGuid(), "?expand=devices");
        Assert.Equal(device.GetRawText(), Assert.Single(stored.Json.GetProperty("devices").EnumerateArray()).GetRawText());
        return device;
    }

    public static string? Field(this JsonElement device, string name) =>
        device.TryGetProperty(name, out var value) ? value.GetString() : null;
}

/// <summary>Without trusted proxies: the address is the connection's, whatever the headers say.</summary>
public sealed class DeviceTests(DevNodeFixture fixture) : IClassFixture<DevNodeFixture>
{
    private readonly ServiceNode _node = fixture.Node;

    [Fact]
    public async Task The_address_is_the_connections_and_forwarding_headers_are_ignored()
    {
        var device = await _node.DeviceOfLoginAsync(
            ("True-Client-IP", "198.51.100.1"), ("X-Real-IP", "198.51.100.2"), ("X-Forwarded-For", "198.51.100.3"), ("User-Agent", "Lynx/2.9"));
        Assert.Equal("127.0.0.1", device.Field("ip_address"));
        Assert.Equal("Lynx/2.9", device.Field("user_agent"));
        Assert.Equal(JsonValueKind.String, device.GetProperty("id").ValueKind);
    }

    [Fact]
    public async Task Location_is_cloudflares_city_and_country_by_default()
    {
        Assert.Equal("Berlin, DE", (await _node.DeviceOfLoginAsync(("Cf-Ipcity", "Berlin"), ("Cf-Ipcountry", "DE"))).Field("location"));
        Assert.Equal("DE", (await _node.DeviceOfLoginAsync(("Cf-Ipcountry", "DE"))).Field("location"));
        Assert.Null((await _node.DeviceOfLoginAsync(("X-Geo", "Paris"))).Field("location"));
        Assert.Null((await _node.DeviceOfLoginAsync()).Field("location"));
    }

    [Fact]
    public async Task The_user_agent_is_cut_at_512_bytes()
    {
        Assert.Equal(new string('x', 512), (await _node.DeviceOfLoginAsync(("User-Agent", new string('x', 600)))).Field("user_agent"));
    }
}

/// <summary>Behind a trusted proxy: the client address comes from the proxy's headers.</summary>
public sealed class TrustedProxyDeviceTests(TrustedProxyNodeFixture fixture) : IClassFixture<TrustedProxyNodeFixture>
{
    private readonly ServiceNode _node = fixture.Node;

    [Fact]
    public async Task True_client_ip_comes_first_then_x_real_ip()
    {
        Assert.Equal("198.51.100.1", (await _node.DeviceOfLoginAsync(
            ("True-Client-IP", "198.51.100.1"), ("X-Real-IP", "198.51.100.2"), ("X-Forwarded-For", "198.51.100.3"))).Field("ip_address"));
        Assert.Equal("198.51.100.2", (await _node.DeviceOfLoginAsync(
            ("X-Real-IP", "198.51.100.2"), ("X-Forwarded-For", "198.51.100.3"))).Field("ip_address"));
    }

    [Theory]
    [InlineData("203.0.113.1, 198.51.100.2, 10.1.2.3", "198.51.100.2")]
    [InlineData("203.0.113.1,198.51.100.2", "198.51.100.2")]
    [InlineData("10.0.0.1, 10.0.0.2, 127.0.0.1", "10.0.0.1")]
    [InlineData("2001:db8::1, 2001:db8:ffff::9", "2001:db8::1")]
    [InlineData("203.0.113.1, not-an-address", "203.0.113.1")]
    [InlineData("garbage", "127.0.0.1")]
    public async Task X_forwarded_for_gives_the_right_most_address_that_is_not_a_trusted_proxy(string forwardedFor, string expected)
    {
        Assert.Equal(expected, (await _node.DeviceOfLoginAsync(("X-Forwarded-For", forwardedFor))).Field("ip_address"));
    }

    [Fact]
    public async Task Unusable_headers_fall_through_to_the_next_and_finally_to_the_connection()
    {
        Assert.Equal("203.0.113.9", (await _node.DeviceOfLoginAsync(
            ("True-Client-IP", "unknown"), ("X-Real-IP", ""), ("X-Forwarded-For", "203.0.113.9"))).Field("ip_address"));
        Assert.Equal("127.0.0.1", (await _node.DeviceOfLoginAsync()).Field("ip_address"));
    }

    [Fact]
    public async Task Location_comes_from_the_configured_headers_only()
    {
        Assert.Equal("Paris", (await _node.DeviceOfLoginAsync(("X-Geo", "Paris"), ("Cf-Ipcity", "Berlin"))).Field("location"));
        Assert.Null((await _node.DeviceOfLoginAsync(("Cf-Ipcity", "Berlin"), ("Cf-Ipcountry", "DE"))).Field("location"));
    }
}

/// <summary>The <see cref="Devices"/> service on its own: configuration and address forms.</summary>
public sealed class DevicesUnitTests
{
    private static Devices Create(params string[] trustedProxies) =>
        new(Options.Create(new TrustedProxySettings { TrustedProxies = [.. trustedProxies] }), Options.Create(new DeviceSettings()));

    private static DefaultHttpContext Request(string remote, params (string Name, string Value)[] headers)
    {
        var context = new DefaultHttpContext();
        context.Connection.RemoteIpAddress = IPAddress.Parse(remote);
        foreach (var (name, value) in headers)
            context.Request.Headers.Append(name, value);
        return context;
    }

    [Theory]
    [InlineData("proxy.example.com")]
    [InlineData("10.0.0.0/")]
    [InlineData("10.0.0.0/33")]
    public void A_trusted_proxy_that_is_neither_address_nor_range_fails_start_up(string entry)
    {
        var failure = Assert.Throws<OptionsValidationException>(() => Create(entry));
        Assert.Contains("serve:public:trusted_proxies", failure.Message, StringComparison.Ordinal);
        Assert.Contains(entry, failure.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_node_with_a_malformed_trusted_proxy_does_not_start()
    {
        var directory = ServiceNode.NewDataDirectory();
        try
        {
            var failure = await Assert.ThrowsAsync<OptionsValidationException>(async () => await ServiceNode.StartAsync(new NodeOptions
            {
                DataDirectory = directory,
                ExtraArgs = ["--serve:public:trusted_proxies:0=10.0.0.0/8", "--serve:public:trusted_proxies:1=my-load-balancer"],
            }));
            Assert.Contains("my-load-balancer", failure.Message, StringComparison.Ordinal);
        }
        finally
        {
            ServiceNode.DeleteDirectory(directory);
        }
    }

    [Fact]
    public void A_range_written_with_host_bits_means_its_network()
    {
        var devices = Create("10.0.0.1/8");
        Assert.Equal("192.0.2.1", devices.Of(Request("10.200.0.1", ("X-Real-IP", "192.0.2.1"))).IpAddress);
    }

    [Fact]
    public void An_ipv4_mapped_connection_address_matches_an_ipv4_range_and_is_recorded_as_ipv4()
    {
        var devices = Create("10.0.0.0/8");
        Assert.Equal("192.0.2.1", devices.Of(Request("::ffff:10.1.1.1", ("X-Real-IP", "192.0.2.1"))).IpAddress);
        Assert.Equal("10.1.1.1", devices.Of(Request("::ffff:10.1.1.1")).IpAddress);
        Assert.Equal("192.0.2.7", devices.Of(Request("192.0.2.7", ("X-Real-IP", "192.0.2.1"))).IpAddress);
    }

    [Fact]
    public void Several_forwarded_for_headers_read_as_one_list()
    {
        var devices = Create("10.0.0.0/8");
        Assert.Equal("192.0.2.2", devices.Of(Request("10.0.0.5", ("X-Forwarded-For", "192.0.2.1"), ("X-Forwarded-For", "192.0.2.2, 10.9.9.9"))).IpAddress);
    }

    [Fact]
    public void A_long_user_agent_is_cut_at_512_bytes_without_splitting_a_character()
    {
        // Two-byte characters after one ASCII byte: 255 of them fit beside it, the 256th would split.
        var device = Create().Of(Request("192.0.2.7", ("User-Agent", "a" + new string('é', 300))));
        Assert.Equal("a" + new string('é', 255), device.UserAgent);
    }

    [Fact]
    public void Several_user_agent_values_are_joined_by_a_space()
    {
        var device = Create().Of(Request("192.0.2.7", ("User-Agent", "Mozilla/5.0"), ("User-Agent", "(X11)")));
        Assert.Equal("Mozilla/5.0 (X11)", device.UserAgent);
        Assert.Null(Create().Of(Request("192.0.2.7")).UserAgent);
    }
}
