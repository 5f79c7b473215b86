using System.Net;
using System.Text.Json.Nodes;
using OrleansSessions.Api.Tests.Infrastructure;

namespace OrleansSessions.Api.Tests;

/// <summary>
/// Session lifespan and expiry, driven by the node's <see cref="Microsoft.Extensions.Time.Testing.FakeTimeProvider"/>
/// (no sleeps). Kratos: a session is active while <c>expires_at &gt; now</c>.
/// </summary>
public sealed class ExpiryTests(DevNodeFixture fixture) : IClassFixture<DevNodeFixture>
{
    private readonly ServiceNode _node = fixture.Node;

    private static DateTimeOffset Time(IssuedSession issued, string member) => issued.Session.GetProperty(member).GetDateTimeOffset();

    [Fact]
    public async Task Api_session_with_lifespan_1h_is_401_once_the_clock_reaches_its_expiry()
    {
        var api = await _node.IssueApiSessionAsync(extra: new JsonObject { ["lifespan"] = "1h" });
        var expiresAt = Time(api, "expires_at");
        Assert.Equal(TimeSpan.FromHours(1), expiresAt - Time(api, "issued_at"));
        Assert.Equal(HttpStatusCode.OK, (await _node.WhoamiAsync(api.TokenHeader)).Status);

        _node.Clock.Advance(expiresAt - _node.Clock.GetUtcNow() - TimeSpan.FromMilliseconds(1));
        Assert.Equal(HttpStatusCode.OK, (await _node.WhoamiAsync(api.TokenHeader)).Status);

        _node.Clock.Advance(TimeSpan.FromMilliseconds(1));
        var expired = await _node.WhoamiAsync(api.TokenHeader);
        Assert.Equal(HttpStatusCode.Unauthorized, expired.Status);
        Assert.Equal("No valid session credentials found in the request.", expired.Json.GetProperty("error").GetProperty("reason").GetString());

        _node.Clock.Advance(TimeSpan.FromMinutes(5));
        Assert.Equal(HttpStatusCode.Unauthorized, (await _node.WhoamiAsync(api.BearerHeader)).Status);
    }

    [Fact]
    public async Task Browser_session_with_lifespan_1h_is_401_through_its_cookie_after_an_hour()
    {
        var browser = await _node.IssueBrowserSessionAsync(extra: new JsonObject { ["lifespan"] = "1h" });
        Assert.Equal(HttpStatusCode.OK, (await _node.WhoamiAsync(browser.CookieHeader)).Status);
        _node.Clock.Advance(TimeSpan.FromHours(1) + TimeSpan.FromSeconds(1));
        Assert.Equal(HttpStatusCode.Unauthorized, (await _node.WhoamiAsync(browser.CookieHeader)).Status);
    }

    [Fact]
    public async Task Expiry_of_one_session_leaves_a_longer_one_of_the_same_identity_active()
    {
        var identityId = await _node.CreateIdentityAsync();
        var shortLived = await _node.IssueApiSessionAsync(identityId, new JsonObject { ["lifespan"] = "10m" });
        var longLived = await _node.IssueApiSessionAsync(identityId, new JsonObject { ["lifespan"] = "2h" });
        _node.Clock.Advance(TimeSpan.FromMinutes(11));
        Assert.Equal(HttpStatusCode.Unauthorized, (await _node.WhoamiAsync(shortLived.TokenHeader)).Status);
        var answer = await _node.WhoamiAsync(longLived.TokenHeader);
        Assert.Equal(HttpStatusCode.OK, answer.Status);
        Assert.Equal(longLived.SessionId, answer.Json.GetProperty("id").GetGuid());
    }

    [Fact]
    public async Task Session_never_looked_up_before_expiry_is_401_after_it()
    {
        var api = await _node.IssueApiSessionAsync(extra: new JsonObject { ["lifespan"] = "90s" });
        _node.Clock.Advance(TimeSpan.FromSeconds(91));
        Assert.Equal(HttpStatusCode.Unauthorized, (await _node.WhoamiAsync(api.TokenHeader)).Status);
    }

    [Theory]
    [InlineData("api")]
    [InlineData("browser")]
    public async Task Default_lifespan_is_24h(string channel)
    {
        var issued = await _node.IssueAsync(await _node.CreateIdentityAsync(), channel);
        Assert.Equal(TimeSpan.FromHours(24), Time(issued, "expires_at") - Time(issued, "issued_at"));
        Assert.Equal(Time(issued, "issued_at"), Time(issued, "authenticated_at"));
        var whoami = (await _node.WhoamiAsync(channel == "api" ? issued.TokenHeader : issued.CookieHeader)).Json;
        Assert.Equal(TimeSpan.FromHours(24), whoami.GetProperty("expires_at").GetDateTimeOffset() - whoami.GetProperty("issued_at").GetDateTimeOffset());
    }

    [Fact]
    public async Task Issued_at_follows_the_node_clock()
    {
        var before = _node.Clock.GetUtcNow();
        var api = await _node.IssueApiSessionAsync();
        var issuedAt = Time(api, "issued_at");
        Assert.True((issuedAt - before).Duration() < TimeSpan.FromMilliseconds(1), $"issued_at {issuedAt:O}, clock {before:O}");
    }

    [Theory]
    [InlineData("1h30m", 90 * 60)]
    [InlineData("90s", 90)]
    [InlineData("720h", 720 * 3600)]
    public async Task Requested_lifespan_sets_expires_at(string lifespan, int seconds)
    {
        var api = await _node.IssueApiSessionAsync(extra: new JsonObject { ["lifespan"] = lifespan });
        Assert.Equal(TimeSpan.FromSeconds(seconds), Time(api, "expires_at") - Time(api, "issued_at"));
    }
}
