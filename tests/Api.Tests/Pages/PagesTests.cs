using System.Net;
using System.Text;
using System.Text.RegularExpressions;
using OrleansSessions.Api.Pages;
using OrleansSessions.Api.Tests.Infrastructure;

namespace OrleansSessions.Api.Tests.Pages;

/// <summary>
/// The pages as a server answers them: where browsers are sent, the headers and markup every page keeps to
/// (strict CSP, no script or inline style, labels), and that our forms do nothing without their anti-forgery token.
/// What a person does on them is in the browser tests (tests/browser).
/// </summary>
public sealed partial class PagesTests(DevNodeFixture fixture) : IClassFixture<DevNodeFixture>
{
    private const string Chrome = PageRequests.Chrome;
    private ServiceNode Node => fixture.Node;

    [Fact]
    public async Task A_browser_flow_without_a_UI_of_its_own_lands_on_the_sign_in_page()
    {
        var (page, _) = await SignInPageAsync();
        Assert.Equal(HttpStatusCode.OK, page.Status);
        Assert.Matches("<form method=\"post\" action=\"[^\"]*/self-service/login\\?flow=[0-9a-f-]{36}\"", page.Body);
        Assert.Contains("<label for=\"field-identifier\">ID</label>", page.Body);
        Assert.Contains("<label for=\"field-password\">Password</label>", page.Body);
        Assert.Matches("<input type=\"hidden\" name=\"csrf_token\" value=\"[^\"]+\"", page.Body);
    }

    [Fact]
    public async Task An_expired_flow_comes_back_as_a_new_one_that_says_so()
    {
        var identity = await Node.CreatePasswordIdentityAsync();
        var (page, csrf) = await SignInPageAsync();
        // As a browser reads them: attribute values are HTML-encoded (a '+' of the token as &#x2B;).
        var action = WebUtility.HtmlDecode(FormAction().Match(page.Body).Groups[1].Value);
        var token = WebUtility.HtmlDecode(CsrfField().Match(page.Body).Groups[1].Value);
        Node.Clock.Advance(TimeSpan.FromHours(2));
        var submitted = await PostAsync(Node.Bound(action), csrf, ("csrf_token", token), ("method", "password"),
            ("identifier", identity.Email), ("password", identity.Password));
        Assert.Equal(HttpStatusCode.SeeOther, submitted.Status);
        var next = submitted.Header("Location")!;
        Assert.StartsWith(Node.PublicBase() + "ui/login?flow=", next);
        Assert.DoesNotContain(new Uri(action).Query["?flow=".Length..], next);
        var replaced = await GetAsync(Node.Bound(next), csrf);
        Assert.Equal(HttpStatusCode.OK, replaced.Status);
        Assert.Matches("data-message-id=\"4010001\">The login flow expired [0-9.]+ minutes ago, please try again.<", replaced.Body);
    }

    [Fact]
    public async Task Every_page_keeps_to_a_strict_policy_without_script_or_inline_style()
    {
        var (signIn, _) = await SignInPageAsync();
        var identity = await Node.CreatePasswordIdentityAsync();
        var login = await Node.SubmitBrowserFormAsync(await Node.NewBrowserFlowAsync(), identity.Email, identity.Password, null, ("User-Agent", Chrome));
        var cookie = LoginHelpers.SessionCookiePair(login);
        var sessions = await GetAsync(Node.Public("/ui/sessions"), cookie);
        var search = await GetAsync(Node.Admin("/admin/ui?q=" + Uri.EscapeDataString(identity.Email)));
        var admin = await GetAsync(Node.Admin($"/admin/ui/identities/{identity.Id}"));

        foreach (var page in new[] { signIn, sessions, search, admin })
        {
            Assert.Equal(HttpStatusCode.OK, page.Status);
            var policy = page.Header("Content-Security-Policy")!;
            Assert.StartsWith("default-src 'none'; style-src 'self'; img-src 'self'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'", policy);
            Assert.DoesNotContain("unsafe", policy);
            Assert.Equal("DENY", page.Header("X-Frame-Options"));
            Assert.Equal("nosniff", page.Header("X-Content-Type-Options"));
            Assert.Equal("no-referrer", page.Header("Referrer-Policy"));
            Assert.Contains("no-store", page.Header("Cache-Control"));
            Assert.DoesNotContain("<script", page.Body, StringComparison.OrdinalIgnoreCase);
            Assert.DoesNotContain("<style", page.Body, StringComparison.OrdinalIgnoreCase);
            Assert.DoesNotMatch(" style=", page.Body);
            Assert.DoesNotMatch(" on[a-z]+=", page.Body);
            Assert.Contains("<html lang=\"en\">", page.Body);
            Assert.Contains("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">", page.Body);
            // Every visible input has a label that names it.
            foreach (Match input in VisibleInput().Matches(page.Body))
                Assert.Contains($"<label for=\"{input.Groups["id"].Value}\">", page.Body);
            // No credential in the markup: the session cookie's value never appears.
            Assert.DoesNotContain(cookie.Split('=', 2)[1], page.Body);
        }
        Assert.Contains("Signed in as <strong>" + identity.Email + "</strong>", sessions.Body);
        Assert.Contains("Chrome 131 on Windows 10", sessions.Body);
        Assert.Contains($"/admin/ui/identities/{identity.Id}", search.Body);
    }

    [Fact]
    public async Task The_sessions_page_sends_a_signed_out_visitor_to_sign_in_and_back()
    {
        var answer = await GetAsync(Node.Public("/ui/sessions"));
        Assert.Equal(HttpStatusCode.SeeOther, answer.Status);
        var location = answer.Header("Location")!;
        Assert.Equal(Node.PublicBase() + "self-service/login/browser?return_to=" + Uri.EscapeDataString(Node.PublicBase() + "ui/sessions"), location);
        // The way back is allowed: the flow starts, and remembers it.
        var flow = await Node.NewBrowserFlowAsync(new Uri(location).Query);
        Assert.Equal(Node.PublicBase() + "ui/sessions", flow.Flow.GetProperty("return_to").GetString());
    }

    [Fact]
    public async Task Our_forms_do_nothing_without_their_anti_forgery_token()
    {
        var identity = await Node.CreatePasswordIdentityAsync();
        var mine = await Node.LoginBrowserAsync(identity);
        var other = await Node.LoginBrowserAsync(identity);

        // Another site's form: the cookie comes along, the token cannot.
        foreach (var path in new[] { "/ui/sessions/end-others", "/ui/logout" })
        {
            var forged = await PostAsync(Node.Public(path), mine, ("session_id", Guid.NewGuid().ToString()));
            Assert.Equal(HttpStatusCode.SeeOther, forged.Status);
            Assert.EndsWith("ui/sessions?notice=form-expired", forged.Header("Location"));
        }
        Assert.Equal(HttpStatusCode.OK, (await Node.WhoamiAsync(("Cookie", other))).Status);
        Assert.Equal(HttpStatusCode.OK, (await Node.WhoamiAsync(("Cookie", mine))).Status);

        // The page's own form ends the other session.
        var page = await GetAsync(Node.Public("/ui/sessions"), mine);
        var (antiforgeryCookie, token) = FormToken(page);
        var ended = await PostAsync(Node.Public("/ui/sessions/end-others"), LoginHelpers.JoinCookies(mine, antiforgeryCookie), ("anti_forgery_token", token));
        Assert.Equal(HttpStatusCode.SeeOther, ended.Status);
        Assert.EndsWith("ui/sessions?notice=ended-others&count=1", ended.Header("Location"));
        Assert.Equal(HttpStatusCode.Unauthorized, (await Node.WhoamiAsync(("Cookie", other))).Status);
        Assert.Equal(HttpStatusCode.OK, (await Node.WhoamiAsync(("Cookie", mine))).Status);

        // Sign out: the session ends and the cookie is expired.
        var signedOut = await PostAsync(Node.Public("/ui/logout"), LoginHelpers.JoinCookies(mine, antiforgeryCookie), ("anti_forgery_token", token));
        Assert.Equal(HttpStatusCode.SeeOther, signedOut.Status);
        Assert.Contains(signedOut.SetCookies(), c => c.StartsWith(ServiceNode.CookieName + "=;", StringComparison.Ordinal));
        Assert.Equal(HttpStatusCode.Unauthorized, (await Node.WhoamiAsync(("Cookie", mine))).Status);
    }

    [Fact]
    public async Task Ending_sessions_needs_a_recent_sign_in()
    {
        var identity = await Node.CreatePasswordIdentityAsync();
        var mine = await Node.LoginBrowserAsync(identity);
        var other = await Node.LoginBrowserAsync(identity);
        var (antiforgeryCookie, token) = FormToken(await GetAsync(Node.Public("/ui/sessions"), mine));
        Node.Clock.Advance(TimeSpan.FromMinutes(16));

        // A cookie signed in 16 minutes ago (the default limit is 15) is asked to confirm it is its owner first.
        var asked = await PostAsync(Node.Public("/ui/sessions/end-others"), LoginHelpers.JoinCookies(mine, antiforgeryCookie), ("anti_forgery_token", token));
        Assert.Equal(HttpStatusCode.SeeOther, asked.Status);
        var again = asked.Header("Location")!;
        Assert.StartsWith(Node.PublicBase() + "self-service/login/browser?return_to=", again);
        Assert.EndsWith("&refresh=true", again);
        Assert.Equal(HttpStatusCode.OK, (await Node.WhoamiAsync(("Cookie", other))).Status);

        // The password again (a refresh flow on the same session), and the same form works.
        var flow = await Node.NewBrowserFlowAsync(new Uri(again).Query, mine);
        var renewed = await Node.SubmitBrowserFormAsync(flow, identity.Email, identity.Password, mine);
        Assert.Equal(HttpStatusCode.SeeOther, renewed.Status);
        Assert.EndsWith("ui/sessions?notice=signed-in-again", renewed.Header("Location"));
        mine = LoginHelpers.SessionCookiePair(renewed);
        var ended = await PostAsync(Node.Public("/ui/sessions/end-others"), LoginHelpers.JoinCookies(mine, antiforgeryCookie), ("anti_forgery_token", token));
        Assert.EndsWith("ui/sessions?notice=ended-others&count=1", ended.Header("Location"));
        Assert.Equal(HttpStatusCode.Unauthorized, (await Node.WhoamiAsync(("Cookie", other))).Status);
    }

    [Fact]
    public async Task Bad_input_to_the_pages_gets_a_4xx_or_a_new_flow()
    {
        Assert.Equal(HttpStatusCode.SeeOther, (await GetAsync(Node.Public("/ui/login?flow=not-a-flow"))).Status);
        var unknown = await GetAsync(Node.Public($"/ui/login?flow={Guid.NewGuid()}&return_to=https://evil.example/"));
        Assert.Equal(HttpStatusCode.SeeOther, unknown.Status);
        Assert.EndsWith("self-service/login/browser", unknown.Header("Location"));
        Assert.Equal(HttpStatusCode.NotFound, (await GetAsync(Node.Admin("/admin/ui/identities/not-an-id"))).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await GetAsync(Node.Admin($"/admin/ui/identities/{Guid.NewGuid()}"))).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await GetAsync(Node.Admin("/admin/ui?q=nobody%40example.com"))).Status);
        Assert.Equal(HttpStatusCode.BadRequest, (await GetAsync(Node.Admin("/admin/ui?q=" + new string('x', 600)))).Status);

        var identity = await Node.CreatePasswordIdentityAsync();
        var cookie = await Node.LoginBrowserAsync(identity);
        var (antiforgeryCookie, token) = FormToken(await GetAsync(Node.Public("/ui/sessions"), cookie));
        var garbage = await PostAsync(Node.Public("/ui/sessions/end"), LoginHelpers.JoinCookies(cookie, antiforgeryCookie),
            ("anti_forgery_token", token), ("session_id", "'; drop table sessions; --"));
        Assert.Equal(HttpStatusCode.BadRequest, garbage.Status);
        var state = await PostAsync(Node.Admin($"/admin/ui/identities/{identity.Id}/state"), antiforgeryCookie, ("anti_forgery_token", token), ("state", "deleted"));
        Assert.Equal(HttpStatusCode.BadRequest, state.Status);
    }

    [Fact]
    public void User_agents_are_read_as_browser_and_system()
    {
        var agents = new UserAgents();
        Assert.Equal(("Chrome 131", "Windows 10"), agents.Describe(Chrome));
        Assert.Equal(("Firefox 133", "Ubuntu"), agents.Describe("Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"));
        Assert.Equal(("Mobile Safari 18", "iOS 18"), agents.Describe(
            "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1"));
        Assert.Equal(("Unknown browser", "unknown system"), agents.Describe(null));
        Assert.Equal(("Unknown browser", "unknown system"), agents.Describe("  "));
    }

    // ---- helpers -------------------------------------------------------------------------------

    /// <summary>A browser sent to the login flow: the page it lands on, and the flow's anti-CSRF cookie.</summary>
    private async Task<(Answer Page, string CsrfCookie)> SignInPageAsync()
    {
        var start = await GetAsync(Node.Public("/self-service/login/browser"));
        Assert.Equal(HttpStatusCode.SeeOther, start.Status);
        var location = start.Header("Location")!;
        Assert.StartsWith(Node.PublicBase() + "ui/login?flow=", location);
        var csrf = LoginHelpers.CookiePair(Assert.Single(start.SetCookies(), c => c.StartsWith("csrf_token_", StringComparison.Ordinal)));
        return (await GetAsync(Node.Bound(location), csrf), csrf);
    }

    private Task<Answer> GetAsync(Uri url, string? cookies = null) => Node.GetPageAsync(url, cookies);

    private Task<Answer> PostAsync(Uri url, string? cookies, params (string Name, string Value)[] fields) => Node.PostFormAsync(url, cookies, fields);

    private static (string Cookie, string Token) FormToken(Answer page) => PageRequests.FormToken(page);

    [GeneratedRegex("<input id=\"(?<id>[^\"]+)\" name=\"[^\"]+\" type=\"(?!hidden)")]
    private static partial Regex VisibleInput();

    [GeneratedRegex("<form method=\"post\" action=\"([^\"]+)\"")]
    private static partial Regex FormAction();

    [GeneratedRegex("name=\"csrf_token\" value=\"([^\"]+)\"")]
    private static partial Regex CsrfField();
}

/// <summary>The admin page outside dev mode: behind the admin key, given as the password of Basic authentication.</summary>
public sealed class AdminPageKeyTests(ProductionNodeFixture fixture) : IClassFixture<ProductionNodeFixture>
{
    [Fact]
    public async Task The_admin_page_asks_for_the_key_and_acts_with_it()
    {
        var node = fixture.Node;
        var refused = await Answer.ReadAsync(await node.HttpWithoutAdminKey.GetAsync(node.Admin("/admin/ui")));
        Assert.Equal(HttpStatusCode.Unauthorized, refused.Status);
        Assert.StartsWith("Basic realm=", refused.Header("WWW-Authenticate"));

        var wrong = await BasicAsync(node, "/admin/ui", "not-the-key");
        Assert.Equal(HttpStatusCode.Unauthorized, wrong.Status);

        var identity = await node.CreatePasswordIdentityAsync();
        // The search is a call of the admin API with the page's key: it finds the identity.
        var found = await BasicAsync(node, "/admin/ui?q=" + Uri.EscapeDataString(identity.Email), node.AdminKey!);
        Assert.Equal(HttpStatusCode.OK, found.Status);
        Assert.Contains($"/admin/ui/identities/{identity.Id}", found.Body);
        Assert.DoesNotContain(node.AdminKey!, found.Body);
    }

    private static async Task<Answer> BasicAsync(ServiceNode node, string path, string key)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, node.Admin(path));
        request.Headers.Authorization = new("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes("support:" + key)));
        return await Answer.ReadAsync(await node.HttpWithoutAdminKey.SendAsync(request));
    }
}
