using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using OrleansSessions.Api.Tests.Infrastructure;
using static OrleansSessions.Api.Tests.Infrastructure.LoginHelpers;

namespace OrleansSessions.Api.Tests;

/// <summary>Browser login flows: redirects, the anti-CSRF cookie, the session cookie, return_to, step-up.</summary>
public sealed class LoginFlowBrowserTests(LoginNodeFixture fixture, ProductionNodeFixture production)
    : IClassFixture<LoginNodeFixture>, IClassFixture<ProductionNodeFixture>
{
    private ServiceNode Node => fixture.Node;

    private static string CsrfCookieName(ServiceNode node) =>
        "csrf_token_" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(node.PublicBase())));

    // ---- creating ------------------------------------------------------------------------------

    [Fact]
    public async Task A_browser_is_redirected_to_the_login_UI_with_an_anti_CSRF_cookie()
    {
        var answer = await Node.SendAsync(HttpMethod.Get, Node.Public("/self-service/login/browser"));

        Assert.Equal(HttpStatusCode.SeeOther, answer.Status);
        var location = answer.Header("Location")!;
        Assert.StartsWith(LoginNodeFixture.LoginUiUrl + "?flow=", location);
        var flowId = Guid.Parse(location[(LoginNodeFixture.LoginUiUrl.Length + "?flow=".Length)..]);

        var setCookie = Assert.Single(answer.SetCookies(), c => c.StartsWith(CsrfCookieName(Node) + "=", StringComparison.Ordinal));
        var attributes = CookieAttributes(setCookie);
        Assert.True(attributes.ContainsKey("httponly"));
        Assert.Equal("lax", attributes["samesite"], ignoreCase: true);
        Assert.False(attributes.ContainsKey("secure"), "no Secure in dev mode");
        Assert.Equal("/", attributes["path"]);

        // The UI reads the flow with the browser's cookies.
        var flow = await Node.GetFlowAsync(flowId, ("Cookie", CookiePair(setCookie)));
        Assert.Equal(HttpStatusCode.OK, flow.Status);
        AssertValid("loginFlow", flow.Json);
        Assert.Equal("browser", flow.Json.GetProperty("type").GetString());
        Assert.Equal(["csrf_token", "identifier", "password", "method"], NodeNames(flow.Json));
        var csrf = UiNode(flow.Json, "csrf_token").GetProperty("attributes");
        Assert.Equal("hidden", csrf.GetProperty("type").GetString());
        Assert.False(string.IsNullOrEmpty(csrf.GetProperty("value").GetString()));
        // The form carries a masked token, never the cookie's value itself.
        Assert.NotEqual(CookiePair(setCookie).Split('=', 2)[1], csrf.GetProperty("value").GetString());
    }

    [Fact]
    public async Task Without_dev_mode_the_anti_CSRF_cookie_is_Secure()
    {
        var answer = await production.Node.SendAsync(HttpMethod.Get, production.Node.Public("/self-service/login/browser"));

        var setCookie = Assert.Single(answer.SetCookies(), c => c.StartsWith(CsrfCookieName(production.Node) + "=", StringComparison.Ordinal));
        Assert.True(CookieAttributes(setCookie).ContainsKey("secure"));
    }

    [Fact]
    public async Task An_SPA_gets_the_flow_as_JSON_and_keeps_its_anti_CSRF_cookie()
    {
        var first = await Node.NewBrowserFlowAsync();
        AssertValid("loginFlow", first.Flow);

        var answer = await Node.SendAsync(HttpMethod.Get, Node.Public("/self-service/login/browser"), null,
            ("Accept", "application/json"), ("Cookie", first.CsrfCookie));

        Assert.Equal(HttpStatusCode.OK, answer.Status);
        Assert.DoesNotContain(answer.SetCookies(), c => c.StartsWith("csrf_token_", StringComparison.Ordinal));
        Assert.NotEqual(first.CsrfToken, UiNode(answer.Json, "csrf_token").GetProperty("attributes").GetProperty("value").GetString());
    }

    [Fact]
    public async Task A_browser_flow_is_not_shown_without_its_anti_CSRF_cookie()
    {
        var flow = await Node.NewBrowserFlowAsync();
        var other = await Node.NewBrowserFlowAsync();

        var none = await Node.GetFlowAsync(flow.Id);
        IdentityAdmin.AssertError(none, HttpStatusCode.Forbidden);
        Assert.Equal("security_csrf_violation", ErrorId(none));

        var foreign = await Node.GetFlowAsync(flow.Id, ("Cookie", other.CsrfCookie));
        Assert.Equal("security_csrf_violation", ErrorId(foreign));
        Assert.Equal(HttpStatusCode.OK, (await Node.GetFlowAsync(flow.Id, ("Cookie", flow.CsrfCookie))).Status);
    }

    [Fact]
    public async Task A_return_to_that_is_not_allowed_is_400_at_creation()
    {
        var answer = await Node.SendAsync(HttpMethod.Get,
            Node.Public("/self-service/login/browser?return_to=" + Uri.EscapeDataString("https://evil.example/steal")));

        IdentityAdmin.AssertError(answer, HttpStatusCode.BadRequest);
        Assert.Equal("self_service_flow_return_to_forbidden", ErrorId(answer));
        // Same host but outside the allowed path.
        var outside = await Node.SendAsync(HttpMethod.Get,
            Node.Public("/self-service/login/browser?return_to=" + Uri.EscapeDataString("https://app.example.com/admin")));
        Assert.Equal("self_service_flow_return_to_forbidden", ErrorId(outside));
    }

    // ---- submitting ----------------------------------------------------------------------------

    [Fact]
    public async Task A_form_login_sets_the_session_cookie_and_redirects_to_the_default_return_URL()
    {
        var identity = await Node.CreatePasswordIdentityAsync();
        var flow = await Node.NewBrowserFlowAsync();

        var answer = await Node.SubmitBrowserFormAsync(flow, identity.Email, identity.Password);

        Assert.Equal(HttpStatusCode.SeeOther, answer.Status);
        Assert.Equal(LoginNodeFixture.DefaultReturnUrl, answer.Header("Location"));
        var setCookie = Assert.Single(answer.SetCookies(), c => c.StartsWith(ServiceNode.CookieName + "=", StringComparison.Ordinal));
        var attributes = CookieAttributes(setCookie);
        Assert.True(attributes.ContainsKey("httponly"));
        Assert.Equal("lax", attributes["samesite"], ignoreCase: true);
        Assert.True(int.Parse(attributes["max-age"]) > 23 * 3600);

        var whoami = await Node.WhoamiAsync(("Cookie", CookiePair(setCookie)));
        Assert.Equal(HttpStatusCode.OK, whoami.Status);
        Assert.Equal(identity.Id, whoami.Json.GetProperty("identity").GetProperty("id").GetGuid());
    }

    [Fact]
    public async Task An_AJAX_login_answers_the_session_without_a_token()
    {
        var identity = await Node.CreatePasswordIdentityAsync();
        var flow = await Node.NewBrowserFlowAsync();

        var answer = await Node.SubmitAsync(flow.Id,
            AsJson(new JsonObject
            {
                ["method"] = "password", ["identifier"] = identity.Email, ["password"] = identity.Password, ["csrf_token"] = flow.CsrfToken,
            }),
            ("Cookie", flow.CsrfCookie), ("Accept", "application/json"));

        Assert.Equal(HttpStatusCode.OK, answer.Status);
        Assert.False(answer.Json.TryGetProperty("session_token", out _));
        AssertValid("session", answer.Json.GetProperty("session"));
        var next = Assert.Single(answer.Json.GetProperty("continue_with").EnumerateArray());
        Assert.Equal("redirect_browser_to", next.GetProperty("action").GetString());
        Assert.Equal(LoginNodeFixture.DefaultReturnUrl, next.GetProperty("redirect_browser_to").GetString());
        Assert.Equal(HttpStatusCode.OK, (await Node.WhoamiAsync(("Cookie", SessionCookiePair(answer)))).Status);
    }

    [Fact]
    public async Task A_submission_without_the_right_CSRF_token_is_403()
    {
        var identity = await Node.CreatePasswordIdentityAsync();
        var flow = await Node.NewBrowserFlowAsync();
        var other = await Node.NewBrowserFlowAsync();

        var noToken = await Node.SubmitAsync(flow.Id,
            Form(("method", "password"), ("identifier", identity.Email), ("password", identity.Password)), ("Cookie", flow.CsrfCookie));
        var noCookie = await Node.SubmitAsync(flow.Id,
            Form(("csrf_token", flow.CsrfToken), ("method", "password"), ("identifier", identity.Email), ("password", identity.Password)));
        var otherCookie = await Node.SubmitBrowserFormAsync(flow with { CsrfCookie = other.CsrfCookie }, identity.Email, identity.Password);
        // A token that is not made from the cookie (an all-zero pad and token).
        var forged = await Node.SubmitAsync(flow.Id,
            Form(("csrf_token", Convert.ToBase64String(new byte[64])), ("method", "password"), ("identifier", identity.Email), ("password", identity.Password)),
            ("Cookie", flow.CsrfCookie));

        foreach (var answer in new[] { noToken, noCookie, otherCookie, forged })
        {
            IdentityAdmin.AssertError(answer, HttpStatusCode.Forbidden);
            Assert.Equal("security_csrf_violation", ErrorId(answer));
            Assert.Empty(answer.SetCookies());
        }
        var details = noToken.Json.GetProperty("error").GetProperty("details");
        Assert.Equal("https://www.ory.sh/docs/kratos/debug/csrf", details.GetProperty("docs").GetString());
        Assert.Contains("not included in the HTTP request body", details.GetProperty("hint").GetString());
        Assert.Equal("The HTTP cookie header is empty or not set.",
            noCookie.Json.GetProperty("error").GetProperty("details").GetProperty("reject_reason").GetString());

        // The token also counts in the X-CSRF-Token header.
        var header = await Node.SubmitAsync(flow.Id,
            Form(("method", "password"), ("identifier", identity.Email), ("password", identity.Password)),
            ("Cookie", flow.CsrfCookie), ("X-CSRF-Token", flow.CsrfToken));
        Assert.Equal(HttpStatusCode.SeeOther, header.Status);
    }

    [Fact]
    public async Task A_wrong_password_sends_the_browser_back_to_the_UI_and_the_flow_says_why()
    {
        var identity = await Node.CreatePasswordIdentityAsync();
        var flow = await Node.NewBrowserFlowAsync();

        var answer = await Node.SubmitBrowserFormAsync(flow, identity.Email, "wrong");

        Assert.Equal(HttpStatusCode.SeeOther, answer.Status);
        Assert.Equal($"{LoginNodeFixture.LoginUiUrl}?flow={flow.Id}", answer.Header("Location"));
        Assert.DoesNotContain(answer.SetCookies(), c => c.StartsWith(ServiceNode.CookieName, StringComparison.Ordinal));
        var shown = await Node.GetFlowAsync(flow.Id, ("Cookie", flow.CsrfCookie));
        Assert.Equal([4000006L], MessageIds(shown.Json));
        Assert.Equal(identity.Email, UiNode(shown.Json, "identifier").GetProperty("attributes").GetProperty("value").GetString());

        var ajax = await Node.SubmitBrowserFormAsync(flow, identity.Email, "wrong", null, ("Accept", "application/json"));
        Assert.Equal(HttpStatusCode.BadRequest, ajax.Status);
        Assert.Equal([4000006L], MessageIds(ajax.Json));
    }

    [Fact]
    public async Task An_allowed_return_to_is_where_the_browser_goes_after_login()
    {
        var identity = await Node.CreatePasswordIdentityAsync();
        var returnTo = LoginNodeFixture.AllowedReturnUrl + "/settings?tab=2";
        var flow = await Node.NewBrowserFlowAsync("?return_to=" + Uri.EscapeDataString(returnTo));
        Assert.Equal(returnTo, flow.Flow.GetProperty("return_to").GetString());

        var answer = await Node.SubmitBrowserFormAsync(flow, identity.Email, identity.Password);

        Assert.Equal(HttpStatusCode.SeeOther, answer.Status);
        Assert.Equal(returnTo, answer.Header("Location"));
    }

    [Fact]
    public async Task A_signed_in_browser_is_sent_on_instead_of_getting_a_flow()
    {
        var cookie = await Node.LoginBrowserAsync(await Node.CreatePasswordIdentityAsync());

        var browser = await Node.SendAsync(HttpMethod.Get, Node.Public("/self-service/login/browser"), null, ("Cookie", cookie));
        Assert.Equal(HttpStatusCode.SeeOther, browser.Status);
        Assert.Equal(LoginNodeFixture.DefaultReturnUrl, browser.Header("Location"));

        var spa = await Node.SendAsync(HttpMethod.Get, Node.Public("/self-service/login/browser"), null,
            ("Cookie", cookie), ("Accept", "application/json"));
        IdentityAdmin.AssertError(spa, HttpStatusCode.BadRequest);
        Assert.Equal("session_already_available", ErrorId(spa));
    }

    [Fact]
    public async Task Refresh_re_authenticates_the_cookie_session_and_renews_the_cookie()
    {
        var identity = await Node.CreatePasswordIdentityAsync();
        var cookie = await Node.LoginBrowserAsync(identity);
        var before = (await Node.WhoamiAsync(("Cookie", cookie))).Json;
        Node.Clock.Advance(TimeSpan.FromMinutes(10));

        var flow = await Node.NewBrowserFlowAsync("?refresh=true", cookie);
        Assert.True(flow.Flow.GetProperty("refresh").GetBoolean());
        Assert.Equal(identity.Email, UiNode(flow.Flow, "identifier").GetProperty("attributes").GetProperty("value").GetString());
        var answer = await Node.SubmitBrowserFormAsync(flow, identity.Email, identity.Password, cookie);

        Assert.Equal(HttpStatusCode.SeeOther, answer.Status);
        var renewed = SessionCookiePair(answer);
        Assert.NotEqual(cookie, renewed);
        var after = (await Node.WhoamiAsync(("Cookie", renewed))).Json;
        Assert.Equal(before.GetProperty("id").GetGuid(), after.GetProperty("id").GetGuid());
        Assert.Equal(2, after.GetProperty("authentication_methods").GetArrayLength());
        Assert.True(after.GetProperty("expires_at").GetDateTimeOffset() >= before.GetProperty("expires_at").GetDateTimeOffset().AddMinutes(10));
        // The old cookie is of the same session: still valid.
        Assert.Equal(after.GetProperty("id").GetGuid(), (await Node.WhoamiAsync(("Cookie", cookie))).Json.GetProperty("id").GetGuid());
    }

    [Fact]
    public async Task With_TOTP_a_browser_is_sent_to_the_second_factor_and_completes_it()
    {
        var identity = await Node.CreatePasswordIdentityAsync();
        var secret = await Node.EnableTotpAsync(identity.Id);
        var flow = await Node.NewBrowserFlowAsync();

        var first = await Node.SubmitBrowserFormAsync(flow, identity.Email, identity.Password);
        Assert.Equal(HttpStatusCode.SeeOther, first.Status);
        Assert.Equal(Node.PublicBase() + "self-service/login/browser?aal=aal2", first.Header("Location"));
        var cookie = SessionCookiePair(first);
        Assert.Equal("session_aal2_required", ErrorId(await Node.WhoamiAsync(("Cookie", cookie))));

        var ajaxFlow = await Node.NewBrowserFlowAsync();
        var ajax = await Node.SubmitBrowserFormAsync(ajaxFlow, identity.Email, identity.Password, null, ("Accept", "application/json"));
        IdentityAdmin.AssertError(ajax, (HttpStatusCode)422);
        Assert.Equal("browser_location_change_required", ErrorId(ajax));
        Assert.Equal("browser location change required", ajax.Json.GetProperty("error").GetProperty("message").GetString());
        Assert.Equal(Node.PublicBase() + "self-service/login/browser?aal=aal2", ajax.Json.GetProperty("redirect_browser_to").GetString());

        var second = await Node.NewBrowserFlowAsync("?aal=aal2", JoinCookies(cookie, flow.CsrfCookie));
        Assert.Equal(["csrf_token", "totp_code", "method"], NodeNames(second.Flow));
        var answer = await Node.SubmitAsync(second.Id,
            Form(("csrf_token", second.CsrfToken), ("method", "totp"), ("totp_code", Node.TotpCodeNow(secret))),
            ("Cookie", JoinCookies(cookie, second.CsrfCookie)));

        Assert.Equal(HttpStatusCode.SeeOther, answer.Status);
        Assert.Equal(LoginNodeFixture.DefaultReturnUrl, answer.Header("Location"));
        var whoami = await Node.WhoamiAsync(("Cookie", SessionCookiePair(answer)));
        Assert.Equal(HttpStatusCode.OK, whoami.Status);
        Assert.Equal("aal2", whoami.Json.GetProperty("authenticator_assurance_level").GetString());
    }

    [Fact]
    public async Task An_expired_browser_flow_sends_the_browser_to_a_replacement()
    {
        var identity = await Node.CreatePasswordIdentityAsync();
        var flow = await Node.NewBrowserFlowAsync();
        Node.Clock.Advance(TimeSpan.FromMinutes(61));

        var read = await Node.GetFlowAsync(flow.Id, ("Cookie", flow.CsrfCookie));
        IdentityAdmin.AssertError(read, HttpStatusCode.Gone);
        Assert.Equal(Node.PublicBase() + "self-service/login/browser",
            read.Json.GetProperty("error").GetProperty("details").GetProperty("redirect_to").GetString());

        var answer = await Node.SubmitBrowserFormAsync(flow, identity.Email, identity.Password);
        Assert.Equal(HttpStatusCode.SeeOther, answer.Status);
        var location = answer.Header("Location")!;
        Assert.StartsWith(LoginNodeFixture.LoginUiUrl + "?flow=", location);
        var replacement = Guid.Parse(location[(LoginNodeFixture.LoginUiUrl.Length + "?flow=".Length)..]);
        Assert.NotEqual(flow.Id, replacement);
        Assert.DoesNotContain(answer.SetCookies(), c => c.StartsWith(ServiceNode.CookieName, StringComparison.Ordinal));

        var ajax = await Node.SubmitBrowserFormAsync(flow, identity.Email, identity.Password, null, ("Accept", "application/json"));
        IdentityAdmin.AssertError(ajax, HttpStatusCode.Gone);
        Assert.Equal("self_service_flow_expired", ErrorId(ajax));
    }
}
