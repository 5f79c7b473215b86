using System.Net;
using OrleansSessions.Api.Sessions;
using OrleansSessions.Api.Tests.Infrastructure;

namespace OrleansSessions.Api.Tests;

/// <summary>
/// How whoami reads the credential (Kratos §1.2): X-Session-Token, then the session cookie,
/// then Authorization: Bearer; and the isolation between browser and API sessions.
/// </summary>
public sealed class WhoamiCarrierTests(DevNodeFixture fixture) : IClassFixture<DevNodeFixture>
{
    private readonly ServiceNode _node = fixture.Node;

    private static void AssertSession(Answer answer, IssuedSession expected)
    {
        Assert.True(answer.Status == HttpStatusCode.OK, $"expected 200, got {answer}");
        Assert.Equal(expected.SessionId, answer.Json.GetProperty("id").GetGuid());
    }

    private static void AssertUnauthorized(Answer answer) =>
        Assert.True(answer.Status == HttpStatusCode.Unauthorized, $"expected 401, got {answer}");

    [Fact]
    public async Task Api_session_answers_through_X_Session_Token()
    {
        var api = await _node.IssueApiSessionAsync();
        AssertSession(await _node.WhoamiAsync(api.TokenHeader), api);
    }

    [Theory]
    [InlineData("Bearer")]
    [InlineData("bearer")]
    [InlineData("BEARER")]
    [InlineData("bEaReR")]
    public async Task Api_session_answers_through_Authorization_Bearer_with_any_case_of_scheme(string scheme)
    {
        var api = await _node.IssueApiSessionAsync();
        AssertSession(await _node.WhoamiAsync(("Authorization", $"{scheme} {api.Token}")), api);
    }

    [Fact]
    public async Task Browser_session_answers_through_the_cookie_value_from_the_issuance_body()
    {
        var browser = await _node.IssueBrowserSessionAsync();
        Assert.Equal(ServiceNode.CookieName, browser.Body.GetProperty("session_cookie").GetProperty("name").GetString());
        AssertSession(await _node.WhoamiAsync(browser.CookieHeader), browser);
    }

    [Fact]
    public async Task Browser_session_answers_through_the_cookie_from_its_Set_Cookie_header()
    {
        var browser = await _node.IssueBrowserSessionAsync();
        var setCookie = Assert.Single(browser.SetCookies, c => c.StartsWith(ServiceNode.CookieName + "=", StringComparison.Ordinal));
        var pair = setCookie.Split(';')[0];
        Assert.Equal($"{ServiceNode.CookieName}={browser.CookieValue}", pair);
        AssertSession(await _node.WhoamiAsync(("Cookie", pair)), browser);
    }

    [Fact]
    public async Task Browser_cookie_is_found_among_other_cookies()
    {
        var browser = await _node.IssueBrowserSessionAsync();
        var header = $"theme=dark; csrf_token_abc=xyz; {ServiceNode.CookieName}={browser.CookieValue}; lang=en";
        AssertSession(await _node.WhoamiAsync(("Cookie", header)), browser);
    }

    [Fact]
    public async Task No_credentials_at_all_is_401()
    {
        AssertUnauthorized(await _node.WhoamiAsync());
    }

    [Fact]
    public async Task Well_formed_but_unknown_token_is_401()
    {
        AssertUnauthorized(await _node.WhoamiAsync(("X-Session-Token", "ory_st_" + new string('A', 32))));
    }

    // ---- precedence ---------------------------------------------------------------------------

    [Fact]
    public async Task X_Session_Token_wins_over_a_valid_cookie_even_when_the_token_is_unknown()
    {
        var browser = await _node.IssueBrowserSessionAsync();
        AssertUnauthorized(await _node.WhoamiAsync(("X-Session-Token", "ory_st_" + new string('z', 32)), browser.CookieHeader));
    }

    [Fact]
    public async Task X_Session_Token_wins_over_a_valid_cookie_even_when_the_token_is_malformed()
    {
        var browser = await _node.IssueBrowserSessionAsync();
        AssertUnauthorized(await _node.WhoamiAsync(("X-Session-Token", "not-a-token"), browser.CookieHeader));
    }

    [Fact]
    public async Task X_Session_Token_wins_over_a_valid_Bearer_token()
    {
        var first = await _node.IssueApiSessionAsync();
        var second = await _node.IssueApiSessionAsync();
        AssertSession(await _node.WhoamiAsync(first.TokenHeader, second.BearerHeader), first);
        AssertUnauthorized(await _node.WhoamiAsync(("X-Session-Token", "ory_st_" + new string('q', 32)), second.BearerHeader));
    }

    [Fact]
    public async Task Cookie_wins_over_Bearer()
    {
        var browser = await _node.IssueBrowserSessionAsync();
        var api = await _node.IssueApiSessionAsync();
        AssertSession(await _node.WhoamiAsync(browser.CookieHeader, api.BearerHeader), browser);
    }

    [Fact]
    public async Task Valid_cookie_beside_an_unknown_Bearer_token_is_200()
    {
        var browser = await _node.IssueBrowserSessionAsync();
        AssertSession(await _node.WhoamiAsync(browser.CookieHeader, ("Authorization", "Bearer ory_st_" + new string('b', 32))), browser);
    }

    [Fact]
    public async Task Garbage_cookie_beside_a_valid_X_Session_Token_is_200_not_500()
    {
        var api = await _node.IssueApiSessionAsync();
        AssertSession(await _node.WhoamiAsync(api.TokenHeader, ("Cookie", $"{ServiceNode.CookieName}=garbage!!")), api);
    }

    [Fact]
    public async Task Garbage_cookie_beside_a_valid_Bearer_token_falls_through_to_the_Bearer_token()
    {
        var api = await _node.IssueApiSessionAsync();
        AssertSession(await _node.WhoamiAsync(("Cookie", $"{ServiceNode.CookieName}=garbage!!"), api.BearerHeader), api);
    }

    [Fact]
    public async Task Of_two_cookies_of_the_session_name_the_first_that_opens_wins()
    {
        var browser = await _node.IssueBrowserSessionAsync();
        var header = $"{ServiceNode.CookieName}=garbage; {ServiceNode.CookieName}={browser.CookieValue}";
        AssertSession(await _node.WhoamiAsync(("Cookie", header)), browser);
    }

    [Fact]
    public async Task Of_two_valid_cookies_of_the_session_name_the_first_wins()
    {
        var first = await _node.IssueBrowserSessionAsync();
        var second = await _node.IssueBrowserSessionAsync();
        var header = $"{ServiceNode.CookieName}={first.CookieValue}; {ServiceNode.CookieName}={second.CookieValue}";
        AssertSession(await _node.WhoamiAsync(("Cookie", header)), first);
    }

    [Fact]
    public async Task Cookie_of_another_name_is_not_read()
    {
        var browser = await _node.IssueBrowserSessionAsync();
        AssertUnauthorized(await _node.WhoamiAsync(("Cookie", $"ory_kratos_session_other={browser.CookieValue}")));
    }

    // ---- isolation ----------------------------------------------------------------------------

    [Fact]
    public async Task Browser_cookie_value_sent_as_X_Session_Token_is_401()
    {
        var browser = await _node.IssueBrowserSessionAsync();
        AssertUnauthorized(await _node.WhoamiAsync(("X-Session-Token", browser.CookieValue)));
    }

    [Fact]
    public async Task Browser_cookie_value_sent_as_Bearer_token_is_401()
    {
        var browser = await _node.IssueBrowserSessionAsync();
        AssertUnauthorized(await _node.WhoamiAsync(("Authorization", "Bearer " + browser.CookieValue)));
    }

    [Fact]
    public async Task Secret_inside_a_browser_cookie_is_refused_through_the_token_headers()
    {
        // Open the cookie with the node's own key ring to get the browser session's raw secret:
        // a well-formed token, which the grain refuses because the session was issued to a browser.
        var browser = await _node.IssueBrowserSessionAsync();
        Assert.True(_node.Service<SessionCookie>().TryOpen(browser.CookieValue, out var secret, out _));
        Assert.StartsWith("ory_st_", secret);
        AssertUnauthorized(await _node.WhoamiAsync(("X-Session-Token", secret)));
        AssertUnauthorized(await _node.WhoamiAsync(("Authorization", "Bearer " + secret)));
        AssertSession(await _node.WhoamiAsync(browser.CookieHeader), browser);
    }

    [Fact]
    public async Task Api_session_token_sent_as_the_cookie_value_is_401()
    {
        var api = await _node.IssueApiSessionAsync();
        AssertUnauthorized(await _node.WhoamiAsync(("Cookie", $"{ServiceNode.CookieName}={api.Token}")));
    }

    [Fact]
    public async Task Api_session_token_sealed_into_a_genuine_cookie_is_refused()
    {
        // A cookie the node itself would accept as authentic, carrying an API session's token:
        // the carrier check in the session grain must still refuse it.
        var api = await _node.IssueApiSessionAsync();
        var expiresAt = api.Session.GetProperty("expires_at").GetDateTimeOffset();
        var sealedToken = _node.Service<SessionCookie>().Seal(api.Token, expiresAt);
        AssertUnauthorized(await _node.WhoamiAsync(("Cookie", $"{ServiceNode.CookieName}={sealedToken}")));
        AssertSession(await _node.WhoamiAsync(api.TokenHeader), api);
    }
}
