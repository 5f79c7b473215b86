using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using OrleansSessions.Api.Tests.Infrastructure;
using static OrleansSessions.Api.Tests.Infrastructure.LoginHelpers;

namespace OrleansSessions.Api.Tests;

/// <summary>Native logout with the token, and browser logout through a logout URL carrying the logout token.</summary>
public sealed class LogoutTests(LoginNodeFixture fixture) : IClassFixture<LoginNodeFixture>
{
    private const string LogoutTokenPattern = "^ory_lo_[A-Za-z0-9]{32}$";

    private ServiceNode Node => fixture.Node;

    private Task<Answer> NativeLogoutAsync(string body) =>
        Node.SendAsync(HttpMethod.Delete, Node.Public("/self-service/logout/api"), new StringContent(body, Encoding.UTF8, "application/json"));

    private Task<Answer> LogoutFlowAsync(string? cookie, string query = "", params (string, string)[] headers) =>
        Node.SendAsync(HttpMethod.Get, Node.Public("/self-service/logout/browser" + query), null,
            [.. cookie is null ? Array.Empty<(string, string)>() : [("Cookie", cookie)], .. headers]);

    // ---- native --------------------------------------------------------------------------------

    [Fact]
    public async Task Native_logout_revokes_the_token_and_is_204_again_when_already_revoked()
    {
        var login = await Node.LoginNativeAsync(await Node.CreatePasswordIdentityAsync());
        var body = new JsonObject { ["session_token"] = login.Token }.ToJsonString();

        var first = await NativeLogoutAsync(body);

        Assert.Equal(HttpStatusCode.NoContent, first.Status);
        Assert.Equal(HttpStatusCode.Unauthorized, (await Node.WhoamiAsync(login.TokenHeader)).Status);
        Assert.Equal(HttpStatusCode.NoContent, (await NativeLogoutAsync(body)).Status);
    }

    [Fact]
    public async Task Native_logout_of_a_session_issued_by_admin_works_too()
    {
        var issued = await Node.IssueApiSessionAsync();

        Assert.Equal(HttpStatusCode.NoContent, (await NativeLogoutAsync(new JsonObject { ["session_token"] = issued.Token }.ToJsonString())).Status);
        Assert.Equal(HttpStatusCode.Unauthorized, (await Node.WhoamiAsync(issued.TokenHeader)).Status);
    }

    [Theory]
    [InlineData("ory_st_00000000000000000000000000000000")]
    [InlineData("not-a-token")]
    [InlineData("")]
    public async Task Native_logout_of_an_unknown_token_is_403(string token)
    {
        var answer = await NativeLogoutAsync(new JsonObject { ["session_token"] = token }.ToJsonString());

        Assert.Equal("The provided Ory Session Token could not be found, is invalid, or otherwise malformed.",
            IdentityAdmin.AssertError(answer, HttpStatusCode.Forbidden));
    }

    [Theory]
    [InlineData("{")]
    [InlineData("[]")]
    [InlineData("{}")]
    [InlineData("""{"session_token": 5}""")]
    public async Task Native_logout_with_a_bad_body_is_400(string body)
    {
        IdentityAdmin.AssertError(await NativeLogoutAsync(body), HttpStatusCode.BadRequest);
    }

    // ---- browser: the logout URL ---------------------------------------------------------------

    [Fact]
    public async Task The_logout_URL_carries_a_stable_logout_token_of_the_cookie_session()
    {
        var cookie = await Node.LoginBrowserAsync(await Node.CreatePasswordIdentityAsync());
        var otherCookie = await Node.LoginBrowserAsync(await Node.CreatePasswordIdentityAsync());

        var answer = await LogoutFlowAsync(cookie);

        Assert.Equal(HttpStatusCode.OK, answer.Status);
        AssertValid("logoutFlow", answer.Json);
        var token = answer.Json.GetProperty("logout_token").GetString()!;
        Assert.Matches(LogoutTokenPattern, token);
        Assert.Equal(Node.PublicBase() + $"self-service/logout?token={token}", answer.Json.GetProperty("logout_url").GetString());
        Assert.Equal(token, (await LogoutFlowAsync(cookie)).Json.GetProperty("logout_token").GetString());
        Assert.NotEqual(token, (await LogoutFlowAsync(otherCookie)).Json.GetProperty("logout_token").GetString());
    }

    [Fact]
    public async Task The_logout_URL_keeps_an_allowed_return_to_and_refuses_others()
    {
        var cookie = await Node.LoginBrowserAsync(await Node.CreatePasswordIdentityAsync());
        var returnTo = LoginNodeFixture.AllowedReturnUrl + "/bye";

        var allowed = await LogoutFlowAsync(cookie, "?return_to=" + Uri.EscapeDataString(returnTo));
        Assert.EndsWith("&return_to=" + Uri.EscapeDataString(returnTo), allowed.Json.GetProperty("logout_url").GetString());

        var refused = await LogoutFlowAsync(cookie, "?return_to=" + Uri.EscapeDataString("https://evil.example/"));
        Assert.Equal("self_service_flow_return_to_forbidden", ErrorId(refused));
        IdentityAdmin.AssertError(refused, HttpStatusCode.BadRequest);
    }

    [Fact]
    public async Task Without_a_cookie_session_the_logout_URL_is_401_session_inactive()
    {
        var login = await Node.LoginNativeAsync(await Node.CreatePasswordIdentityAsync());

        foreach (var answer in new[]
        {
            await LogoutFlowAsync(null, "", ("Accept", "application/json")),
            await LogoutFlowAsync($"{ServiceNode.CookieName}=garbage"),
            // A token session has no logout URL: native apps log out with the token.
            await LogoutFlowAsync(null, "", login.TokenHeader),
        })
        {
            IdentityAdmin.AssertError(answer, HttpStatusCode.Unauthorized);
            Assert.Equal("session_inactive", ErrorId(answer));
        }
    }

    // ---- browser: following the logout URL -----------------------------------------------------

    [Fact]
    public async Task Following_the_logout_URL_revokes_the_session_expires_the_cookie_and_redirects()
    {
        var cookie = await Node.LoginBrowserAsync(await Node.CreatePasswordIdentityAsync());
        var url = (await LogoutFlowAsync(cookie)).Json.GetProperty("logout_url").GetString()!;

        var answer = await Node.SendAsync(HttpMethod.Get, Node.Bound(url), null, ("Cookie", cookie));

        Assert.Equal(HttpStatusCode.SeeOther, answer.Status);
        Assert.Equal(LoginNodeFixture.DefaultReturnUrl, answer.Header("Location"));
        var expired = Assert.Single(answer.SetCookies(), c => c.StartsWith(ServiceNode.CookieName + "=", StringComparison.Ordinal));
        Assert.Equal(ServiceNode.CookieName + "=", CookiePair(expired));
        var attributes = CookieAttributes(expired);
        Assert.Equal("0", attributes["max-age"]);
        Assert.Contains("1970", attributes["expires"]);
        Assert.Equal("/", attributes["path"]);
        Assert.Equal(HttpStatusCode.Unauthorized, (await Node.WhoamiAsync(("Cookie", cookie))).Status);
    }

    [Fact]
    public async Task An_AJAX_logout_is_204_and_an_allowed_return_to_is_followed()
    {
        var first = await Node.LoginBrowserAsync(await Node.CreatePasswordIdentityAsync());
        var firstUrl = (await LogoutFlowAsync(first)).Json.GetProperty("logout_url").GetString()!;
        var ajax = await Node.SendAsync(HttpMethod.Get, Node.Bound(firstUrl), null, ("Cookie", first), ("Accept", "application/json"));
        Assert.Equal(HttpStatusCode.NoContent, ajax.Status);
        Assert.Equal(HttpStatusCode.Unauthorized, (await Node.WhoamiAsync(("Cookie", first))).Status);

        var second = await Node.LoginBrowserAsync(await Node.CreatePasswordIdentityAsync());
        var returnTo = LoginNodeFixture.AllowedReturnUrl + "/bye";
        var secondUrl = (await LogoutFlowAsync(second, "?return_to=" + Uri.EscapeDataString(returnTo))).Json.GetProperty("logout_url").GetString()!;
        var browser = await Node.SendAsync(HttpMethod.Get, Node.Bound(secondUrl), null, ("Cookie", second));
        Assert.Equal(HttpStatusCode.SeeOther, browser.Status);
        Assert.Equal(returnTo, browser.Header("Location"));
    }

    [Fact]
    public async Task A_logout_token_of_another_session_is_403_and_revokes_nothing()
    {
        var mine = await Node.LoginBrowserAsync(await Node.CreatePasswordIdentityAsync());
        var theirs = await Node.LoginBrowserAsync(await Node.CreatePasswordIdentityAsync());
        var theirToken = (await LogoutFlowAsync(theirs)).Json.GetProperty("logout_token").GetString()!;

        var answer = await Node.SendAsync(HttpMethod.Get, Node.Public($"/self-service/logout?token={theirToken}"), null, ("Cookie", mine));

        Assert.Equal("Unable to log out because the logout token in the URL query does not match the session cookie.",
            IdentityAdmin.AssertError(answer, HttpStatusCode.Forbidden));
        Assert.Equal(HttpStatusCode.OK, (await Node.WhoamiAsync(("Cookie", mine))).Status);
        Assert.Equal(HttpStatusCode.OK, (await Node.WhoamiAsync(("Cookie", theirs))).Status);
    }

    [Fact]
    public async Task Following_a_logout_URL_needs_the_token_and_the_cookie()
    {
        var cookie = await Node.LoginBrowserAsync(await Node.CreatePasswordIdentityAsync());
        var token = (await LogoutFlowAsync(cookie)).Json.GetProperty("logout_token").GetString()!;

        var noToken = await Node.SendAsync(HttpMethod.Get, Node.Public("/self-service/logout"), null, ("Cookie", cookie));
        Assert.Equal("Please include a token in the URL query.", IdentityAdmin.AssertError(noToken, HttpStatusCode.BadRequest));

        var noCookie = await Node.SendAsync(HttpMethod.Get, Node.Public($"/self-service/logout?token={token}"));
        IdentityAdmin.AssertError(noCookie, HttpStatusCode.Unauthorized);
        Assert.Equal("session_inactive", ErrorId(noCookie));

        var badReturn = await Node.SendAsync(HttpMethod.Get,
            Node.Public($"/self-service/logout?token={token}&return_to={Uri.EscapeDataString("https://evil.example/")}"), null, ("Cookie", cookie));
        IdentityAdmin.AssertError(badReturn, HttpStatusCode.BadRequest);
        Assert.Equal(HttpStatusCode.OK, (await Node.WhoamiAsync(("Cookie", cookie))).Status);
    }
}
