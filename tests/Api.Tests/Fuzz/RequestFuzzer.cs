using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace OrleansSessions.Api.Tests.Fuzz;

public enum FuzzPort { Public, Admin }

/// <summary>
/// One generated request. Either a well-framed HTTP/1.1 request (method, target, headers, body), sent with
/// HttpClient when it can carry it and as raw bytes otherwise, or <see cref="Raw"/> bytes written to a socket as
/// they are (broken framing, control bytes, truncation).
/// </summary>
public sealed class FuzzRequest
{
    public required int Index { get; init; }
    /// <summary>Which generator made it (the request mix is counted by this).</summary>
    public required string Kind { get; init; }
    public required FuzzPort Port { get; init; }
    /// <summary>The mutations applied to the valid request it started from.</summary>
    public string Mutations { get; set; } = "";

    public string Method { get; set; } = "GET";
    /// <summary>Path and query exactly as they go on the request line.</summary>
    public string Target { get; set; } = "/";
    public List<(string Name, string Value)> Headers { get; } = [];
    public byte[]? Body { get; set; }
    /// <summary>Ask HttpClient to wait for 100 Continue before a (large) body.</summary>
    public bool ExpectContinue { get; set; }
    /// <summary>Send the well-framed request as raw bytes anyway (exact bytes: no normalisation by HttpClient).</summary>
    public bool ForceRaw { get; set; }

    /// <summary>Bytes sent as they are; null for a well-framed request.</summary>
    public byte[]? Raw { get; set; }
    /// <summary>How many requests <see cref="Raw"/> holds back to back (pipelining), and which of them are HEAD (no body in their answer).</summary>
    public bool[] RawHeads { get; set; } = [false];
    /// <summary>
    /// The fuzzer ends its side of the connection (FIN) right after its bytes, before the request is complete.
    /// Kestrel treats a client FIN as the client going away (<c>OnInputOrOutputCompleted</c>: the output is
    /// aborted, <c>ConnectionEndReason.TransportCompleted</c>), so only these requests may be closed without an answer.
    /// </summary>
    public bool HalfClose { get; set; }

    public string? Header(string name) => Headers.FirstOrDefault(h => h.Name.Equals(name, StringComparison.OrdinalIgnoreCase)).Value;

    /// <summary>The well-framed request as bytes on the wire (Host first, Content-Length for a body, Connection: close unless given).</summary>
    public byte[] ToBytes(string authority)
    {
        using var bytes = new MemoryStream();
        void Write(string text) => bytes.Write(Encoding.UTF8.GetBytes(text));
        Write($"{Method} {Target} HTTP/1.1\r\n");
        if (Header("Host") is null)
            Write($"Host: {authority}\r\n");
        foreach (var (name, value) in Headers)
            Write($"{name}: {value}\r\n");
        if (Body is not null && Header("Content-Length") is null && Header("Transfer-Encoding") is null)
            Write($"Content-Length: {Body.Length}\r\n");
        if (Header("Connection") is null)
            Write("Connection: close\r\n");
        Write("\r\n");
        if (Body is not null)
            bytes.Write(Body);
        return bytes.ToArray();
    }

    /// <summary>A readable account of the request for a failure message (long parts cut, control bytes escaped).</summary>
    public string Describe(string authority)
    {
        var wire = Raw ?? ToBytes(authority);
        var text = new StringBuilder();
        foreach (var b in wire.Length > 1500 ? wire[..1500] : wire)
            text.Append(b switch
            {
                (byte)'\r' => "\\r",
                (byte)'\n' => "\\n\n    ",
                (byte)'\\' => "\\\\",
                >= 0x20 and < 0x7f => ((char)b).ToString(),
                _ => $"\\x{b:x2}",
            });
        if (wire.Length > 1500)
            text.Append($"… ({wire.Length} bytes in all)");
        var how = Raw is not null ? "raw" + (HalfClose ? ", then FIN" : "") + (RawHeads.Length > 1 ? $", {RawHeads.Length} pipelined" : "")
            : ForceRaw ? "well-framed, sent raw" : "via HttpClient";
        return $"#{Index} {Kind}{(Mutations.Length > 0 ? " [" + Mutations + "]" : "")} on the {Port} port ({how}):\n    {text}";
    }
}

/// <summary>What the fuzzer may use: the fuzzer's own identities, sessions, flows and form tokens (never the sessions the test watches).</summary>
public sealed record FuzzMaterial
{
    public sealed record Identity(Guid Id, string Email, string Password, string[] Tokens, string[] Cookies, Guid[] SessionIds);

    public sealed record BrowserFlow(Guid Id, string CsrfCookie, string CsrfToken);

    public required string PublicAuthority { get; init; }
    public required string AdminAuthority { get; init; }
    public required string AdminKey { get; init; }
    /// <summary>Identities the fuzzer may read from and log in as; nothing sent with them is meant to end anything.</summary>
    public required Identity[] Keep { get; init; }
    /// <summary>Identities whose sessions and records destructive requests (revoke, logout, delete, disable, patch) target.</summary>
    public required Identity[] Doomed { get; init; }
    public required Guid[] NativeFlows { get; init; }
    public required BrowserFlow[] BrowserFlows { get; init; }
    /// <summary>Logout tokens of doomed browser sessions (with the cookie each belongs to).</summary>
    public required (string Token, string Cookie)[] LogoutTokens { get; init; }
    /// <summary>The anti-forgery cookie (name=value) and form token of the user pages, and of the admin page.</summary>
    public required (string Cookie, string Token) UserForm { get; init; }
    public required (string Cookie, string Token) AdminForm { get; init; }
    public required string CsrfCookieName { get; init; }
}

/// <summary>
/// Generates malformed requests for both ports, each from its index and the run's seed alone (a failure is
/// replayed by the same seed; <c>FUZZ_ONLY</c> replays single indices). Most requests are valid requests of
/// the API (a real whoami, a real login submission with its CSRF token, admin identity and session calls,
/// page form posts …) with one to four mutations; the rest are generated framing, methods and bytes.
/// </summary>
public sealed partial class RequestFuzzer(int seed, FuzzMaterial m)
{
    public const string SessionCookie = "ory_kratos_session";

    public int Seed => seed;

    // ---- the mix ---------------------------------------------------------------------------------

    private static readonly (string Kind, int Weight, Func<RequestFuzzer, Rng, Shape> Make)[] Templates =
    [
        ("whoami", 14, (f, r) => f.Whoami(r)),
        ("my-sessions", 4, (f, r) => f.MySessions(r)),
        ("my-session-delete", 2, (f, r) => f.MySessionDelete(r)),
        ("login-create", 5, (f, r) => f.LoginCreate(r)),
        ("login-get", 3, (f, r) => f.LoginGet(r)),
        ("login-submit", 11, (f, r) => f.LoginSubmit(r)),
        ("logout", 4, (f, r) => f.Logout(r)),
        ("schemas-jwks-health", 3, (f, r) => f.Misc(r)),
        ("user-pages", 6, (f, r) => f.UserPages(r)),
        ("identity-create", 7, (f, r) => f.IdentityCreate(r)),
        ("identity-list", 3, (f, r) => f.IdentityList(r)),
        ("identity-one", 6, (f, r) => f.IdentityOne(r)),
        ("identity-credentials", 2, (f, r) => f.IdentityCredentials(r)),
        ("session-issue", 4, (f, r) => f.SessionIssue(r)),
        ("admin-sessions", 8, (f, r) => f.AdminSessions(r)),
        ("admin-pages", 5, (f, r) => f.AdminPages(r)),
        ("anything", 4, (f, r) => f.Anything(r)),
    ];

    /// <summary>Share of requests that are raw framing attacks rather than mutated API requests.</summary>
    private const double RawShare = 0.18;

    public FuzzRequest Generate(int index)
    {
        var r = new Rng(unchecked(seed * 1_000_003 + index * 7919 + 17));
        if (r.Chance(RawShare))
            return RawFraming(index, r);
        var (kind, _, make) = r.Weighted(Templates, t => t.Weight);
        var shape = make(this, r);
        var mutations = r.Chance(0.08) ? 0 : r.Int(1, 4);
        var applied = new List<string>();
        for (var i = 0; i < mutations; i++)
            applied.Add(Mutate(shape, r));
        var request = shape.ToRequest(index, mutations == 0 ? kind + ":valid" : kind, m);
        request.Mutations = string.Join(',', applied);
        if (r.Chance(0.12))
            request.ForceRaw = true;
        return request;
    }

    /// <summary>
    /// Every request that once got a 5xx here, sent first on every run (the generator finds each only now and then).
    /// </summary>
    public IReadOnlyList<FuzzRequest> Regressions()
    {
        var list = new List<FuzzRequest>();
        var keep = m.Keep[0];
        var doomed = m.Doomed[^1];
        FuzzRequest Add(string name, FuzzPort port, string method, string target, byte[]? body, params (string, string)[] headers)
        {
            var request = new FuzzRequest { Index = -1 - list.Count, Kind = "regression:" + name, Port = port, Method = method, Target = target, Body = body, ForceRaw = true };
            if (port == FuzzPort.Admin)
                request.Headers.Add(("Authorization", "Bearer " + m.AdminKey));
            request.Headers.AddRange(headers);
            list.Add(request);
            return request;
        }
        FuzzRequest Raw(string name, FuzzPort port, string text)
        {
            var request = new FuzzRequest { Index = -1 - list.Count, Kind = "regression:" + name, Port = port, Raw = Encoding.Latin1.GetBytes(text) };
            list.Add(request);
            return request;
        }
        var userForm = Encoding.UTF8.GetBytes("anti_forgery_token=" + Uri.EscapeDataString(m.UserForm.Token));
        var userCookie = ("Cookie", $"{SessionCookie}={doomed.Cookies[0]}; {m.UserForm.Cookie}");
        var adminCookie = ("Cookie", m.AdminForm.Cookie);

        // "head" is not HEAD (methods are case-sensitive): whoami promised its body's length and wrote nothing.
        Add("whoami-lowercase-head", FuzzPort.Public, "head", "/sessions/whoami", null, ("X-Session-Token", keep.Tokens[0]));
        // CONNECT with an origin-form target reaches whoami (every method does): a 2xx to CONNECT may have no Content-Length.
        Raw("whoami-connect", FuzzPort.Public, $"CONNECT /sessions/whoami HTTP/1.1\r\nHost: {m.PublicAuthority}\r\nX-Session-Token: {keep.Tokens[1]}\r\nConnection: close\r\n\r\n");
        // A form in UTF-7, which .NET refuses to decode (NotSupportedException reading the form).
        Add("page-form-utf7", FuzzPort.Public, "POST", "/ui/logout", userForm, userCookie, ("Content-Type", "application/x-www-form-urlencoded; charset=utf-7"));
        Add("login-form-utf7", FuzzPort.Public, "POST", $"/self-service/login?flow={m.BrowserFlows[0].Id}", "method=password&identifier=a&password=b"u8.ToArray(),
            ("Cookie", m.BrowserFlows[0].CsrfCookie), ("Content-Type", "application/x-www-form-urlencoded; charset=utf-7"));
        // Forms over ASP.NET Core's limits, read by the pages' anti-forgery check (AntiforgeryValidationException).
        Add("page-form-key-too-long", FuzzPort.Admin, "POST", $"/admin/ui/identities/{doomed.Id}/state",
            Encoding.UTF8.GetBytes($"anti_forgery_token={Uri.EscapeDataString(m.AdminForm.Token)}&{new string('n', 3000)}=v"),
            adminCookie, ("Content-Type", "application/x-www-form-urlencoded"));
        Add("page-form-too-many-values", FuzzPort.Public, "POST", "/ui/sessions/end-others",
            [.. userForm, .. Encoding.UTF8.GetBytes(string.Concat(Enumerable.Range(0, 1100).Select(i => $"&f{i}=1")))], userCookie, ("Content-Type", "application/x-www-form-urlencoded"));
        // HTTP/1.0 without Host: the pages' base URI was built from the empty host (UriFormatException).
        Raw("page-http10-no-host", FuzzPort.Public, $"GET /ui/sessions HTTP/1.0\r\nCookie: {SessionCookie}={keep.Cookies[0]}\r\n\r\n");
        Raw("admin-page-http10-no-host", FuzzPort.Admin, $"GET /admin/ui HTTP/1.0\r\nAuthorization: Bearer {m.AdminKey}\r\n\r\n");
        Raw("admin-identity-page-http10-no-host", FuzzPort.Admin, $"GET /admin/ui/identities/{keep.Id} HTTP/1.0\r\nAuthorization: Bearer {m.AdminKey}\r\n\r\n");
        // A chunk size that overflows: Kestrel throws IOException ("Bad chunk size data"), not BadHttpRequestException.
        foreach (var (name, port, target) in new[]
        {
            ("chunk-overflow-login", FuzzPort.Public, $"/self-service/login?flow={m.NativeFlows[0]}"), ("chunk-overflow-identity", FuzzPort.Admin, "/admin/identities"),
            ("chunk-overflow-patch", FuzzPort.Admin, $"/admin/identities/{doomed.Id}"), ("chunk-overflow-logout", FuzzPort.Public, "/self-service/logout/api"),
        })
        {
            Add(name, port, name.EndsWith("patch", StringComparison.Ordinal) ? "PATCH" : name.EndsWith("logout", StringComparison.Ordinal) ? "DELETE" : "POST", target,
                "ffffffffffffffffffff\r\n{}\r\n0\r\n\r\n"u8.ToArray(), ("Content-Type", "application/json"), ("Transfer-Encoding", "chunked"));
        }
        Add("chunk-overflow-login-form", FuzzPort.Public, "POST", $"/self-service/login?flow={m.BrowserFlows[1].Id}", "ffffffffffffffffffff\r\nx\r\n0\r\n\r\n"u8.ToArray(),
            ("Cookie", m.BrowserFlows[1].CsrfCookie), ("Content-Type", "application/x-www-form-urlencoded"), ("Transfer-Encoding", "chunked"));
        Add("chunk-overflow-page-form", FuzzPort.Public, "POST", "/ui/logout", "ffffffffffffffffffff\r\nx\r\n0\r\n\r\n"u8.ToArray(),
            userCookie, ("Content-Type", "application/x-www-form-urlencoded"), ("Transfer-Encoding", "chunked"));
        foreach (var request in list.Where(r => r.Raw is null && r.Header("Transfer-Encoding") is not null))
            request.Raw = request.ToBytes(request.Port == FuzzPort.Admin ? m.AdminAuthority : m.PublicAuthority);
        // JSON that is not Unicode text in a name: System.Text.Json parses it, and reading the name throws.
        Add("identity-invalid-utf8-name", FuzzPort.Admin, "POST", "/admin/identities",
            [.. "{\"schema_id\":\"default\",\"traits\":{\"email\":\"u8@example.com\"},\"credentials\":{\"pa"u8, 0xff, .. "ss\":{\"config\":{}}}}"u8], ("Content-Type", "application/json"));
        Add("identity-lone-surrogate-name", FuzzPort.Admin, "POST", "/admin/identities",
            "{\"schema_id\":\"default\",\"traits\":{\"email\":\"ls@example.com\"},\"credentials\":{\"\\ud800\":{\"config\":{}}}}"u8.ToArray(), ("Content-Type", "application/json"));
        Add("identity-invalid-utf8-traits", FuzzPort.Admin, "POST", "/admin/identities",
            [.. "{\"schema_id\":\"default\",\"traits\":{\"e"u8, 0xc3, 0x28, .. "\":\"x\"}}"u8], ("Content-Type", "application/json"));
        return list;
    }

    // ---- shapes: valid requests of the API ------------------------------------------------------

    /// <summary>A request being built: query parameters kept apart so that they can be mutated one by one.</summary>
    private sealed class Shape(FuzzPort port, string method, string path)
    {
        public FuzzPort Port = port;
        public string Method = method;
        public string Path = path;
        public List<(string Name, string Value)> Query = [];
        public List<(string Name, string Value)> Headers = [];
        public byte[]? Body;
        public BodyKind BodyKind;
        public JsonNode? Json;
        public List<(string Name, string Value)>? Form;
        public bool ExpectContinue;
        public bool AdminAuth = port == FuzzPort.Admin;

        public Shape Q(string name, string value) { Query.Add((name, value)); return this; }
        public Shape H(string name, string value) { Headers.Add((name, value)); return this; }

        public Shape WithJson(JsonNode json)
        {
            Json = json;
            BodyKind = BodyKind.Json;
            H("Content-Type", "application/json");
            return this;
        }

        public Shape WithForm(params (string Name, string Value)[] fields)
        {
            Form = [.. fields];
            BodyKind = BodyKind.Form;
            H("Content-Type", "application/x-www-form-urlencoded");
            return this;
        }

        public FuzzRequest ToRequest(int index, string kind, FuzzMaterial m)
        {
            var request = new FuzzRequest { Index = index, Kind = kind, Port = Port, Method = Method, ExpectContinue = ExpectContinue };
            request.Target = Path + (Query.Count == 0 ? "" : "?" + string.Join('&', Query.Select(q => q.Value.Length == 0 && q.Name.EndsWith('!') ? q.Name[..^1] : q.Name + "=" + q.Value)));
            if (AdminAuth)
                request.Headers.Add(("Authorization", "Bearer " + m.AdminKey));
            request.Headers.AddRange(Headers);
            request.Body = Body ?? BodyKind switch
            {
                BodyKind.Json => Encoding.UTF8.GetBytes(Json?.ToJsonString() ?? "null"),
                BodyKind.Form => Encoding.UTF8.GetBytes(string.Join('&', Form!.Select(f => f.Name + "=" + f.Value))),
                _ => null,
            };
            return request;
        }
    }

    private enum BodyKind { None, Json, Form, Bytes }

    private FuzzMaterial.Identity KeepIdentity(Rng r) => r.Pick(m.Keep);
    private FuzzMaterial.Identity DoomedIdentity(Rng r) => r.Pick(m.Doomed);
    private FuzzMaterial.Identity AnyIdentity(Rng r) => r.Chance(0.5) ? KeepIdentity(r) : DoomedIdentity(r);

    /// <summary>A credential of a keep identity, as one of the ways a client presents one.</summary>
    private void Credential(Shape s, Rng r, FuzzMaterial.Identity who, bool cookieOnly = false)
    {
        switch (cookieOnly ? 2 : r.Int(0, 3))
        {
            case 0: s.H("X-Session-Token", r.Pick(who.Tokens)); break;
            case 1: s.H("Authorization", "Bearer " + r.Pick(who.Tokens)); break;
            default: s.H("Cookie", $"{SessionCookie}={r.Pick(who.Cookies)}"); break;
        }
    }

    private static readonly string[] WhoamiMethods = ["GET", "GET", "GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"];

    private Shape Whoami(Rng r)
    {
        var s = new Shape(FuzzPort.Public, r.Pick(WhoamiMethods), "/sessions/whoami");
        Credential(s, r, KeepIdentity(r));
        if (r.Chance(0.2))
            s.Q("tokenize_as", r.Pick(["jwt", "jwt", "nope", ""]));
        if (r.Chance(0.15))
            s.H("X-Request-ID", Guid.NewGuid().ToString());
        return s;
    }

    private Shape MySessions(Rng r)
    {
        var s = new Shape(FuzzPort.Public, "GET", "/sessions");
        Credential(s, r, KeepIdentity(r));
        PaginationQuery(s, r);
        return s;
    }

    private Shape MySessionDelete(Rng r)
    {
        var who = DoomedIdentity(r);
        var s = r.Chance(0.3) ? new Shape(FuzzPort.Public, "DELETE", "/sessions") : new Shape(FuzzPort.Public, "DELETE", $"/sessions/{r.Pick(who.SessionIds)}");
        Credential(s, r, who);
        return s;
    }

    private static readonly string[] ReturnTos = ["https://app.example.com/dashboard", "http://127.0.0.1:4455/", "https://evil.example/", "/relative", "javascript:alert(1)", "//evil.example", "http://[::1", ""];

    private Shape LoginCreate(Rng r)
    {
        var browser = r.Chance(0.5);
        var s = new Shape(FuzzPort.Public, "GET", browser ? "/self-service/login/browser" : "/self-service/login/api");
        if (r.Chance(0.3)) s.Q("refresh", r.Pick(["true", "false", "1", "yes"]));
        if (r.Chance(0.3)) s.Q("aal", r.Pick(["aal1", "aal2", "aal3", ""]));
        if (r.Chance(0.3)) s.Q("return_to", Uri.EscapeDataString(r.Pick(ReturnTos)));
        if (r.Chance(0.1)) s.Q("via", "email");
        if (r.Chance(0.1)) s.Q("login_challenge", Guid.NewGuid().ToString("N"));
        if (r.Chance(0.1)) s.Q("return_session_token_exchange_code", "true");
        if (browser)
            s.H("Accept", r.Pick(["application/json", "text/html", "*/*", "application/json;q=0.1, text/html"]));
        if (r.Chance(0.3))
            Credential(s, r, KeepIdentity(r), cookieOnly: browser);
        return s;
    }

    private Shape LoginGet(Rng r)
    {
        var s = new Shape(FuzzPort.Public, "GET", "/self-service/login/flows");
        if (r.Chance(0.5))
        {
            var flow = r.Pick(m.BrowserFlows);
            s.Q("id", flow.Id.ToString()).H("Cookie", flow.CsrfCookie);
        }
        else
            s.Q("id", r.Pick(m.NativeFlows).ToString());
        return s;
    }

    private Shape LoginSubmit(Rng r)
    {
        var who = KeepIdentity(r);
        var password = r.Chance(0.5) ? who.Password : "wrong-" + r.Int(0, 1000);
        if (r.Chance(0.5))
        {
            var s = new Shape(FuzzPort.Public, "POST", "/self-service/login").Q("flow", r.Pick(m.NativeFlows).ToString());
            var body = new JsonObject { ["method"] = r.Chance(0.9) ? "password" : "totp", ["identifier"] = who.Email, ["password"] = password };
            if (r.Chance(0.2)) body["password_identifier"] = who.Email;
            if (r.Chance(0.1)) body["totp_code"] = r.Int(0, 999999).ToString("D6");
            return s.WithJson(body);
        }
        var flow = r.Pick(m.BrowserFlows);
        var b = new Shape(FuzzPort.Public, "POST", "/self-service/login").Q("flow", flow.Id.ToString());
        b.H("Cookie", flow.CsrfCookie);
        if (r.Chance(0.5))
        {
            b.WithForm(("csrf_token", Uri.EscapeDataString(flow.CsrfToken)), ("method", "password"),
                ("identifier", Uri.EscapeDataString(who.Email)), ("password", Uri.EscapeDataString(password)));
            b.H("Accept", r.Pick(["text/html", "application/json"]));
        }
        else
        {
            b.WithJson(new JsonObject { ["csrf_token"] = flow.CsrfToken, ["method"] = "password", ["identifier"] = who.Email, ["password"] = password });
            b.H("Accept", "application/json");
            if (r.Chance(0.3)) b.H("X-CSRF-Token", flow.CsrfToken);
        }
        return b;
    }

    private Shape Logout(Rng r)
    {
        switch (r.Int(0, 3))
        {
            case 0:
                return new Shape(FuzzPort.Public, "DELETE", "/self-service/logout/api")
                    .WithJson(new JsonObject { ["session_token"] = r.Pick(DoomedIdentity(r).Tokens) });
            case 1:
            {
                var s = new Shape(FuzzPort.Public, "GET", "/self-service/logout/browser");
                Credential(s, r, KeepIdentity(r), cookieOnly: true);
                s.H("Accept", r.Pick(["application/json", "text/html"]));
                if (r.Chance(0.3)) s.Q("return_to", Uri.EscapeDataString(r.Pick(ReturnTos)));
                return s;
            }
            default:
            {
                var (token, cookie) = r.Pick(m.LogoutTokens);
                var s = new Shape(FuzzPort.Public, "GET", "/self-service/logout").Q("token", token).H("Cookie", $"{SessionCookie}={cookie}");
                if (r.Chance(0.3)) s.Q("return_to", Uri.EscapeDataString(r.Pick(ReturnTos)));
                return s;
            }
        }
    }

    private Shape Misc(Rng r)
    {
        var port = r.Chance(0.7) ? FuzzPort.Public : FuzzPort.Admin;
        var path = r.Pick(["/schemas", "/schemas/default", "/schemas/ZGVmYXVsdA", "/.well-known/jwks.json", "/health/alive", "/health/ready", "/ui/assets/site.css", "/ui/", "/"]);
        var s = new Shape(port, "GET", path);
        if (path == "/schemas" && r.Chance(0.5)) PaginationQuery(s, r);
        return s;
    }

    private Shape UserPages(Rng r)
    {
        switch (r.Int(0, 5))
        {
            case 0:
            {
                var flow = r.Pick(m.BrowserFlows);
                var s = new Shape(FuzzPort.Public, "GET", "/ui/login").Q("flow", flow.Id.ToString()).H("Cookie", flow.CsrfCookie);
                if (r.Chance(0.3)) s.Q("return_to", Uri.EscapeDataString(r.Pick(ReturnTos)));
                return s;
            }
            case 1:
            {
                var s = new Shape(FuzzPort.Public, "GET", "/ui/sessions");
                Credential(s, r, KeepIdentity(r), cookieOnly: true);
                if (r.Chance(0.4)) s.Q("notice", r.Pick(["ended", "ended-others", "form-expired", "signed-in-again"])).Q("count", r.Int(-5, 50).ToString());
                return s;
            }
            default:
            {
                var who = DoomedIdentity(r);
                var action = r.Pick(["/ui/sessions/end", "/ui/sessions/end-others", "/ui/logout"]);
                var s = new Shape(FuzzPort.Public, "POST", action)
                    .H("Cookie", $"{SessionCookie}={r.Pick(who.Cookies)}; {m.UserForm.Cookie}");
                var fields = new List<(string, string)> { ("anti_forgery_token", Uri.EscapeDataString(m.UserForm.Token)) };
                if (action.EndsWith("/end", StringComparison.Ordinal)) fields.Add(("session_id", r.Pick(who.SessionIds).ToString()));
                return s.WithForm([.. fields]);
            }
        }
    }

    private JsonObject IdentityBody(Rng r)
    {
        var body = new JsonObject
        {
            ["schema_id"] = "default",
            ["traits"] = new JsonObject { ["email"] = $"fuzz-{r.Int(0, int.MaxValue):x}@example.com" },
        };
        if (r.Chance(0.3)) body["state"] = r.Pick(["active", "inactive"]);
        if (r.Chance(0.3)) body["metadata_public"] = new JsonObject { ["plan"] = "free" };
        if (r.Chance(0.2)) body["metadata_admin"] = new JsonObject { ["note"] = "x" };
        if (r.Chance(0.2)) body["external_id"] = $"ext-{r.Int(0, 100000)}";
        if (r.Chance(0.3))
            body["credentials"] = new JsonObject
            {
                ["password"] = new JsonObject
                {
                    ["config"] = r.Chance(0.7)
                        ? new JsonObject { ["password"] = "pw-" + r.Int(0, 1 << 20) }
                        : new JsonObject { ["hashed_password"] = r.Pick(["$argon2id$v=19$m=1024,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo", "$2a$10$abcdefghijklmnopqrstuv", "$pbkdf2-sha256$i=1,l=32$c2FsdA$aGFzaA", "plain"]) },
                },
            };
        return body;
    }

    private Shape IdentityCreate(Rng r) => new Shape(FuzzPort.Admin, "POST", "/admin/identities").WithJson(IdentityBody(r));

    private Shape IdentityList(Rng r)
    {
        var s = new Shape(FuzzPort.Admin, "GET", r.Chance(0.8) ? "/admin/identities" : "/identities");
        PaginationQuery(s, r);
        if (r.Chance(0.3)) s.Q("credentials_identifier", Uri.EscapeDataString(KeepIdentity(r).Email));
        if (r.Chance(0.3)) s.Q("ids", AnyIdentity(r).Id.ToString());
        if (r.Chance(0.2)) s.Q("ids", AnyIdentity(r).Id.ToString());
        if (r.Chance(0.1)) s.Q("preview_credentials_identifier_similar", "fuzz");
        if (r.Chance(0.1)) s.Q("include_credential", "password");
        return s;
    }

    private Shape IdentityOne(Rng r)
    {
        switch (r.Int(0, 5))
        {
            case 0:
            case 1:
            {
                var s = new Shape(FuzzPort.Admin, "GET", $"/admin/identities/{AnyIdentity(r).Id}");
                if (r.Chance(0.3)) s.Q("include_credential", r.Pick(["password", "totp", "oidc"]));
                return s;
            }
            case 2:
            {
                var who = DoomedIdentity(r);
                var body = IdentityBody(r);
                body["traits"] = new JsonObject { ["email"] = who.Email };
                body["state"] = r.Chance(0.8) ? "active" : "inactive";
                return new Shape(FuzzPort.Admin, "PUT", $"/admin/identities/{who.Id}").WithJson(body);
            }
            case 3:
            {
                var who = DoomedIdentity(r);
                var ops = new JsonArray();
                for (var i = r.Int(1, 3); i > 0; i--)
                    ops.Add(r.Int(0, 5) switch
                    {
                        0 => new JsonObject { ["op"] = "replace", ["path"] = "/metadata_public", ["value"] = new JsonObject { ["n"] = r.Int(0, 9) } },
                        1 => new JsonObject { ["op"] = "add", ["path"] = "/metadata_admin/x", ["value"] = "y" },
                        2 => new JsonObject { ["op"] = "remove", ["path"] = "/metadata_public" },
                        3 => new JsonObject { ["op"] = "test", ["path"] = "/schema_id", ["value"] = "default" },
                        4 => new JsonObject { ["op"] = r.Pick(["move", "copy"]), ["from"] = "/metadata_public", ["path"] = "/metadata_admin" },
                        _ => new JsonObject { ["op"] = "replace", ["path"] = "/state", ["value"] = "active" },
                    });
                return new Shape(FuzzPort.Admin, "PATCH", $"/admin/identities/{who.Id}").WithJson(ops);
            }
            default:
                return new Shape(FuzzPort.Admin, "DELETE", $"/admin/identities/{(r.Chance(0.2) ? DoomedIdentity(r).Id : Guid.NewGuid())}");
        }
    }

    private Shape IdentityCredentials(Rng r)
    {
        var who = DoomedIdentity(r);
        return r.Chance(0.5)
            ? new Shape(FuzzPort.Admin, "PUT", $"/admin/identities/{who.Id}/credentials/totp").WithJson(new JsonObject())
            : new Shape(FuzzPort.Admin, "DELETE", $"/admin/identities/{who.Id}/credentials/{r.Pick(["totp", "password", "oidc", "webauthn", "lookup_secret"])}");
    }

    private Shape SessionIssue(Rng r)
    {
        var body = new JsonObject { ["channel"] = r.Pick(["api", "browser"]) };
        if (r.Chance(0.3)) body["lifespan"] = r.Pick(["30m", "1h", "24h", "1h30m", "90s"]);
        if (r.Chance(0.2)) body["aal"] = "aal1";
        if (r.Chance(0.2)) body["authentication_methods"] = new JsonArray(new JsonObject { ["method"] = "password", ["aal"] = "aal1" });
        if (r.Chance(0.3)) body["device"] = new JsonObject { ["ip_address"] = r.Pick(["203.0.113.7", "2001:db8::1"]), ["user_agent"] = "FuzzAgent/1.0" };
        return new Shape(FuzzPort.Admin, "POST", $"/admin/identities/{AnyIdentity(r).Id}/sessions").WithJson(body);
    }

    private Shape AdminSessions(Rng r)
    {
        switch (r.Int(0, 6))
        {
            case 0:
            case 1:
            {
                var s = new Shape(FuzzPort.Admin, "GET", r.Chance(0.85) ? "/admin/sessions" : "/sessions");
                PaginationQuery(s, r);
                if (r.Chance(0.4)) s.Q("active", r.Pick(["true", "false"]));
                if (r.Chance(0.4)) s.Q("expand", r.Pick(["identity", "devices"]));
                if (r.Chance(0.2)) s.Q("expand", r.Pick(["identity", "devices"]));
                return s;
            }
            case 2:
            {
                var s = new Shape(FuzzPort.Admin, "GET", $"/admin/sessions/{r.Pick(AnyIdentity(r).SessionIds)}");
                if (r.Chance(0.4)) s.Q("expand", r.Pick(["identity", "devices"]));
                return s;
            }
            case 3:
                return new Shape(FuzzPort.Admin, "DELETE", $"/admin/sessions/{(r.Chance(0.3) ? r.Pick(DoomedIdentity(r).SessionIds) : Guid.NewGuid())}");
            case 4:
                return new Shape(FuzzPort.Admin, "PATCH", $"/admin/sessions/{r.Pick(AnyIdentity(r).SessionIds)}/extend");
            case 5:
            {
                var s = new Shape(FuzzPort.Admin, "GET", $"/admin/identities/{AnyIdentity(r).Id}/sessions");
                PaginationQuery(s, r);
                if (r.Chance(0.3)) s.Q("active", r.Pick(["true", "false"]));
                return s;
            }
            default:
                return r.Chance(0.8)
                    ? new Shape(FuzzPort.Admin, "DELETE", $"/admin/identities/{DoomedIdentity(r).Id}/sessions")
                    : new Shape(FuzzPort.Admin, "POST", "/admin/jwks/rotate");
        }
    }

    private Shape AdminPages(Rng r)
    {
        switch (r.Int(0, 5))
        {
            case 0:
            {
                var s = new Shape(FuzzPort.Admin, "GET", "/admin/ui");
                if (r.Chance(0.9)) s.Q("q", Uri.EscapeDataString(r.Chance(0.5) ? AnyIdentity(r).Email : AnyIdentity(r).Id.ToString()));
                return s;
            }
            case 1:
            {
                var s = new Shape(FuzzPort.Admin, "GET", $"/admin/ui/identities/{AnyIdentity(r).Id}");
                if (r.Chance(0.3)) s.Q("notice", r.Pick(["active", "inactive", "revoked", "revoked-all"]));
                return s;
            }
            default:
            {
                var who = DoomedIdentity(r);
                var (path, fields) = r.Int(0, 2) switch
                {
                    0 => ($"/admin/ui/identities/{who.Id}/state", new List<(string, string)> { ("state", r.Chance(0.8) ? "active" : "inactive") }),
                    1 => ($"/admin/ui/identities/{who.Id}/revoke-all", new List<(string, string)>()),
                    _ => ($"/admin/ui/identities/{who.Id}/sessions/{r.Pick(who.SessionIds)}/revoke", new List<(string, string)>()),
                };
                fields.Insert(0, ("anti_forgery_token", Uri.EscapeDataString(m.AdminForm.Token)));
                var s = new Shape(FuzzPort.Admin, "POST", path).H("Cookie", m.AdminForm.Cookie);
                if (r.Chance(0.3))
                {
                    s.AdminAuth = false;
                    s.H("Authorization", "Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes("admin:" + m.AdminKey)));
                }
                return s.WithForm([.. fields]);
            }
        }
    }

    private static readonly string[] AllPaths =
    [
        "/sessions/whoami", "/sessions", "/sessions/{g}", "/self-service/login/api", "/self-service/login/browser", "/self-service/login/flows",
        "/self-service/login", "/self-service/logout/api", "/self-service/logout/browser", "/self-service/logout", "/schemas", "/schemas/{g}",
        "/.well-known/jwks.json", "/ui/login", "/ui/sessions", "/ui/sessions/end", "/ui/sessions/end-others", "/ui/logout", "/ui/",
        "/admin/identities", "/admin/identities/{g}", "/admin/identities/{g}/sessions", "/admin/identities/{g}/credentials/totp",
        "/admin/identities/{g}/credentials/password", "/admin/sessions", "/admin/sessions/{g}", "/admin/sessions/{g}/extend", "/admin/jwks/rotate",
        "/admin/ui", "/admin/ui/identities/{g}", "/admin/ui/identities/{g}/state", "/admin/ui/identities/{g}/revoke-all",
        "/admin/ui/identities/{g}/sessions/{g}/revoke", "/admin/dashboard", "/health/alive", "/health/ready", "/", "/favicon.ico", "/metrics",
    ];

    private static readonly string[] Methods = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "TRACE", "get", "Post", "PROPFIND", "MKCOL", "PURGE", "QUERY", "X-FUZZ", "BREW"];

    private Shape Anything(Rng r)
    {
        var path = r.Pick(AllPaths).Replace("{g}", r.Chance(0.5) ? Guid.NewGuid().ToString() : AnyIdentity(r).Id.ToString());
        var s = new Shape(r.Chance(0.5) ? FuzzPort.Public : FuzzPort.Admin, r.Pick(Methods), path);
        if (r.Chance(0.5))
            Credential(s, r, KeepIdentity(r));
        if (r.Chance(0.5))
        {
            s.Body = RandomBody(r, out var contentType);
            s.BodyKind = BodyKind.Bytes;
            if (contentType is not null) s.H("Content-Type", contentType);
        }
        return s;
    }

    private static void PaginationQuery(Shape s, Rng r)
    {
        if (r.Chance(0.5)) s.Q("page_size", r.Pick(["1", "2", "250", "1000", "0", "-1"]));
        if (r.Chance(0.3)) s.Q("page_token", Base64Url($$"""{"offset":"{{r.Int(0, 20)}}","v":2}"""));
        if (r.Chance(0.2)) s.Q("page", r.Int(0, 3).ToString());
        if (r.Chance(0.2)) s.Q("per_page", r.Pick(["1", "10", "500"]));
    }

    private static string Base64Url(string text) => Convert.ToBase64String(Encoding.UTF8.GetBytes(text)).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    // ---- mutations -------------------------------------------------------------------------------

    private static readonly (string Name, int Weight)[] MutationKinds =
    [
        ("method", 5), ("path", 6), ("query", 12), ("header", 14), ("credential", 12), ("cookie", 8), ("admin-key", 4),
        ("body", 18), ("content-type", 7), ("id", 9), ("huge", 3), ("framing", 3),
    ];

    private string Mutate(Shape s, Rng r)
    {
        var kind = r.Weighted(MutationKinds, k => k.Weight).Name;
        switch (kind)
        {
            case "method":
                s.Method = r.Chance(0.7) ? r.Pick(Methods) : r.Chance(0.5) ? s.Method.ToLowerInvariant() : s.Method + r.Pick(["X", "_", "-1"]);
                break;
            case "path":
                s.Path = MutatePath(s.Path, r);
                break;
            case "query":
                MutateQuery(s, r);
                break;
            case "header":
                MutateHeaders(s, r);
                break;
            case "credential":
                MutateCredential(s, r);
                break;
            case "cookie":
                MutateCookie(s, r);
                break;
            case "admin-key":
                MutateAdminKey(s, r);
                break;
            case "body":
                MutateBody(s, r);
                break;
            case "content-type":
                s.Headers.RemoveAll(h => h.Name.Equals("Content-Type", StringComparison.OrdinalIgnoreCase));
                if (r.Chance(0.85)) s.H("Content-Type", r.Pick(ContentTypes));
                if (s.Body is null && s.BodyKind == BodyKind.None && r.Chance(0.5)) { s.Body = RandomBody(r, out _); s.BodyKind = BodyKind.Bytes; }
                break;
            case "id":
                MutateIds(s, r);
                break;
            case "huge":
                switch (r.Int(0, 3))
                {
                    case 0: s.Q(r.Pick(["flow", "id", "page_token", "return_to", "q", "x"]), new string(r.Pick(['a', '%', '9', 'z']) == '%' ? 'b' : 'a', r.Int(2000, 9000))); break;
                    case 1: s.H("X-Fuzz-Big", new string('h', r.Int(4000, 40000))); break;
                    case 2: for (var i = r.Int(50, 130); i > 0; i--) s.H($"X-Many-{i}", "v"); break;
                    default:
                        s.Body = Encoding.UTF8.GetBytes("{\"traits\":{\"blob\":\"" + new string('a', r.Chance(0.5) ? 1024 * 1024 + 16 : r.Int(100_000, 900_000)) + "\"}}");
                        s.BodyKind = BodyKind.Bytes;
                        s.ExpectContinue = true;
                        break;
                }
                break;
            case "framing":
                s.H(r.Pick(["Transfer-Encoding", "Content-Length", "Expect", "Connection", "Upgrade", "Host", "TE", "Trailer"]),
                    r.Pick(["chunked", "gzip", "0", "-1", "99999999999999999999", "100-continue", "bogus", "keep-alive", "Upgrade", "websocket", "h2c", "evil.example", "", "trailers"]));
                break;
        }
        return kind;
    }

    private static readonly string[] ContentTypes =
    [
        "application/json", "application/json; charset=utf-8", "application/json; charset=utf-16", "application/json; charset=\"", "application/json;;;",
        "application/x-www-form-urlencoded", "application/x-www-form-urlencoded; charset=utf-7", "multipart/form-data", "multipart/form-data; boundary=",
        "multipart/form-data; boundary=" + new string('b', 200), "multipart/form-data; boundary=fuzz", "multipart/mixed; boundary=fuzz", "text/plain",
        "text/html; charset=latin1", "application/xml", "application/merge-patch+json", "application/json-patch+json", "*/*", "", ";", "garbage",
        "application/", "/json", "application/json; charset=nonexistent-charset", "APPLICATION/JSON", "application/x-www-form-urlencoded, application/json",
        "multipart/form-data; boundary=\"unterminated", "application/octet-stream", "image/png",
    ];

    private static string MutatePath(string path, Rng r) => r.Int(0, 13) switch
    {
        0 => path + "/",
        1 => "/" + path,
        2 => path.Replace("/", "//"),
        3 => path + "/../" + r.Pick(["admin", "sessions", "ui", ".."]),
        4 => path.Replace("/", "/%2F").TrimStart('%', '2', 'F'),
        5 => path.ToUpperInvariant(),
        6 => path + ";jsessionid=" + r.Int(0, 1000),
        7 => path + "%00",
        8 => path + "/" + new string('x', r.Int(100, 5000)),
        9 => path.Replace("s", "%73"),
        10 => path + "/./.",
        11 => path + "%",
        12 => path + "%zz%c3%28%ff",
        _ => path + "/extra",
    };

    private static void MutateQuery(Shape s, Rng r)
    {
        switch (r.Int(0, 12))
        {
            case 0 when s.Query.Count > 0:
                s.Query.Add(r.Pick(s.Query)); // repeated
                break;
            case 1 when s.Query.Count > 0:
            {
                var i = r.Int(0, s.Query.Count - 1);
                s.Query[i] = (s.Query[i].Name, MutateText(s.Query[i].Value, r, urlSafe: true));
                break;
            }
            case 2 when s.Query.Count > 0:
                s.Query.RemoveAt(r.Int(0, s.Query.Count - 1));
                break;
            case 3:
                s.Q(r.Pick(KnownParams), r.Pick(OddValues));
                break;
            case 4:
                s.Q(r.Pick(KnownParams) + "!", ""); // a name without '='
                break;
            case 5:
                s.Q(r.Pick(["%", "%zz", "%c3%28", "%00", "%ff%fe", "%e2%82", "a%2", "%%", "+", "%u0041", "%C0%AF"]), r.Pick(OddValues));
                break;
            case 6:
                s.Q(r.Pick(KnownParams), r.Pick(["%", "%zz", "%c3%28", "%00", "%ff%fe", "%e2%82", "a%2", "%%", "%ed%a0%80", "%C0%AF", "%F4%90%80%80"]));
                break;
            case 7:
                for (var i = r.Int(20, 400); i > 0; i--) s.Q(r.Pick(KnownParams), i.ToString());
                break;
            case 8:
                s.Q(r.Pick(KnownParams) + "[]", "1").Q(r.Pick(KnownParams) + "[a][b]", "2");
                break;
            case 9:
                s.Q("", r.Pick(OddValues));
                break;
            case 10:
                s.Query.Add(("&&&", "==="));
                break;
            default:
                s.Q(r.Pick(KnownParams), Uri.EscapeDataString(new string('\u00e9', r.Int(1, 3000))));
                break;
        }
    }

    private static readonly string[] KnownParams =
    [
        "flow", "id", "token", "return_to", "refresh", "aal", "tokenize_as", "page_size", "page_token", "page", "per_page", "active", "expand",
        "ids", "credentials_identifier", "q", "notice", "count", "include_credential", "via", "login_challenge", "session_id",
    ];

    private static readonly string[] OddValues =
    [
        "", "0", "-1", "-9223372036854775808", "9223372036854775807", "99999999999999999999999", "1e400", "NaN", "null", "true", "[]", "{}",
        "00000000-0000-0000-0000-000000000000", "not-a-uuid", "%00", "%20", "+", "%2B%2B", "..%2F..%2F", "%0d%0aX-Injected:%201",
        "javascript%3Aalert(1)", "https%3A%2F%2Fevil.example", "%F0%9F%98%80", "%ed%a0%80", "0x10", " 5", "5 ", "+5", "1.5", "ZXlK", "eyJvZmZzZXQiOiItMSJ9",
        "eyJvZmZzZXQiOiI5MjIzMzcyMDM2ODU0Nzc1ODA3IiwidiI6Mn0", "eyJvZmZzZXQiOnRydWV9", "W10", "bnVsbA", "!!!", "%3Cscript%3E",
    ];

    /// <summary>A text changed the way a bad client changes one: cut, grown, flipped, encoded wrongly.</summary>
    private static string MutateText(string value, Rng r, bool urlSafe = false)
    {
        var text = r.Int(0, 14) switch
        {
            0 => value.Length > 1 ? value[..r.Int(0, value.Length - 1)] : "",
            1 => value + value,
            2 => value.Length > 0 ? value.Remove(r.Int(0, value.Length - 1), 1) : "x",
            3 => value.Length > 0 ? Flip(value, r) : "x",
            4 => value.ToUpperInvariant(),
            5 => value + r.Pick(["=", "==", "===", ".", "-", "_", "/", "+", "%", ";", ",", "\"", "'", "\\"]),
            6 => "",
            7 => new string(value.Reverse().ToArray()),
            8 => Convert.ToBase64String(Encoding.UTF8.GetBytes(value)),
            9 => "\"" + value + "\"",
            10 => " " + value + " ",
            11 => string.Concat(Enumerable.Repeat(value.Length == 0 ? "x" : value, r.Int(2, 200))),
            12 => value + "é€😀",
            13 => value.Insert(value.Length == 0 ? 0 : r.Int(0, value.Length - 1), r.Pick(["%", "%00", "\\u0000", "..", "::", "@"])),
            _ => r.Pick(OddValues),
        };
        return urlSafe ? UrlSafe(text) : text;
    }

    /// <summary>Percent-encodes what cannot stand in a query as is (a space, a non-ASCII character), keeping % and the rest.</summary>
    private static string UrlSafe(string text)
    {
        var builder = new StringBuilder(text.Length);
        foreach (var b in Encoding.UTF8.GetBytes(text))
            builder.Append(b is > 0x20 and < 0x7f and not (byte)'#' and not (byte)'&' ? ((char)b).ToString() : $"%{b:X2}");
        return builder.ToString();
    }

    private static string Flip(string value, Rng r)
    {
        var chars = value.ToCharArray();
        var i = r.Int(0, chars.Length - 1);
        chars[i] = chars[i] == 'A' ? 'B' : chars[i] is >= 'a' and <= 'z' ? char.ToUpperInvariant(chars[i]) : 'A';
        return new string(chars);
    }

    private static readonly string[] OddHeaderNames =
    [
        "X-Session-Token", "Authorization", "Cookie", "Accept", "Accept-Language", "Accept-Encoding", "User-Agent", "X-Forwarded-For", "X-Real-IP",
        "True-Client-IP", "Forwarded", "X-Forwarded-Proto", "X-Forwarded-Host", "Origin", "Referer", "X-Request-ID", "Cf-Ipcity", "Cf-Ipcountry",
        "X-CSRF-Token", "If-None-Match", "If-Modified-Since", "Range", "Content-Encoding", "Content-Language", "X-HTTP-Method-Override", "Via",
        "Cache-Control", "Pragma", "Sec-Fetch-Site", "Sec-Fetch-Mode", "DNT", "X-Kratos-Authenticated-Identity-Id",
    ];

    private static readonly string[] OddHeaderValues =
    [
        "", " ", "\t", "*", "null", "undefined", ",,,", ";;;", "=", "a=b=c", "\"", "\"unterminated", "1.2.3.4", "999.999.999.999", "::1", "[::1]:80",
        "2001:db8::1, 10.0.0.1, 127.0.0.1", "unknown, , 1.1.1.1", "for=\"[2001:db8::1]\";proto=https", "for=", "gzip, deflate, br, zstd, *;q=0",
        "bytes=0-0,-1", "text/html;q=abc", "application/json;q=-1", "en-US,en;q=0.9,*;q=0.1", "Mozilla/5.0 (X11; Linux x86_64) Fuzz/1.0",
        "https://evil.example", "null", "Bearer", "Basic", "Basic !!!", "Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes("admin")),
        "Negotiate abc", "ory_st_", "ory_st_" + new string('A', 32), "Wed, 31 Dec 1969 23:59:59 GMT", "%00", "\\x00", "é", "日本語",
    ];

    private void MutateHeaders(Shape s, Rng r)
    {
        switch (r.Int(0, 7))
        {
            case 0:
                s.H(r.Pick(OddHeaderNames), r.Pick(OddHeaderValues));
                break;
            case 1 when s.Headers.Count > 0:
                s.Headers.Add(r.Pick(s.Headers)); // duplicated
                break;
            case 2 when s.Headers.Count > 0:
            {
                var i = r.Int(0, s.Headers.Count - 1);
                var (name, value) = s.Headers[i];
                s.Headers[i] = (r.Chance(0.5) ? name.ToLowerInvariant() : name.ToUpperInvariant(), value);
                break;
            }
            case 3 when s.Headers.Count > 0:
                s.Headers.RemoveAt(r.Int(0, s.Headers.Count - 1));
                break;
            case 4:
                s.H(r.Pick(["X-Forwarded-For", "User-Agent", "Cf-Ipcity", "Accept-Language", "X-Request-ID"]), new string('z', r.Int(1000, 12000)));
                break;
            case 5:
                s.H(r.Pick(["X-Fuzz", "x-", "X_Underscore", "X-Session-Token ", "Cookie2", "Authorization2"]), r.Pick(OddHeaderValues));
                break;
            case 6:
                // Raw bytes where a header value may not have them (sent raw).
                s.H(r.Pick(OddHeaderNames), r.Pick(["a\u0000b", "a\u0001b", "a\u007fb", "é\u00ff", "\u00c3\u0028", "line\rbreak", "tab\there", "€"]));
                break;
            default:
                s.H("X-HTTP-Method-Override", r.Pick(Methods));
                break;
        }
    }

    private void MutateCredential(Shape s, Rng r)
    {
        var i = s.Headers.FindIndex(h => h.Name is "X-Session-Token" or "Authorization" && !h.Value.StartsWith("Bearer " + m.AdminKey, StringComparison.Ordinal));
        if (i < 0 || r.Chance(0.2))
        {
            // A credential where there was none, or a second one: another keep session, or garbage.
            var who = KeepIdentity(r);
            s.H(r.Pick(["X-Session-Token", "Authorization", "x-session-token"]),
                r.Int(0, 4) switch
                {
                    0 => r.Pick(who.Tokens),
                    1 => "Bearer " + r.Pick(who.Tokens),
                    2 => "bearer " + r.Pick(who.Tokens),
                    3 => "ory_st_" + new string('A', r.Int(0, 100)),
                    _ => r.Pick(OddHeaderValues),
                });
            return;
        }
        var (name, value) = s.Headers[i];
        var bearer = value.StartsWith("Bearer ", StringComparison.Ordinal);
        var token = bearer ? value[7..] : value;
        token = r.Int(0, 5) switch
        {
            0 => MutateText(token, r),
            1 => token.Replace("ory_st_", r.Pick(["ory_ht_", "ory_at_", "ORY_ST_", "", "ory_st_ory_st_"])),
            2 => token + new string('A', r.Int(1, 5000)),
            3 => token[..Math.Min(token.Length, r.Int(0, 12))],
            4 => token + ", " + token,
            _ => token + "\t",
        };
        s.Headers[i] = (name, bearer ? r.Pick(["Bearer ", "Bearer  ", "bearer ", "BEARER ", "Bearer\t", "Token ", "Basic ", ""]) + token : token);
    }

    private void MutateCookie(Shape s, Rng r)
    {
        var who = KeepIdentity(r);
        var i = s.Headers.FindIndex(h => h.Name == "Cookie");
        var value = i >= 0 ? s.Headers[i].Value : $"{SessionCookie}={r.Pick(who.Cookies)}";
        var eq = value.IndexOf(SessionCookie + "=", StringComparison.Ordinal);
        var cookie = eq >= 0 ? value[(eq + SessionCookie.Length + 1)..].Split(';')[0] : r.Pick(who.Cookies);
        var mutated = r.Int(0, 13) switch
        {
            0 => $"{SessionCookie}={MutateText(cookie, r)}",
            1 => $"{SessionCookie}={cookie[..Math.Max(0, cookie.Length - r.Int(1, 30))]}",
            2 => $"{SessionCookie}={cookie.Replace('-', '+').Replace('_', '/')}==",
            3 => $"{SessionCookie}={new string('A', r.Int(3000, 9000))}",
            4 => $"{SessionCookie}=!!!not*base64***; {SessionCookie}={cookie}",
            5 => $"{SessionCookie}={cookie}; {SessionCookie}={cookie}",
            6 => $"{SessionCookie}=\"{cookie}\"",
            7 => $"{SessionCookie}",
            8 => ";;; ; =; ==; " + value,
            9 => $"{SessionCookie.ToUpperInvariant()}={cookie}",
            10 => $"{SessionCookie}={Convert.ToBase64String(Encoding.UTF8.GetBytes(cookie))}",
            11 => $"{m.CsrfCookieName}={cookie}; {SessionCookie}={Flip(cookie, r)}",
            12 => string.Join("; ", Enumerable.Range(0, r.Int(10, 300)).Select(n => $"c{n}={n}")) + $"; {SessionCookie}={cookie}",
            _ => $"{SessionCookie}={cookie}\u00e9",
        };
        if (i >= 0)
            s.Headers[i] = ("Cookie", mutated);
        else
            s.H("Cookie", mutated);
    }

    private void MutateAdminKey(Shape s, Rng r)
    {
        s.AdminAuth = false;
        var key = m.AdminKey;
        var value = r.Int(0, 10) switch
        {
            0 => null,
            1 => "Bearer " + MutateText(key, r),
            2 => "Bearer",
            3 => "bearer " + key,
            4 => "Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes("user:" + key)),
            5 => "Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes(key)),
            6 => "Basic " + new string('=', r.Int(1, 2000)),
            7 => "Basic " + Convert.ToBase64String(new byte[r.Int(700, 1100)]),
            8 => "Bearer " + new string('k', r.Int(1000, 3000)),
            9 => "Bearer " + key + " extra",
            _ => "Basic " + Convert.ToBase64String(Encoding.Latin1.GetBytes("\u00ff\u00fe:\u00ff" + key)),
        };
        if (value is not null)
            s.H("Authorization", value);
        if (r.Chance(0.2))
            s.H("Authorization", "Bearer " + key); // a second one
    }

    private static void MutateBody(Shape s, Rng r)
    {
        if (s.BodyKind == BodyKind.Json && s.Json is not null && r.Chance(0.6))
        {
            MutateJson(s.Json, r, depth: 0);
            return;
        }
        if (s.BodyKind == BodyKind.Form && s.Form is not null && r.Chance(0.6))
        {
            MutateForm(s.Form, r);
            return;
        }
        var current = s.Body ?? s.BodyKind switch
        {
            BodyKind.Json => Encoding.UTF8.GetBytes(s.Json?.ToJsonString() ?? ""),
            BodyKind.Form => Encoding.UTF8.GetBytes(string.Join('&', s.Form!.Select(f => f.Name + "=" + f.Value))),
            _ => [],
        };
        s.Body = r.Int(0, 9) switch
        {
            0 => current.Length > 1 ? current[..r.Int(0, current.Length - 1)] : [],
            1 => [0xEF, 0xBB, 0xBF, .. current],
            2 => [.. current, .. "}}]]garbage"u8],
            3 => Corrupt(current, r),
            4 => Encoding.Unicode.GetBytes(Encoding.UTF8.GetString(current)),
            5 => Multipart(r, current),
            6 => [],
            7 => Encoding.UTF8.GetBytes(new string('[', r.Int(50, 5000)) + new string(']', r.Int(0, 5000))),
            8 => Encoding.UTF8.GetBytes(r.Pick(JsonOddities)),
            _ => RandomBody(r, out _),
        };
        s.BodyKind = BodyKind.Bytes;
    }

    private static readonly string[] JsonOddities =
    [
        "null", "true", "0", "\"str\"", "[]", "{}", "{\"a\":1,\"a\":2}", "{\"schema_id\":\"default\",\"schema_id\":5,\"traits\":{}}", "{'single':'quotes'}",
        "{\"a\":1,}", "{/*comment*/}", "{\"a\":NaN}", "{\"a\":Infinity}", "{\"a\":1e99999}", "{\"a\":-0}", "{\"a\":\"\\ud800\"}", "{\"a\":\"\\udc00\\ud800\"}",
        "{\"a\":\"\\u0000\"}", "{\"a\":\"\\x41\"}", "{\"method\":\"password\",\"identifier\":{\"$ne\":null}}", "{\"method\":[\"password\"]}",
        "{\"session_token\":12345}", "{\"session_token\":null}", "{\"channel\":\"api\",\"lifespan\":\"9223372036854775807ns\"}",
        "{\"channel\":\"api\",\"lifespan\":\"-9223372036854775808ns\"}", "{\"channel\":\"api\",\"lifespan\":\"1e9h\"}", "{\"channel\":\"api\",\"lifespan\":\"1.5.5h\"}",
        "[{\"op\":\"replace\",\"path\":\"\",\"value\":null}]", "[{\"op\":\"add\",\"path\":\"/traits/-\",\"value\":1}]", "[{\"op\":\"remove\",\"path\":\"/id\"}]",
        "[{\"op\":\"replace\",\"path\":\"/traits/email\",\"value\":{}}]", "[{\"op\":\"move\",\"from\":\"/traits\",\"path\":\"/traits/x\"}]",
        "[{\"op\":\"copy\",\"from\":\"/credentials\",\"path\":\"/metadata_public\"}]", "[{\"op\":\"replace\",\"path\":\"/state\",\"value\":\"banana\"}]",
        "[{\"op\":\"add\",\"path\":\"/metadata_public/~2\",\"value\":1}]", "[{\"op\":\"add\",\"path\":\"/metadata_public/a~1b/~0\",\"value\":1}]",
        "[{\"op\":\"test\",\"path\":\"/schema_id\",\"value\":\"other\"}]", "[{\"op\":\"replace\",\"path\":\"/traits\",\"value\":[1,2,3]}]",
        "[{\"op\":\"add\",\"path\":\"/metadata_admin/0/1/2\",\"value\":1}]", "[{\"op\":\"replace\",\"path\":\"/credentials/password/config/password\",\"value\":\"x\"}]",
        "[{}]", "[null]", "[{\"op\":null}]", "[{\"op\":\"add\"}]", "[{\"op\":\"add\",\"path\":5}]",
        "{\"schema_id\":\"default\",\"traits\":{\"email\":\"a@b.c\"},\"credentials\":{\"password\":{\"config\":{\"hashed_password\":\"$argon2id$v=19$m=99999999999,t=1,p=1$c2FsdA$aGFzaA\"}}}}",
        "{\"schema_id\":\"default\",\"traits\":{\"email\":\"a@b.c\"},\"credentials\":{\"password\":{\"config\":{\"hashed_password\":\"$argon2id$v=19$m=1024,t=4294967295,p=1$c2FsdA$aGFzaA\"}}}}",
        "{\"schema_id\":\"default\",\"traits\":{\"email\":\"a@b.c\"},\"credentials\":{\"password\":{\"config\":{\"hashed_password\":\"$argon2id$v=19$m=1024,t=1,p=255$c2FsdA$aGFzaA\"}}}}",
        "{\"schema_id\":\"default\",\"traits\":{\"email\":\"a@b.c\"},\"credentials\":{\"password\":{\"config\":{\"hashed_password\":\"$2a$99$abcdefghijklmnopqrstuvabcdefghijklmnopqrstuvwxyz12\"}}}}",
        "{\"schema_id\":\"default\",\"traits\":{\"email\":\"a@b.c\"},\"credentials\":{\"password\":{\"config\":{\"hashed_password\":\"$argon2id$v=19$m=1024,t=1,p=1$$\"}}}}",
        "{\"schema_id\":\"default\",\"traits\":{\"email\":\"a@b.c\"},\"credentials\":{\"password\":{\"config\":{\"hashed_password\":\"$pbkdf2-sha512$i=99999999999,l=64$c2FsdA$aGFzaA\"}}}}",
        "{\"schema_id\":\"default\",\"traits\":{\"email\":\"a@b.c\"},\"credentials\":{\"totp\":{\"config\":{\"totp_url\":\"otpauth://totp/x?secret=!!!\"}}}}",
        "{\"schema_id\":\"default\",\"traits\":{\"email\":\"\"}}", "{\"schema_id\":\"default\",\"traits\":{\"email\":\"" + new string('a', 5000) + "@x.y\"}}",
        "{\"schema_id\":\"\",\"traits\":{}}", "{\"schema_id\":\"../../etc/passwd\",\"traits\":{}}", "{\"schema_id\":\"default\",\"traits\":null}",
        "{\"schema_id\":\"default\",\"traits\":{\"email\":\"a@b.c\"},\"metadata_public\":\"str\"}", "{\"schema_id\":\"default\",\"traits\":{\"email\":\"a@b.c\"},\"state\":null}",
        "{\"totp_code\":\"" + new string('9', 100) + "\",\"method\":\"totp\"}", "{\"method\":\"password\",\"identifier\":\"\",\"password\":\"\"}",
        "{\"channel\":\"browser\",\"device\":{\"ip_address\":\"::ffff:999.1.1.1\",\"user_agent\":\"" + new string('u', 5000) + "\"}}",
        "{\"channel\":\"api\",\"authentication_methods\":[{\"method\":\"password\",\"completed_at\":\"not-a-date\"}]}",
        "{\"channel\":\"api\",\"authentication_methods\":[{\"method\":\"totp\",\"aal\":\"aal2\",\"completed_at\":\"0001-01-01T00:00:00Z\"}]}",
        "{\"channel\":\"api\",\"authentication_methods\":[{\"method\":\"password\",\"completed_at\":\"9999-12-31T23:59:59Z\"}]}",
    ];

    private static void MutateJson(JsonNode node, Rng r, int depth)
    {
        switch (node)
        {
            case JsonObject o when o.Count > 0 && (depth > 3 || r.Chance(0.5)):
            {
                var key = r.Pick(o.Select(p => p.Key).ToArray());
                o[key] = r.Int(0, 9) switch
                {
                    0 => null,
                    1 => JsonValue.Create(r.Pick([0L, -1L, long.MaxValue, long.MinValue])),
                    2 => JsonValue.Create(1.5e300),
                    3 => JsonValue.Create(true),
                    4 => new JsonArray(JsonValue.Create("x")),
                    5 => new JsonObject { ["nested"] = new JsonObject() },
                    6 => JsonValue.Create(new string('s', r.Int(100, 70000))),
                    7 => JsonValue.Create(r.Pick(["", " ", "\u0000", "\ud83d\ude00", "é", "\u202e", "<script>", "../../", "%00"])),
                    8 => JsonValue.Create(MutateText(o[key]?.ToJsonString().Trim('"') ?? "", r)),
                    _ => Deep(r.Int(20, 400)),
                };
                break;
            }
            case JsonObject o when r.Chance(0.4):
                o[r.Pick(["traits", "credentials", "state", "schema_id", "method", "identifier", "password", "channel", "lifespan", "extra", "id", "$ref", "__proto__"])] =
                    JsonValue.Create(r.Pick(["x", "default", "active", "password"]));
                break;
            case JsonObject o when o.Count > 0:
            {
                var key = r.Pick(o.Select(p => p.Key).ToArray());
                if (o[key] is { } child && child is JsonObject or JsonArray)
                    MutateJson(child, r, depth + 1);
                else
                    o.Remove(key);
                break;
            }
            case JsonArray a when a.Count > 0 && r.Chance(0.6):
                MutateJson(a[r.Int(0, a.Count - 1)]!, r, depth + 1);
                break;
            case JsonArray a:
                a.Add(r.Chance(0.5) ? null : JsonValue.Create(r.Int(0, 9)));
                break;
        }
    }

    private static JsonNode Deep(int depth)
    {
        JsonNode node = new JsonObject();
        for (var i = 0; i < depth; i++)
            node = i % 2 == 0 ? new JsonArray(node) : new JsonObject { ["d"] = node };
        return node;
    }

    private static void MutateForm(List<(string Name, string Value)> form, Rng r)
    {
        switch (r.Int(0, 8))
        {
            case 0 when form.Count > 0: form.RemoveAt(r.Int(0, form.Count - 1)); break;
            case 1 when form.Count > 0: form.Add(r.Pick(form)); break;
            case 2 when form.Count > 0:
            {
                var i = r.Int(0, form.Count - 1);
                form[i] = (form[i].Name, MutateText(form[i].Value, r, urlSafe: true));
                break;
            }
            case 3: form.Add((r.Pick(["", "=", "%", "%zz", "a[b]", "csrf_token", "method", "%00"]), r.Pick(OddValues))); break;
            case 4: form.Add(("x", new string('v', r.Int(10_000, 200_000)))); break;
            case 5: for (var i = r.Int(100, 5000); i > 0; i--) form.Add(($"f{i}", "1")); break;
            case 6 when form.Count > 0:
            {
                var i = r.Int(0, form.Count - 1);
                form[i] = (form[i].Name, r.Pick(["%", "%zz", "%c3%28", "%ff", "%ed%a0%80", "+%2B+", ""]));
                break;
            }
            case 7: form.Add(("&&", "")); break;
            default: form.Add((new string('n', r.Int(1000, 40000)), "v")); break;
        }
    }

    private static byte[] Multipart(Rng r, byte[] inner)
    {
        var boundary = r.Pick(["fuzz", "", new string('b', 100), "a b", "--"]);
        var builder = new StringBuilder();
        switch (r.Int(0, 4))
        {
            case 0:
                builder.Append($"--{boundary}\r\nContent-Disposition: form-data; name=\"method\"\r\n\r\npassword\r\n--{boundary}--\r\n");
                break;
            case 1:
                builder.Append($"--{boundary}\r\nContent-Disposition: form-data; name=\"f\"\r\n\r\n{Encoding.UTF8.GetString(inner)}"); // no end
                break;
            case 2:
                builder.Append($"--{boundary}\r\n" + string.Concat(Enumerable.Repeat("X-Part: h\r\n", r.Int(10, 2000))) + "\r\nv\r\n--" + boundary + "--\r\n");
                break;
            case 3:
                builder.Append($"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"../../x\"\r\nContent-Type: application/json\r\n\r\n{Encoding.UTF8.GetString(inner)}\r\n--{boundary}--\r\n");
                break;
            default:
                builder.Append($"--other\r\n\r\n\r\n--{boundary}--garbage");
                break;
        }
        return Encoding.UTF8.GetBytes(builder.ToString());
    }

    private static byte[] Corrupt(byte[] bytes, Rng r)
    {
        var copy = bytes.Length == 0 ? new byte[] { (byte)'{' } : (byte[])bytes.Clone();
        for (var n = r.Int(1, 4); n > 0; n--)
            copy[r.Int(0, copy.Length - 1)] = r.Pick(new byte[] { 0x00, 0xff, 0xc3, 0x80, 0xed, (byte)'"', (byte)'\\', (byte)'{', (byte)'}', (byte)',', (byte)'%', (byte)'&', (byte)'=' });
        return copy;
    }

    private static byte[] RandomBody(Rng r, out string? contentType)
    {
        contentType = r.Pick(ContentTypes);
        return r.Int(0, 5) switch
        {
            0 => Encoding.UTF8.GetBytes(r.Pick(JsonOddities)),
            1 => r.Bytes(r.Int(1, 2000)),
            2 => Encoding.UTF8.GetBytes("method=password&identifier=" + new string('i', r.Int(1, 2000)) + "&password=&csrf_token=%zz"),
            3 => Multipart(r, "{}"u8.ToArray()),
            4 => Encoding.UTF8.GetBytes("<?xml version=\"1.0\"?><!DOCTYPE x [<!ENTITY a \"aaaa\">]><x>&a;</x>"),
            _ => [],
        };
    }

    [GeneratedRegex("[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")]
    private static partial Regex GuidPattern();

    private static void MutateIds(Shape s, Rng r)
    {
        string Replace(string text) => GuidPattern().Replace(text, match => r.Int(0, 10) switch
        {
            0 => Guid.NewGuid().ToString(),
            1 => Guid.Parse(match.Value).ToString("N"),
            2 => Guid.Parse(match.Value).ToString("B"),
            3 => match.Value.ToUpperInvariant(),
            4 => match.Value[..^1],
            5 => match.Value + "0",
            6 => "00000000-0000-0000-0000-000000000000",
            7 => "not-a-uuid",
            8 => "%20" + match.Value,
            9 => new string('f', r.Int(37, 3000)),
            _ => "-1",
        }, 1);
        if (s.Path.Contains('-') && GuidPattern().IsMatch(s.Path) && r.Chance(0.6))
            s.Path = Replace(s.Path);
        else if (s.Query.FindIndex(q => GuidPattern().IsMatch(q.Value)) is var i and >= 0)
            s.Query[i] = (s.Query[i].Name, UrlSafe(Replace(s.Query[i].Value)));
        else if (s.Form?.FindIndex(f => GuidPattern().IsMatch(f.Value)) is { } j and >= 0)
            s.Form[j] = (s.Form[j].Name, UrlSafe(Replace(s.Form[j].Value)));
        else
            s.Path = Replace(s.Path);
    }

    // ---- raw framing -----------------------------------------------------------------------------

    private FuzzRequest RawFraming(int index, Rng r)
    {
        var admin = r.Chance(0.35);
        var port = admin ? FuzzPort.Admin : FuzzPort.Public;
        var host = admin ? m.AdminAuthority : m.PublicAuthority;
        var auth = admin ? $"Authorization: Bearer {m.AdminKey}\r\n" : "";
        var path = admin ? r.Pick(["/admin/identities", "/admin/sessions?page_size=2", "/admin/ui", "/health/ready", $"/admin/identities/{AnyIdentity(r).Id}"])
            : r.Pick(["/sessions/whoami", "/sessions", "/self-service/login/api", "/schemas", "/health/alive", "/ui/sessions"]);
        var credential = admin ? "" : $"X-Session-Token: {r.Pick(KeepIdentity(r).Tokens)}\r\n";
        var request = new FuzzRequest { Index = index, Kind = "raw:?", Port = port };
        string kind;
        byte[] bytes;
        byte[] Ascii(string text) => Encoding.Latin1.GetBytes(text);
        string Valid(string method = "GET", string? target = null, string extra = "") =>
            $"{method} {target ?? path} HTTP/1.1\r\nHost: {host}\r\n{auth}{credential}{extra}Connection: close\r\n\r\n";

        switch (r.Int(0, 21))
        {
            case 0:
                kind = "raw:request-line";
                bytes = Ascii(r.Pick([
                    $"GET {path}\r\nHost: {host}\r\n\r\n", $"GET  {path} HTTP/1.1\r\nHost: {host}\r\n\r\n", $"GET {path} HTTP/1.1 extra\r\nHost: {host}\r\n\r\n",
                    $"GET {path} HTTP/9.9\r\nHost: {host}\r\n\r\n", $"GET {path} http/1.1\r\nHost: {host}\r\n\r\n", $"GET {path} HTTP/1.\r\nHost: {host}\r\n\r\n",
                    $"GET\r\nHost: {host}\r\n\r\n", $" GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n", $"GET\t{path}\tHTTP/1.1\r\nHost: {host}\r\n\r\n",
                    $"\r\n\r\nGET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n", $"GET {path} HTTP/1.1\rHost: {host}\r\r", $"GET {path} HTTP/1.1\nHost: {host}\n\n",
                    $"GET {path} HTTP/1.0\r\n\r\n", $"GET {path} HTTP/0.9\r\n\r\n", $"GET {path} HTTP/2.0\r\nHost: {host}\r\n\r\n", $"GET {path} HTTP/1.1\r\n\r\n",
                    $"GET {path}?a=b c HTTP/1.1\r\nHost: {host}\r\n\r\n", $"GET {path}#frag HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n",
                    $"GET sessions/whoami HTTP/1.1\r\nHost: {host}\r\n\r\n", $"GET ?x HTTP/1.1\r\nHost: {host}\r\n\r\n", "\r\n", "HTTP/1.1 200 OK\r\n\r\n",
                ]));
                break;
            case 1:
                kind = "raw:method";
                var method = r.Pick(["get", "Get", "TRACE", "CONNECT", "TRACK", "DEBUG", "PRI", "G\u00c9T", "GE\u0000T", "G(T", "GET,POST", "@@@", "", new string('M', r.Int(100, 9000)), "M-SEARCH", "SEARCH", "LINK", "1GET"]);
                bytes = Ascii(method == "CONNECT" && r.Chance(0.6) ? $"CONNECT {host} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n" : Valid(method));
                request.RawHeads = [method == "HEAD"];
                break;
            case 2:
                kind = "raw:target-form";
                bytes = Ascii(r.Pick([
                    Valid(target: $"http://{host}{path}"), Valid(target: $"http://evil.example{path}"), Valid(target: $"https://{host}{path}"), Valid("OPTIONS", "*"),
                    Valid(target: "*"), Valid(target: host), Valid(target: $"//{host}{path}"), Valid(target: $"http://{host}"), Valid(target: "http://"),
                    Valid(target: $"http://user:pass@{host}{path}"), Valid(target: $"{path}%"), Valid(target: $"{path}?%zz=%c3%28&&=&a=%"), Valid(target: "/%2e%2e/%2e%2e/etc/passwd"),
                    Valid(target: "/" + new string('a', r.Int(8000, 12000))),
                ]));
                break;
            case 3:
                kind = "raw:target-bytes";
                bytes = [.. Ascii($"GET {path}?q="), .. r.Pick(new byte[][] { [0xff, 0xfe], [0xc3, 0x28], [0xed, 0xa0, 0x80], [0x00], [0x7f], [0x01, 0x02], "é"u8.ToArray(), [0xe2, 0x82], [0xf0, 0x9f, 0x98, 0x80] }),
                    .. Ascii($" HTTP/1.1\r\nHost: {host}\r\n{auth}{credential}Connection: close\r\n\r\n")];
                break;
            case 4:
                kind = "raw:header-syntax";
                bytes = Ascii(Valid(extra: r.Pick([
                    "X-No-Colon\r\n", "X-Space-Before : v\r\n", ": empty-name\r\n", " X-Leading-Space: v\r\n", "X-Folded: a\r\n b\r\n", "X-Folded: a\r\n\tb\r\n",
                    "X(Bad)Name: v\r\n", "X-Session-Token\u0000: v\r\n", "X-A: v\rX-B: w\r\n", "X-A: v\nX-B: w\n", "X-Long: " + new string('l', r.Int(9000, 40000)) + "\r\n",
                    "Host: second.example\r\n", "Host: \r\n", "Host: " + new string('h', 3000) + "\r\n", "X-\u00e9: v\r\n", "\r\n\r\n",
                ])));
                break;
            case 5:
                kind = "raw:header-bytes";
                bytes = [.. Ascii($"GET {path} HTTP/1.1\r\nHost: {host}\r\n{auth}{credential}"), .. Ascii(r.Pick(OddHeaderNames) + ": "),
                    .. r.Pick(new byte[][] { [0x00], [0xff, 0xfe, 0xfd], [0xc3, 0x28], [0x7f], [0x01], [0x1b, (byte)'[', (byte)'2', (byte)'J'], [0x0b, 0x0c], "日本"u8.ToArray(), [0x80] }),
                    .. Ascii("\r\nConnection: close\r\n\r\n")];
                break;
            case 6:
                kind = "raw:token-bytes";
                bytes = [.. Ascii($"GET /sessions/whoami HTTP/1.1\r\nHost: {m.PublicAuthority}\r\n"),
                    .. Ascii(r.Pick(["X-Session-Token: ", "Authorization: Bearer ", $"Cookie: {SessionCookie}="])),
                    .. Encoding.Latin1.GetBytes(r.Pick(KeepIdentity(r).Tokens)[..r.Int(5, 30)]), .. r.Pick(new byte[][] { [0x00], [0xff], [0xc3, 0xa9], [0x01] }),
                    .. Ascii("\r\nConnection: close\r\n\r\n")];
                request = new FuzzRequest { Index = index, Kind = kind, Port = FuzzPort.Public };
                break;
            case 7:
            {
                kind = "raw:content-length";
                var body = Encoding.UTF8.GetBytes("{\"schema_id\":\"default\",\"traits\":{\"email\":\"cl@example.com\"}}");
                var header = r.Pick([$"Content-Length: {body.Length}\r\nContent-Length: {body.Length + 5}\r\n", "Content-Length: -1\r\n", "Content-Length: abc\r\n",
                    "Content-Length: 99999999999999999999\r\n", $"Content-Length: +{body.Length}\r\n", $"Content-Length: {body.Length}, {body.Length}\r\n",
                    $"Content-Length:  {body.Length} \r\n", "Content-Length: 0x10\r\n", $"Content-Length: {body.Length - 10}\r\n", "Content-Length: 2000000\r\n",
                    "Content-Length: \r\n", $"Content-Length: {body.Length}\r\nTransfer-Encoding: chunked\r\n"]);
                bytes = [.. Ascii($"POST {(admin ? "/admin/identities" : "/self-service/logout/api")} HTTP/1.1\r\nHost: {host}\r\n{auth}Content-Type: application/json\r\n{header}Connection: close\r\n\r\n"), .. body];
                break;
            }
            case 8:
            {
                kind = "raw:chunked";
                var chunks = r.Pick([
                    "5\r\n{\"a\":\r\n2\r\n1}\r\n0\r\n\r\n", "zz\r\nabc\r\n0\r\n\r\n", "5\r\n{}\r\n0\r\n\r\n", "-1\r\n{}\r\n0\r\n\r\n", "ffffffffffffffffffff\r\n{}\r\n0\r\n\r\n",
                    "2;" + new string('e', r.Int(100, 9000)) + "\r\n{}\r\n0\r\n\r\n", "2\r\n{}\r\n0\r\nX-Trailer: t\r\n\r\n", "2\r\n{}0\r\n\r\n", "2\n{}\n0\n\n",
                    "2 \r\n{}\r\n0\r\n\r\n", "0x2\r\n{}\r\n0\r\n\r\n", "2\r\n{}\r\n0\r\n" + string.Concat(Enumerable.Repeat("T: x\r\n", 500)) + "\r\n",
                    "100000\r\n{}\r\n", "2\r\n{}\r\n\r\n\r\n",
                ]);
                var te = r.Pick(["Transfer-Encoding: chunked\r\n", "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n", "Transfer-Encoding: gzip, chunked\r\n",
                    "Transfer-Encoding: chunked, gzip\r\n", "Transfer-Encoding: xchunked\r\n", "Transfer-Encoding : chunked\r\n", "Transfer-Encoding:\tchunked\r\n",
                    "Transfer-Encoding: identity\r\n", "Transfer-Encoding: CHUNKED\r\n", "Transfer-Encoding: chunked\r\nContent-Length: 3\r\n"]);
                var target = admin ? "/admin/identities" : r.Pick(["/self-service/logout/api", "/self-service/login?flow=" + r.Pick(m.NativeFlows), "/sessions/whoami"]);
                bytes = Ascii($"{(target.StartsWith("/self-service/logout", StringComparison.Ordinal) ? "DELETE" : "POST")} {target} HTTP/1.1\r\nHost: {host}\r\n{auth}{credential}Content-Type: application/json\r\n{te}Connection: close\r\n\r\n{chunks}");
                // A chunked body that does not end, or claims more than it sends: the client's FIN ends it.
                request.HalfClose = chunks.StartsWith("100000", StringComparison.Ordinal) || chunks.EndsWith("\r\n\r\n\r\n", StringComparison.Ordinal);
                break;
            }
            case 9:
            {
                kind = "raw:truncated";
                var whole = Ascii(Valid(r.Pick(["GET", "POST"]), extra: "Content-Type: application/json\r\nContent-Length: 40\r\n") + "{\"session_token\":\"ory_st_abc\"}");
                bytes = whole[..r.Int(1, whole.Length - 1)];
                request.HalfClose = true;
                break;
            }
            case 10:
                kind = "raw:pipelined";
                var second = r.Pick([Valid(), "GARBAGE\r\n\r\n", $"GET {path} HTTP/1.1\r\nHost: {host}\r\nX-Bad\r\n\r\n", Valid("HEAD"), $"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Length: 5\r\n\r\nabc"]);
                var first = $"GET {path} HTTP/1.1\r\nHost: {host}\r\n{auth}{credential}\r\n";
                bytes = Ascii(first + second);
                request.RawHeads = [false, second.StartsWith("HEAD", StringComparison.Ordinal)];
                // The last request claims 5 body bytes and sends 3: only the client's FIN ends it.
                request.HalfClose = second.EndsWith("abc", StringComparison.Ordinal);
                break;
            case 11:
                kind = "raw:http2-preface";
                bytes = [.. "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"u8, 0, 0, 0, 4, 0, 0, 0, 0, 0];
                break;
            case 12:
                kind = "raw:tls-hello";
                bytes = [0x16, 0x03, 0x01, 0x00, 0x2f, 0x01, 0x00, 0x00, 0x2b, 0x03, 0x03, .. r.Bytes(32), 0x00, 0x00, 0x02, 0x13, 0x01, 0x01, 0x00];
                break;
            case 13:
                kind = "raw:random-bytes";
                bytes = r.Bytes(r.Int(1, 3000));
                request.HalfClose = true; // no request line ends in random bytes; only the client's FIN ends them
                break;
            case 14:
                kind = "raw:many-headers";
                bytes = Ascii(Valid(extra: string.Concat(Enumerable.Range(0, r.Int(90, 300)).Select(i => $"X-H{i}: {i}\r\n"))));
                break;
            case 15:
                kind = "raw:expect";
                bytes = Ascii($"POST {(admin ? "/admin/identities" : "/self-service/logout/api")} HTTP/1.1\r\nHost: {host}\r\n{auth}Content-Type: application/json\r\nContent-Length: 2\r\nExpect: {r.Pick(["100-continue", "200-ok", "", "100-continue, 100-continue", "bogus"])}\r\nConnection: close\r\n\r\n{{}}");
                break;
            case 16:
                kind = "raw:upgrade";
                bytes = Ascii(Valid(extra: r.Pick(["Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n",
                    "Upgrade: websocket\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n", "Upgrade: \r\n", "Upgrade: TLS/1.0\r\n"])).Replace("Connection: close\r\n", r.Chance(0.5) ? "Connection: close\r\n" : "Connection: Upgrade\r\n"));
                break;
            case 17:
                kind = "raw:http10";
                bytes = Ascii(r.Pick([$"GET {path} HTTP/1.0\r\n{auth}{credential}\r\n", $"POST {path} HTTP/1.0\r\n{auth}Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
                    $"GET {path} HTTP/1.0\r\nConnection: keep-alive\r\n{auth}{credential}\r\n"]));
                request.HalfClose = bytes.Length > 0 && Encoding.Latin1.GetString(bytes).Contains("keep-alive", StringComparison.Ordinal);
                break;
            case 18:
                kind = "raw:slow-body";
                // Announces a body it never finishes, and keeps the connection open: Kestrel's minimum body data rate
                // (240 bytes/s after a 5 s grace period) ends it with 408 when the endpoint reads the body.
                if (r.Chance(0.15))
                {
                    bytes = Ascii($"POST {(admin ? "/admin/identities" : "/self-service/logout/api")} HTTP/1.1\r\nHost: {host}\r\n{auth}Content-Type: application/json\r\nContent-Length: 100\r\nConnection: close\r\n\r\n{{\"a\"");
                }
                else
                {
                    bytes = Ascii($"POST {(admin ? "/admin/identities" : "/self-service/logout/api")} HTTP/1.1\r\nHost: {host}\r\n{auth}Content-Type: application/json\r\nContent-Length: 100\r\nConnection: close\r\n\r\n{{\"a\"");
                    request.HalfClose = true;
                }
                break;
            case 19:
                kind = "raw:nul";
                var valid = Ascii(Valid());
                valid[r.Int(0, valid.Length - 5)] = 0;
                bytes = valid;
                break;
            case 20:
                kind = "raw:smuggling";
                bytes = Ascii($"POST {path} HTTP/1.1\r\nHost: {host}\r\n{auth}Content-Length: 13\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /admin/identities HTTP/1.1\r\nHost: {host}\r\n\r\n");
                request.RawHeads = [false, false];
                break;
            default:
                kind = "raw:valid";
                bytes = Ascii(Valid(r.Pick(["GET", "HEAD", "OPTIONS"])));
                request.RawHeads = [Encoding.Latin1.GetString(bytes).StartsWith("HEAD", StringComparison.Ordinal)];
                break;
        }
        // Bytes without the empty line that ends a request head are, to the server, a request still coming in
        // (Kestrel waits for it up to its 30 s request headers timeout): only the client's FIN ends them.
        var unterminated = bytes.AsSpan().IndexOf("\r\n\r\n"u8) < 0 && bytes.AsSpan().IndexOf("\n\n"u8) < 0 && kind is not ("raw:http2-preface" or "raw:tls-hello");
        return new FuzzRequest { Index = index, Kind = kind, Port = request.Port, Raw = bytes, RawHeads = request.RawHeads, HalfClose = request.HalfClose || unterminated };
    }
}

/// <summary>A seeded random source with the helpers the generator uses.</summary>
public sealed class Rng(int seed)
{
    private readonly Random _random = new(seed);

    public bool Chance(double p) => _random.NextDouble() < p;
    public int Int(int min, int max) => (int)_random.NextInt64(min, (long)max + 1);
    public T Pick<T>(IReadOnlyList<T> items) => items[_random.Next(items.Count)];
    public T Pick<T>(T[] items) => items[_random.Next(items.Length)];
    public byte[] Bytes(int count)
    {
        var bytes = new byte[count];
        _random.NextBytes(bytes);
        return bytes;
    }

    public T Weighted<T>(IReadOnlyList<T> items, Func<T, int> weight)
    {
        var total = items.Sum(weight);
        var roll = _random.Next(total);
        foreach (var item in items)
        {
            roll -= weight(item);
            if (roll < 0)
                return item;
        }
        return items[^1];
    }
}
