using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using OrleansSessions.Api.Tests.Infrastructure;

namespace OrleansSessions.Api.Tests;

/// <summary>
/// Malformed input anywhere gives a 4xx, never a 5xx; where our code writes the body, it is
/// Kratos's error envelope with the same code. Requests Kestrel rejects while parsing (431, 414,
/// bad request lines) get Kestrel's bodiless answer.
/// </summary>
public sealed class MalformedInputTests(DevNodeFixture fixture) : IClassFixture<DevNodeFixture>
{
    private readonly ServiceNode _node = fixture.Node;

    /// <summary>What a case must answer: an exact status (null: any 4xx), and whether our envelope must be the body.</summary>
    private sealed record Expect(int? Status, bool Envelope);

    private sealed record Result(int Status, string Body, string? ContentType);

    private sealed record Case(Expect Expect, Func<ServiceNode, Task<Result>> Run);

    private static readonly Expect Unauthorized = new(401, true);
    private static readonly Expect BadRequest = new(400, true);
    private static readonly Expect NotFound = new(404, true);
    private static readonly Expect Any4xx = new(null, false);

    private static string Alnum(int length) => RandomNumberGenerator.GetString("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", length);

    private static string Token(int randomPart = 32, string prefix = "ory_st_") => prefix + Alnum(randomPart);

    private static Case Whoami(Expect expect, params (string Name, string Value)[] headers) =>
        new(expect, async node => From(await node.WhoamiAsync(headers)));

    /// <summary>whoami with a credential built from a freshly issued session.</summary>
    private static Case WhoamiWith(Expect expect, string channel, Func<IssuedSession, (string Name, string Value)> header) =>
        new(expect, async node =>
        {
            var issued = await node.IssueAsync(await node.CreateIdentityAsync(), channel);
            return From(await node.WhoamiAsync(header(issued)));
        });

    /// <summary>A raw whoami on the public port with one extra header line given as bytes.</summary>
    private static Case RawWhoami(Expect expect, byte[] headerLine) =>
        new(expect, async node => From(await RawHttp.SendAsync(node.PublicUrl, RawHttp.Request("GET /sessions/whoami HTTP/1.1",
            [RawHttp.Ascii($"Host: {node.PublicUrl.Authority}"), headerLine, RawHttp.Ascii("Connection: close")]))));

    private static Case Raw(Expect expect, string requestLine, params string[] headers) =>
        new(expect, async node => From(await RawHttp.SendAsync(node.PublicUrl,
            RawHttp.Request(requestLine.Replace("{host}", node.PublicUrl.Authority), [.. headers.Select(h => RawHttp.Ascii(h.Replace("{host}", node.PublicUrl.Authority)))]))));

    private static Case Admin(Expect expect, HttpMethod method, string path, string? json = null) =>
        new(expect, async node => From(await node.SendForAnswerAsync(method, node.Admin(path), json)));

    private static Case Public(Expect expect, HttpMethod method, string path) =>
        new(expect, async node => From(await node.SendForAnswerAsync(method, node.Public(path))));

    private static Case CreateIdentity(Expect expect, string json) => Admin(expect, HttpMethod.Post, "/admin/identities", json);

    /// <summary>Issuance for a fresh identity with this body.</summary>
    private static Case Issue(Expect expect, string json) =>
        new(expect, async node =>
        {
            var identityId = await node.CreateIdentityAsync();
            return From(await node.SendForAnswerAsync(HttpMethod.Post, node.Admin($"/admin/identities/{identityId}/sessions"), json));
        });

    private static Result From(Answer answer) => new(answer.Code, answer.Body, answer.Header("Content-Type"));

    private static Result From(RawHttp.RawResponse raw)
    {
        var contentType = raw.Head.Split("\r\n").FirstOrDefault(l => l.StartsWith("Content-Type:", StringComparison.OrdinalIgnoreCase))?[13..].Trim();
        return new(raw.Status, raw.Body, contentType);
    }

    private static string Nested(int depth) => new string('[', depth) + new string(']', depth);

    /// <summary>A body over Kestrel's 1 MB limit, announced with Expect: 100-continue so the client waits for the verdict.</summary>
    private static Case TooLarge(Func<ServiceNode, Task<string>> path) =>
        new(new Expect(413, true), async node =>
        {
            var blob = new string('a', 1024 * 1024 + 10);
            using var request = new HttpRequestMessage(HttpMethod.Post, node.Admin(await path(node)))
            {
                Content = new StringContent($$$"""{"schema_id":"default","channel":"api","traits":{"blob":"{{{blob}}}"}}""", Encoding.UTF8, "application/json"),
            };
            request.Headers.ExpectContinue = true;
            return From(await Answer.ReadAsync(await node.Http.SendAsync(request)));
        });

    private static readonly Dictionary<string, Case> Cases = new()
    {
        // ---- whoami: X-Session-Token ----
        ["token over-long (5,000 chars)"] = Whoami(Unauthorized, ("X-Session-Token", Token(5000 - 7))),
        ["token with wrong prefix ory_lo_"] = Whoami(Unauthorized, ("X-Session-Token", Token(prefix: "ory_lo_"))),
        ["token without prefix"] = Whoami(Unauthorized, ("X-Session-Token", Alnum(39))),
        ["token of 38 chars"] = Whoami(Unauthorized, ("X-Session-Token", Token(31))),
        ["token of 40 chars"] = Whoami(Unauthorized, ("X-Session-Token", Token(33))),
        ["token with a dash"] = Whoami(Unauthorized, ("X-Session-Token", Token(31) + "-")),
        ["valid token with a trailing dot"] = WhoamiWith(Unauthorized, "api", s => ("X-Session-Token", s.Token + ".")),
        ["valid token upper-cased"] = WhoamiWith(Unauthorized, "api", s => ("X-Session-Token", s.Token.ToUpperInvariant())),
        ["token with non-ASCII bytes"] = RawWhoami(Any4xx, [.. RawHttp.Ascii("X-Session-Token: ory_st_"), .. Encoding.UTF8.GetBytes(new string('é', 32))]),
        ["token with a control character"] = RawWhoami(Any4xx, RawHttp.Ascii("X-Session-Token: ory_st_" + Alnum(16) + "\u0001" + Alnum(15))),
        ["token with a NUL byte"] = RawWhoami(Any4xx, RawHttp.Ascii("X-Session-Token: ory_st_" + Alnum(16) + "\0" + Alnum(15))),
        ["X-Request-ID of 1,000 chars"] = Whoami(Unauthorized, ("X-Request-ID", new string('r', 1000))),

        // ---- whoami: Authorization ----
        ["Bearer with no token"] = Whoami(Unauthorized, ("Authorization", "Bearer")),
        ["Bearer with two spaces before a valid token"] = WhoamiWith(Unauthorized, "api", s => ("Authorization", "Bearer  " + s.Token)),
        ["Bearer without a space before a valid token"] = WhoamiWith(Unauthorized, "api", s => ("Authorization", "Bearer" + s.Token)),
        ["Bearer with a tab before a valid token"] = WhoamiWith(Unauthorized, "api", s => ("Authorization", "Bearer\t" + s.Token)),
        ["Bearer with a valid token and a third part"] = WhoamiWith(Unauthorized, "api", s => ("Authorization", $"Bearer {s.Token} extra")),
        ["Basic scheme with a valid token"] = WhoamiWith(Unauthorized, "api", s => ("Authorization", "Basic " + s.Token)),
        ["Basic credentials"] = Whoami(Unauthorized, ("Authorization", "Basic dXNlcjpwYXNz")),
        ["Bearer with garbage"] = Whoami(Unauthorized, ("Authorization", "Bearer abc")),

        // ---- whoami: cookie ----
        ["cookie with 5,000-char value"] = Whoami(Unauthorized, ("Cookie", $"{ServiceNode.CookieName}={new string('A', 5000)}")),
        ["cookie with invalid base64"] = Whoami(Unauthorized, ("Cookie", $"{ServiceNode.CookieName}=!!!not*base64***")),
        ["cookie with base64 of random bytes"] = Whoami(Unauthorized,
            ("Cookie", $"{ServiceNode.CookieName}={Convert.ToBase64String(RandomNumberGenerator.GetBytes(120)).TrimEnd('=').Replace('+', '-').Replace('/', '_')}")),
        ["cookie with empty value"] = Whoami(Unauthorized, ("Cookie", $"{ServiceNode.CookieName}=")),
        ["cookie header ;;;"] = Whoami(Unauthorized, ("Cookie", ";;;")),
        ["cookie name only"] = Whoami(Unauthorized, ("Cookie", ServiceNode.CookieName)),
        ["cookie with quoted garbage"] = Whoami(Unauthorized, ("Cookie", $"{ServiceNode.CookieName}=\"abc\"")),
        ["cookie with = only"] = Whoami(Unauthorized, ("Cookie", "=")),
        ["genuine cookie with one character changed"] = WhoamiWith(Unauthorized, "browser", s =>
            ("Cookie", $"{ServiceNode.CookieName}={s.CookieValue[..20]}{(s.CookieValue[20] == 'A' ? 'B' : 'A')}{s.CookieValue[21..]}")),
        ["genuine cookie truncated"] = WhoamiWith(Unauthorized, "browser", s => ("Cookie", $"{ServiceNode.CookieName}={s.CookieValue[..^4]}")),
        ["cookie with a control character"] = RawWhoami(Any4xx, RawHttp.Ascii($"Cookie: {ServiceNode.CookieName}=abc\u0007def")),

        // ---- HTTP framing (Kestrel) ----
        ["headers over 32 KB in total"] = Whoami(new Expect(431, false),
            [.. Enumerable.Range(0, 40).Select(i => ($"X-Filler-{i}", new string('f', 1000)))]),
        ["request line over 8 KB"] = Public(new Expect(414, false), HttpMethod.Get, "/sessions/whoami?" + new string('q', 9000)),
        ["HTTP/1.1 request without Host"] = Raw(new Expect(400, false), "GET /sessions/whoami HTTP/1.1", "Connection: close"),
        ["header line without a colon"] = Raw(new Expect(400, false), "GET /sessions/whoami HTTP/1.1", "Host: {host}", "X-Session-Token ory_st_abc", "Connection: close"),
        ["request target with a control character"] = Raw(Any4xx, "GET /sessions/\u0001whoami HTTP/1.1", "Host: {host}", "Connection: close"),
        ["request line with a space in the target"] = Raw(new Expect(400, false), "GET /sessions/who ami HTTP/1.1", "Host: {host}", "Connection: close"),

        // ---- admin: createIdentity ----
        ["identity: malformed JSON"] = CreateIdentity(BadRequest, """{"schema_id":"default","traits":{"""),
        ["identity: empty body"] = CreateIdentity(BadRequest, ""),
        ["identity: body is an array"] = CreateIdentity(BadRequest, """[{"schema_id":"default","traits":{}}]"""),
        ["identity: body is a string"] = CreateIdentity(BadRequest, "\"default\""),
        ["identity: traits missing"] = CreateIdentity(BadRequest, """{"schema_id":"default"}"""),
        ["identity: traits not an object"] = CreateIdentity(BadRequest, """{"schema_id":"default","traits":["a"]}"""),
        ["identity: state invalid"] = CreateIdentity(BadRequest, """{"schema_id":"default","traits":{},"state":"sleeping"}"""),
        ["identity: schema_id of wrong type"] = CreateIdentity(BadRequest, """{"schema_id":5,"traits":{}}"""),
        ["identity: schema_id missing"] = CreateIdentity(BadRequest, """{"traits":{}}"""),
        ["identity: nested 200 deep"] = CreateIdentity(BadRequest, $$$"""{"schema_id":"default","traits":{"deep":{{{Nested(200)}}}}}"""),
        ["identity: schema_id a lone surrogate"] = CreateIdentity(BadRequest, """{"schema_id":"\ud800","traits":{}}"""),
        ["identity: external_id a lone surrogate"] = CreateIdentity(BadRequest, """{"schema_id":"default","traits":{},"external_id":"x\udc00"}"""),
        ["identity: body not UTF-8"] = new(Any4xx, async node =>
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, node.Admin("/admin/identities"))
            {
                Content = new ByteArrayContent([.. "{\"schema_id\":\""u8, 0xff, 0xfe, .. "\",\"traits\":{}}"u8]),
            };
            return From(await Answer.ReadAsync(await node.Http.SendAsync(request)));
        }),
        ["identity: unsupported credentials import"] = CreateIdentity(BadRequest, """{"schema_id":"default","traits":{"email":"oidc@example.com"},"credentials":{"oidc":{"config":{"providers":[]}}}}"""),
        ["identity: duplicate external_id"] = new(new Expect(409, true), async node =>
        {
            var externalId = $"ext-{Guid.NewGuid():N}";
            string Body() => $$"""{"schema_id":"default","traits":{"email":"{{Guid.NewGuid():N}}@example.com"},"external_id":"{{externalId}}" }""";
            var first = await node.SendForAnswerAsync(HttpMethod.Post, node.Admin("/admin/identities"), Body());
            Assert.Equal(HttpStatusCode.Created, first.Status);
            return From(await node.SendForAnswerAsync(HttpMethod.Post, node.Admin("/admin/identities"), Body()));
        }),
        ["identity: body over 1 MB"] = TooLarge(_ => Task.FromResult("/admin/identities")),
        ["identity: id not a UUID"] = Admin(BadRequest, HttpMethod.Get, "/admin/identities/not-a-uuid"),
        ["identity: unknown id"] = Admin(NotFound, HttpMethod.Get, $"/admin/identities/{Guid.NewGuid()}"),

        // ---- admin: issue a session ----
        ["issue: identity id not a UUID"] = Admin(BadRequest, HttpMethod.Post, "/admin/identities/not-a-uuid/sessions", """{"channel":"api"}"""),
        ["issue: unknown identity"] = Admin(NotFound, HttpMethod.Post, $"/admin/identities/{Guid.NewGuid()}/sessions", """{"channel":"api"}"""),
        ["issue: disabled identity"] = new(BadRequest, async node =>
        {
            var identityId = await node.CreateIdentityAsync(state: "inactive");
            return From(await node.SendForAnswerAsync(HttpMethod.Post, node.Admin($"/admin/identities/{identityId}/sessions"), """{"channel":"api"}"""));
        }),
        ["issue: malformed JSON"] = Issue(BadRequest, """{"channel":"""),
        ["issue: body is an array"] = Issue(BadRequest, """["api"]"""),
        ["issue: channel missing"] = Issue(BadRequest, "{}"),
        ["issue: channel invalid"] = Issue(BadRequest, """{"channel":"desktop"}"""),
        ["issue: channel of wrong type"] = Issue(BadRequest, """{"channel":1}"""),
        ["issue: lifespan abc"] = Issue(BadRequest, """{"channel":"api","lifespan":"abc"}"""),
        ["issue: lifespan -1h"] = Issue(BadRequest, """{"channel":"api","lifespan":"-1h"}"""),
        ["issue: lifespan 0s"] = Issue(BadRequest, """{"channel":"api","lifespan":"0s"}"""),
        ["issue: lifespan 1000000h"] = Issue(BadRequest, """{"channel":"api","lifespan":"1000000h"}"""),
        ["issue: lifespan a number"] = Issue(BadRequest, """{"channel":"api","lifespan":3600}"""),
        ["issue: authentication_methods not an array"] = Issue(BadRequest, """{"channel":"api","authentication_methods":{"method":"password"}}"""),
        ["issue: authentication_methods empty"] = Issue(BadRequest, """{"channel":"api","authentication_methods":[]}"""),
        ["issue: authentication_methods unknown method"] = Issue(BadRequest, """{"channel":"api","authentication_methods":[{"method":"carrier_pigeon"}]}"""),
        ["issue: authentication_methods bad aal"] = Issue(BadRequest, """{"channel":"api","authentication_methods":[{"method":"password","aal":"aal9"}]}"""),
        ["issue: authentication_methods entry not an object"] = Issue(BadRequest, """{"channel":"api","authentication_methods":["password"]}"""),
        ["issue: aal3"] = Issue(BadRequest, """{"channel":"api","aal":"aal3"}"""),
        ["issue: aal2 from a first factor only"] = Issue(BadRequest, """{"channel":"api","aal":"aal2","authentication_methods":[{"method":"password"}]}"""),
        ["issue: device.ip_address not an IP"] = Issue(BadRequest, """{"channel":"api","device":{"ip_address":"999.1.1.1"}}"""),
        ["issue: device.ip_address a hostname"] = Issue(BadRequest, """{"channel":"api","device":{"ip_address":"example.com"}}"""),
        ["issue: device.user_agent a lone surrogate"] = Issue(BadRequest, """{"channel":"api","device":{"user_agent":"Mozilla \ud83d"}}"""),
        ["issue: channel a lone surrogate"] = Issue(BadRequest, """{"channel":"\udfff"}"""),
        ["issue: lifespan overflowing"] = Issue(BadRequest, """{"channel":"api","lifespan":"9999999999999999999999h"}"""),
        ["issue: lifespan TimeSpan.MaxValue"] = Issue(BadRequest, """{"channel":"api","lifespan":"10675199.02:48:05.4775807"}"""),
        ["issue: device not an object"] = Issue(BadRequest, """{"channel":"api","device":"laptop"}"""),
        ["issue: body over 1 MB"] = TooLarge(async node => $"/admin/identities/{await node.CreateIdentityAsync()}/sessions"),

        // ---- admin: revoke ----
        ["revoke: session id not a UUID"] = Admin(BadRequest, HttpMethod.Delete, "/admin/sessions/not-a-uuid"),
        ["revoke: unknown session id"] = Admin(NotFound, HttpMethod.Delete, $"/admin/sessions/{Guid.NewGuid()}"),

        // ---- routing ----
        ["unknown route on the public port"] = Public(NotFound, HttpMethod.Get, "/no/such/route"),
        ["unknown route on the admin port"] = Admin(NotFound, HttpMethod.Get, "/admin/no/such/route"),
        ["wrong method on an admin session route"] = Admin(new Expect(405, true), HttpMethod.Put, $"/admin/sessions/{Guid.NewGuid()}"),
        ["wrong method on the admin identities collection"] = Admin(new Expect(405, true), HttpMethod.Delete, "/admin/identities"),
    };

    public static TheoryData<string> CaseNames => [.. Cases.Keys];

    [Fact]
    public void The_table_has_at_least_thirty_cases() => Assert.True(Cases.Count >= 30, $"{Cases.Count} cases");

    [Theory]
    [MemberData(nameof(CaseNames))]
    public async Task Malformed_input_gets_a_4xx_never_a_5xx(string name)
    {
        var @case = Cases[name];
        var result = await @case.Run(_node);

        Assert.True(result.Status is >= 400 and < 500, $"{name}: expected a 4xx, got {result.Status} {result.Body}");
        if (@case.Expect.Status is { } status)
            Assert.True(result.Status == status, $"{name}: expected {status}, got {result.Status} {result.Body}");
        if (@case.Expect.Envelope || result.Body.Length > 0)
            AssertEnvelope(name, result);
        Assert.DoesNotContain("Exception", result.Body);
        Assert.DoesNotContain("   at ", result.Body);
    }

    private static void AssertEnvelope(string name, Result result)
    {
        Assert.True(result.ContentType?.StartsWith("application/json", StringComparison.Ordinal) == true, $"{name}: Content-Type {result.ContentType}");
        JsonElement error;
        try
        {
            var root = JsonDocument.Parse(result.Body).RootElement;
            Assert.Equal(JsonValueKind.Object, root.ValueKind);
            error = root.GetProperty("error");
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException)
        {
            Assert.Fail($"{name}: body is not Kratos's error envelope: {result.Body}");
            return;
        }
        Assert.Equal(result.Status, error.GetProperty("code").GetInt32());
        Assert.False(string.IsNullOrEmpty(error.GetProperty("status").GetString()), $"{name}: error.status empty");
        Assert.False(string.IsNullOrEmpty(error.GetProperty("message").GetString()), $"{name}: error.message empty");
        var allowed = new HashSet<string> { "id", "code", "status", "request", "reason", "details", "message" };
        foreach (var member in error.EnumerateObject())
            Assert.True(allowed.Contains(member.Name), $"{name}: unexpected error.{member.Name}");
    }

    [Fact]
    public async Task Long_X_Request_ID_is_echoed_truncated_not_rejected()
    {
        var answer = await _node.WhoamiAsync(("X-Request-ID", new string('r', 1000)));
        Assert.Equal(HttpStatusCode.Unauthorized, answer.Status);
        var request = answer.Json.GetProperty("error").GetProperty("request").GetString()!;
        Assert.True(request.Length is > 0 and <= 128, $"request echoed with {request.Length} chars");
    }

    [Fact]
    public async Task Issuance_rejected_for_bad_input_leaves_no_session_behind()
    {
        // After a batch of rejected issuances the identity still works, and a valid issue succeeds.
        var identityId = await _node.CreateIdentityAsync();
        foreach (var body in new[] { """{"channel":"api","lifespan":"abc"}""", """{"channel":"x"}""", "[]" })
        {
            var rejected = await _node.SendForAnswerAsync(HttpMethod.Post, _node.Admin($"/admin/identities/{identityId}/sessions"), body);
            Assert.Equal(HttpStatusCode.BadRequest, rejected.Status);
        }
        var issued = await _node.IssueAsync(identityId, "api", new JsonObject { ["lifespan"] = "30m" });
        Assert.Equal(HttpStatusCode.OK, (await _node.WhoamiAsync(issued.TokenHeader)).Status);
    }
}
