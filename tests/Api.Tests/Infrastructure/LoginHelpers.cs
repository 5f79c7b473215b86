using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Options;
using OrleansSessions.Json;
using OrleansSessions.Api.Credentials;
using OtpNet;

namespace OrleansSessions.Api.Tests.Infrastructure;

/// <summary>A node in dev mode with the self-service settings the login and logout tests rely on.</summary>
public class LoginNodeFixture : DevNodeFixture
{
    public const string AllowedReturnUrl = "https://app.example.com/dashboard";
    public const string DefaultReturnUrl = "http://127.0.0.1:4455/";
    public const string LoginUiUrl = "http://127.0.0.1:4455/login";

    protected override NodeOptions Options => new()
    {
        Dev = true,
        // A UI of its own (not the service's pages, the default), as most of Kratos's users have.
        ExtraArgs = [$"--selfservice:allowed_return_urls:0={AllowedReturnUrl}", $"--selfservice:default_browser_return_url={DefaultReturnUrl}",
            $"--selfservice:flows:login:ui_url={LoginUiUrl}", .. MoreArgs],
    };

    protected virtual IReadOnlyList<string> MoreArgs => [];
}

/// <summary>An identity created with a password.</summary>
public sealed record PasswordIdentity(Guid Id, string Email, string Password);

/// <summary>What a successful native login answered.</summary>
public sealed record NativeLogin(JsonElement Body)
{
    public string Token => Body.GetProperty("session_token").GetString()!;
    public JsonElement Session => Body.GetProperty("session");
    public Guid SessionId => Session.GetProperty("id").GetGuid();
    public (string Name, string Value) TokenHeader => ("X-Session-Token", Token);
}

/// <summary>A browser flow as a browser holds it: the flow, its anti-CSRF cookie and the token of its form.</summary>
public sealed record BrowserFlow(JsonElement Flow, string CsrfCookie)
{
    public Guid Id => Flow.GetProperty("id").GetGuid();

    public string CsrfToken => LoginHelpers.UiNode(Flow, "csrf_token").GetProperty("attributes").GetProperty("value").GetString()!;
}

/// <summary>Login and logout calls of the public API, and the identities they need.</summary>
public static class LoginHelpers
{
    public const string DefaultPassword = "correct horse battery staple 42";

    /// <summary>Creates an identity with a password through <c>POST /admin/identities</c> (credential import).</summary>
    public static async Task<PasswordIdentity> CreatePasswordIdentityAsync(this ServiceNode node, string? password = null, string? state = null,
        string? email = null, JsonObject? passwordConfig = null)
    {
        email ??= IdentityAdmin.NewEmail("login");
        password ??= DefaultPassword;
        var extra = new JsonObject
        {
            ["credentials"] = new JsonObject
            {
                ["password"] = new JsonObject { ["config"] = passwordConfig ?? new JsonObject { ["password"] = password } },
            },
        };
        if (state is not null)
            extra["state"] = state;
        var identity = await node.CreateIdentityAsync(IdentityAdmin.Body(email, extra));
        return new PasswordIdentity(identity.GetProperty("id").GetGuid(), email, password);
    }

    /// <summary>Enrols TOTP for the identity (admin API) and returns its base32 secret.</summary>
    public static async Task<string> EnableTotpAsync(this ServiceNode node, Guid identityId)
    {
        var answer = await node.EnrolTotpAsync(identityId);
        Assert.True(answer.Code is 200 or 201, $"TOTP enrolment answered {answer}");
        var secret = TotpCodes.SecretOf(answer.Json.GetProperty("totp_url").GetString()!);
        Assert.NotNull(secret);
        return secret;
    }

    /// <summary>The TOTP code an authenticator app would show now, by the node's clock.</summary>
    public static string TotpCodeNow(this ServiceNode node, string secret, int stepsFromNow = 0) =>
        new Totp(Base32Encoding.ToBytes(secret)).ComputeTotp(node.Clock.GetUtcNow().UtcDateTime.AddSeconds(30 * stepsFromNow));

    // ---- requests ------------------------------------------------------------------------------

    public static async Task<Answer> SendAsync(this ServiceNode node, HttpMethod method, Uri url, HttpContent? content = null,
        params (string Name, string Value)[] headers)
    {
        using var request = new HttpRequestMessage(method, url) { Content = content };
        foreach (var (name, value) in headers)
            Assert.True(request.Headers.TryAddWithoutValidation(name, value), $"could not add header {name}");
        return await Answer.ReadAsync(await node.Http.SendAsync(request));
    }

    public static StringContent AsJson(JsonNode body) => new(body.ToJsonString(), new MediaTypeHeaderValue("application/json") { CharSet = "utf-8" });

    public static FormUrlEncodedContent Form(params (string Name, string Value)[] fields) =>
        new(fields.Select(f => new KeyValuePair<string, string>(f.Name, f.Value)));

    public static Task<Answer> CreateNativeFlowAsync(this ServiceNode node, string query = "", params (string, string)[] headers) =>
        node.SendAsync(HttpMethod.Get, node.Public("/self-service/login/api" + query), null, headers);

    /// <summary>A new API flow; asserts 200.</summary>
    public static async Task<JsonElement> NewNativeFlowAsync(this ServiceNode node, string query = "", params (string, string)[] headers)
    {
        var answer = await node.CreateNativeFlowAsync(query, headers);
        Assert.True(answer.Status == HttpStatusCode.OK, $"createNativeLoginFlow answered {answer}");
        return answer.Json;
    }

    public static Task<Answer> GetFlowAsync(this ServiceNode node, Guid flowId, params (string, string)[] headers) =>
        node.SendAsync(HttpMethod.Get, node.Public($"/self-service/login/flows?id={flowId}"), null, headers);

    public static Task<Answer> SubmitAsync(this ServiceNode node, Guid flowId, HttpContent body, params (string, string)[] headers) =>
        node.SendAsync(HttpMethod.Post, node.Public($"/self-service/login?flow={flowId}"), body, headers);

    public static JsonObject PasswordBody(string identifier, string password) =>
        new() { ["method"] = "password", ["identifier"] = identifier, ["password"] = password };

    public static JsonObject TotpBody(string code) => new() { ["method"] = "totp", ["totp_code"] = code };

    /// <summary>A whole native password login; asserts 200.</summary>
    public static async Task<NativeLogin> LoginNativeAsync(this ServiceNode node, string identifier, string password)
    {
        var flow = await node.NewNativeFlowAsync();
        var answer = await node.SubmitAsync(FlowId(flow), AsJson(PasswordBody(identifier, password)));
        Assert.True(answer.Status == HttpStatusCode.OK, $"updateLoginFlow answered {answer}");
        return new NativeLogin(answer.Json);
    }

    /// <summary>Signs in with the password, then submits <paramref name="code"/> to an aal2 flow of that session.</summary>
    public static async Task<Answer> SecondFactorAsync(this ServiceNode node, PasswordIdentity identity, string code)
    {
        var login = await node.LoginNativeAsync(identity);
        var flow = await node.NewNativeFlowAsync("?aal=aal2", login.TokenHeader);
        return await node.SubmitAsync(FlowId(flow), AsJson(TotpBody(code)), login.TokenHeader);
    }

    /// <summary>The id of the message on the flow's <c>totp_code</c> field.</summary>
    public static int TotpMessageId(Answer answer) =>
        UiNode(answer.Json, "totp_code").GetProperty("messages")[0].GetProperty("id").GetInt32();

    public static Task<NativeLogin> LoginNativeAsync(this ServiceNode node, PasswordIdentity identity) =>
        node.LoginNativeAsync(identity.Email, identity.Password);

    /// <summary>A new browser flow fetched as an SPA does (<c>Accept: application/json</c>); asserts 200 and the CSRF cookie.</summary>
    public static async Task<BrowserFlow> NewBrowserFlowAsync(this ServiceNode node, string query = "", string? cookieHeader = null)
    {
        var headers = new List<(string, string)> { ("Accept", "application/json") };
        if (cookieHeader is not null)
            headers.Add(("Cookie", cookieHeader));
        var answer = await node.SendAsync(HttpMethod.Get, node.Public("/self-service/login/browser" + query), null, [.. headers]);
        Assert.True(answer.Status == HttpStatusCode.OK, $"createBrowserLoginFlow answered {answer}");
        var csrf = answer.SetCookies().Select(CookiePair).FirstOrDefault(c => c.StartsWith("csrf_token_", StringComparison.Ordinal))
            ?? cookieHeader?.Split(';').Select(c => c.Trim()).FirstOrDefault(c => c.StartsWith("csrf_token_", StringComparison.Ordinal));
        Assert.NotNull(csrf);
        return new BrowserFlow(answer.Json, csrf);
    }

    /// <summary>A browser login by form post, without following the redirect.</summary>
    public static Task<Answer> SubmitBrowserFormAsync(this ServiceNode node, BrowserFlow flow, string identifier, string password,
        string? extraCookies = null, params (string, string)[] headers) =>
        node.SubmitAsync(flow.Id,
            Form(("csrf_token", flow.CsrfToken), ("method", "password"), ("identifier", identifier), ("password", password)),
            [("Cookie", JoinCookies(flow.CsrfCookie, extraCookies)), .. headers]);

    /// <summary>A whole browser password login by form; asserts 303 and returns the session cookie (name=value).</summary>
    public static async Task<string> LoginBrowserAsync(this ServiceNode node, PasswordIdentity identity)
    {
        var flow = await node.NewBrowserFlowAsync();
        var answer = await node.SubmitBrowserFormAsync(flow, identity.Email, identity.Password);
        Assert.True(answer.Status == HttpStatusCode.SeeOther, $"browser login answered {answer}");
        return SessionCookiePair(answer);
    }

    // ---- reading answers -----------------------------------------------------------------------

    public static Guid FlowId(JsonElement flow) => flow.GetProperty("id").GetGuid();

    /// <summary>
    /// The public URL the node writes into flows and links (<c>serve:public:base_url</c>, by default from the
    /// configured port: 0 in tests, so links are followed by their path on the bound port).
    /// </summary>
    public static string PublicBase(this ServiceNode node) => node.Service<IOptions<JsonRenderingOptions>>().Value.PublicBaseUrl;

    /// <summary>A link the node wrote, on the port it is bound to.</summary>
    public static Uri Bound(this ServiceNode node, string link) => node.Public(new Uri(link).PathAndQuery);

    public static IReadOnlyList<string> SetCookies(this Answer answer) =>
        answer.Headers.TryGetValue("Set-Cookie", out var values) ? values : [];

    /// <summary>The name=value part of a Set-Cookie header.</summary>
    public static string CookiePair(string setCookie) => setCookie.Split(';')[0].Trim();

    /// <summary>The session cookie an answer set, as name=value; asserts there is exactly one.</summary>
    public static string SessionCookiePair(Answer answer) =>
        CookiePair(Assert.Single(answer.SetCookies(), c => c.StartsWith(ServiceNode.CookieName + "=", StringComparison.Ordinal)));

    public static string JoinCookies(params string?[] cookies) => string.Join("; ", cookies.Where(c => !string.IsNullOrEmpty(c)));

    /// <summary>The UI node with this attribute name; asserts there is exactly one.</summary>
    public static JsonElement UiNode(JsonElement flow, string name) =>
        Assert.Single(flow.GetProperty("ui").GetProperty("nodes").EnumerateArray(),
            n => n.GetProperty("attributes").GetProperty("name").GetString() == name);

    public static string[] NodeNames(JsonElement flow) =>
        [.. flow.GetProperty("ui").GetProperty("nodes").EnumerateArray().Select(n => n.GetProperty("attributes").GetProperty("name").GetString()!)];

    /// <summary>The ids of the flow's own UI messages.</summary>
    public static long[] MessageIds(JsonElement flow) =>
        flow.GetProperty("ui").TryGetProperty("messages", out var messages) ? [.. messages.EnumerateArray().Select(m => m.GetProperty("id").GetInt64())] : [];

    public static string ErrorId(Answer answer) =>
        answer.Json.GetProperty("error").TryGetProperty("id", out var id) ? id.GetString()! : "";

    /// <summary>The attributes of a Set-Cookie header (names lower-cased; flags map to "").</summary>
    public static Dictionary<string, string> CookieAttributes(string setCookie)
    {
        var attributes = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var part in setCookie.Split(';').Skip(1).Select(p => p.Trim()))
        {
            var eq = part.IndexOf('=');
            attributes[eq < 0 ? part.ToLowerInvariant() : part[..eq].Trim().ToLowerInvariant()] = eq < 0 ? "" : part[(eq + 1)..].Trim();
        }
        return attributes;
    }

    public static void AssertValid(string schema, JsonElement instance)
    {
        var results = KratosSchema.Validate(schema, instance);
        Assert.True(results.IsValid, $"not a valid {schema}:\n{KratosSchema.Describe(results)}\n{instance}");
    }

}
