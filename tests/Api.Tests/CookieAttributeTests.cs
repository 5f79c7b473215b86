using System.Globalization;
using System.Net;
using System.Text.Json.Nodes;
using OrleansSessions.Api.Tests.Infrastructure;

namespace OrleansSessions.Api.Tests;

/// <summary>The Set-Cookie of a browser issuance: HttpOnly, SameSite=Lax, Path=/, Max-Age until expiry, Secure unless dev mode.</summary>
public sealed class CookieAttributeTests(DevNodeFixture dev, ProductionNodeFixture production)
    : IClassFixture<DevNodeFixture>, IClassFixture<ProductionNodeFixture>
{
    /// <summary>The cookie's name=value and its attributes (names lower-cased; flags map to "").</summary>
    private static SetCookie SessionCookie(IssuedSession issued)
    {
        var header = Assert.Single(issued.SetCookies, c => c.StartsWith(ServiceNode.CookieName + "=", StringComparison.Ordinal));
        return SetCookie.Parse(header);
    }

    [Fact]
    public async Task Browser_issuance_sets_an_HttpOnly_Lax_cookie_on_path_root()
    {
        var cookie = SessionCookie(await dev.Node.IssueBrowserSessionAsync());
        Assert.True(cookie.Attributes.ContainsKey("httponly"), "HttpOnly missing");
        Assert.Equal("lax", cookie.Attributes["samesite"], ignoreCase: true);
        Assert.Equal("/", cookie.Attributes["path"]);
        Assert.False(cookie.Attributes.ContainsKey("domain"), "no Domain is configured");
    }

    [Theory]
    [InlineData(null, 24 * 3600)]
    [InlineData("1h", 3600)]
    [InlineData("45m", 45 * 60)]
    public async Task Cookie_Max_Age_is_the_seconds_until_the_session_expires(string? lifespan, int expected)
    {
        var node = dev.Node;
        var now = node.Clock.GetUtcNow();
        var issued = await node.IssueBrowserSessionAsync(extra: lifespan is null ? null : new JsonObject { ["lifespan"] = lifespan });
        var cookie = SessionCookie(issued);
        var expiresAt = issued.Session.GetProperty("expires_at").GetDateTimeOffset();

        var maxAge = int.Parse(cookie.Attributes["max-age"], CultureInfo.InvariantCulture);
        Assert.InRange(maxAge, expected - 1, expected);
        Assert.InRange(maxAge, (int)(expiresAt - now).TotalSeconds - 1, (int)Math.Ceiling((expiresAt - now).TotalSeconds));

        var expires = DateTimeOffset.ParseExact(cookie.Attributes["expires"], "r", CultureInfo.InvariantCulture);
        Assert.Equal(expiresAt.ToUnixTimeSeconds(), expires.ToUnixTimeSeconds());
        Assert.Equal(expiresAt, issued.Body.GetProperty("session_cookie").GetProperty("expires_at").GetDateTimeOffset());
    }

    [Fact]
    public async Task Cookie_value_in_Set_Cookie_equals_the_value_in_the_body()
    {
        var issued = await dev.Node.IssueBrowserSessionAsync();
        var cookie = SessionCookie(issued);
        Assert.Equal(ServiceNode.CookieName, cookie.Name);
        Assert.Equal(issued.CookieValue, cookie.Value);
    }

    [Fact]
    public async Task Dev_mode_cookie_has_no_Secure()
    {
        var cookie = SessionCookie(await dev.Node.IssueBrowserSessionAsync());
        Assert.False(cookie.Attributes.ContainsKey("secure"), "Secure must be absent with --dev=true");
    }

    [Fact]
    public async Task Production_cookie_is_Secure_HttpOnly_and_Lax()
    {
        var node = production.Node;
        var issued = await node.IssueBrowserSessionAsync();
        var cookie = SessionCookie(issued);
        Assert.True(cookie.Attributes.ContainsKey("secure"), "Secure missing with --dev=false");
        Assert.True(cookie.Attributes.ContainsKey("httponly"));
        Assert.Equal("lax", cookie.Attributes["samesite"], ignoreCase: true);
        Assert.Equal("/", cookie.Attributes["path"]);
        // The cookie still opens on that node (Secure is for the browser to honour).
        var answer = await node.WhoamiAsync(("Cookie", $"{cookie.Name}={cookie.Value}"));
        Assert.Equal(HttpStatusCode.OK, answer.Status);
        Assert.Equal(issued.SessionId, answer.Json.GetProperty("id").GetGuid());
    }

    [Fact]
    public async Task Api_issuance_sets_no_cookie()
    {
        var api = await dev.Node.IssueApiSessionAsync();
        Assert.Empty(api.SetCookies);
        Assert.False(api.Body.TryGetProperty("session_cookie", out _));
    }

    [Fact]
    public async Task Browser_issuance_returns_no_session_token()
    {
        var browser = await dev.Node.IssueBrowserSessionAsync();
        Assert.False(browser.Body.TryGetProperty("session_token", out _));
        Assert.DoesNotContain("ory_st_", browser.Body.GetRawText());
    }

    [Fact]
    public async Task Whoami_with_a_current_cookie_sets_no_new_cookie()
    {
        var browser = await dev.Node.IssueBrowserSessionAsync();
        using var request = dev.Node.Whoami();
        request.Headers.Add("Cookie", $"{ServiceNode.CookieName}={browser.CookieValue}");
        using var response = await dev.Node.Http.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.False(response.Headers.Contains("Set-Cookie"));
    }
}
