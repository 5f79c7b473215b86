using System.Net;
using OrleansSessions.Api.Tests.Infrastructure;

namespace OrleansSessions.Api.Tests;

/// <summary>Cookie-authenticated changes (<c>DELETE /sessions</c>, <c>DELETE /sessions/{id}</c>) refuse requests from other sites.</summary>
public sealed class CrossSiteTests(DevNodeFixture fixture) : IClassFixture<DevNodeFixture>
{
    private ServiceNode Node => fixture.Node;

    [Fact]
    public async Task Another_sites_request_with_the_cookie_ends_nothing()
    {
        var identity = await Node.CreatePasswordIdentityAsync();
        var mine = await Node.LoginBrowserAsync(identity);
        var other = await Node.LoginNativeAsync(identity);
        var otherId = other.SessionId;

        (string, string)[][] forged =
        [
            [("Cookie", mine), ("Origin", "https://evil.example")],
            [("Cookie", mine), ("Origin", "null")],
            [("Cookie", mine), ("Sec-Fetch-Site", "cross-site")],
        ];
        foreach (var headers in forged)
        {
            foreach (var (method, path) in new[] { (HttpMethod.Delete, "/sessions"), (HttpMethod.Delete, $"/sessions/{otherId}") })
            {
                var refused = await Node.SendAsync(method, Node.Public(path), null, headers);
                Assert.Equal(HttpStatusCode.Forbidden, refused.Status);
                Assert.Equal("security_csrf_violation", refused.Json.GetProperty("error").GetProperty("id").GetString());
            }
        }
        Assert.Equal(HttpStatusCode.OK, (await Node.WhoamiAsync(other.TokenHeader)).Status);

        // From our own origin (the public URL's) it acts.
        var origin = new Uri(Node.PublicBase()).GetLeftPart(UriPartial.Authority);
        var ended = await Node.SendAsync(HttpMethod.Delete, Node.Public($"/sessions/{otherId}"), null, ("Cookie", mine), ("Origin", origin));
        Assert.Equal(HttpStatusCode.NoContent, ended.Status);
        Assert.Equal(HttpStatusCode.Unauthorized, (await Node.WhoamiAsync(other.TokenHeader)).Status);
    }

    [Fact]
    public async Task Token_calls_and_requests_without_origin_are_not_cross_site()
    {
        var identity = await Node.CreatePasswordIdentityAsync();
        var first = await Node.LoginNativeAsync(identity);
        var second = await Node.LoginNativeAsync(identity);
        // A browser never sends a token on its own: an Origin does not matter to a token call.
        var byToken = await Node.SendAsync(HttpMethod.Delete, Node.Public("/sessions"), null, first.TokenHeader, ("Origin", "https://app.example.org"));
        Assert.Equal(HttpStatusCode.OK, byToken.Status);
        Assert.Equal(HttpStatusCode.Unauthorized, (await Node.WhoamiAsync(second.TokenHeader)).Status);

        // A cookie from a server-side client (no Origin, no Sec-Fetch-Site), as the Kratos SDK in Node sends it.
        var cookie = await Node.LoginBrowserAsync(identity);
        var third = await Node.LoginNativeAsync(identity);
        Assert.Equal(HttpStatusCode.OK, (await Node.SendAsync(HttpMethod.Delete, Node.Public("/sessions"), null, ("Cookie", cookie))).Status);
        Assert.Equal(HttpStatusCode.Unauthorized, (await Node.WhoamiAsync(third.TokenHeader)).Status);
    }
}
