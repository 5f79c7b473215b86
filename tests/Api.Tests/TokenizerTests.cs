using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Time.Testing;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using NSec.Cryptography;
using OrleansSessions.Api.Tests.Infrastructure;

namespace OrleansSessions.Api.Tests;

/// <summary>
/// <c>whoami?tokenize_as=</c>: sessions as JWTs of configured templates, verified the way consumers verify them,
/// with Microsoft.IdentityModel against the key set the service publishes at <c>/.well-known/jwks.json</c>.
/// </summary>
public sealed class TokenizerTests : IAsyncLifetime
{
    public const string Issuer = "https://sessions.example.test";

    /// <summary>Templates of every algorithm, with claims mapped from traits, public metadata and the session.</summary>
    public static readonly string[] Templates =
    [
        $"--session:whoami:tokenizer:issuer={Issuer}",
        "--session:whoami:tokenizer:key_refresh=1m", "--session:whoami:tokenizer:jwks_max_age=5m",
        "--session:whoami:tokenizer:rotation:lead_time=10m", "--session:whoami:tokenizer:rotation:interval=720h",
        "--session:whoami:tokenizer:templates:es:ttl=2m", "--session:whoami:tokenizer:templates:es:audience=orders-api",
        "--session:whoami:tokenizer:templates:es:claims:email=identity.traits.email",
        "--session:whoami:tokenizer:templates:es:claims:plan=identity.metadata_public.plan",
        "--session:whoami:tokenizer:templates:es:claims:aal=authenticator_assurance_level",
        "--session:whoami:tokenizer:templates:es:claims:amr=authentication_methods.method",
        "--session:whoami:tokenizer:templates:es:claims:missing=identity.traits.nothing_here",
        "--session:whoami:tokenizer:templates:rs:algorithm=RS256", "--session:whoami:tokenizer:templates:rs:ttl=1h",
        "--session:whoami:tokenizer:templates:rs:audience:0=a", "--session:whoami:tokenizer:templates:rs:audience:1=b",
        "--session:whoami:tokenizer:templates:ed:algorithm=EdDSA", "--session:whoami:tokenizer:templates:ed:subject_source=external_id",
    ];

    private readonly LogCapture _log = new();
    private ServiceNode? _node;

    private ServiceNode Node => _node!;

    private FakeTimeProvider Clock => Node.Clock;

    public async Task InitializeAsync() =>
        _node = await ServiceNode.StartAsync(new NodeOptions { ExtraArgs = Templates, ConfigureServices = _log.AddTo });

    public async Task DisposeAsync()
    {
        if (_node is not null)
            await _node.DisposeAsync();
    }

    [Fact]
    public async Task Es256_token_verifies_against_the_published_jwks_with_every_claim()
    {
        var issued = await Node.IssueApiSessionAsync();
        var answer = await TokenizeAsync(issued, "es");
        var jwt = answer.Json.GetProperty("tokenized").GetString()!;
        // The rest of the body is the session, as a plain whoami answers it.
        Assert.Equal(issued.SessionId, answer.Json.GetProperty("id").GetGuid());
        Assert.Equal(issued.IdentityId.ToString(), answer.Header("X-Kratos-Authenticated-Identity-Id"));

        var token = await VerifyAsync(jwt, audience: "orders-api");
        Assert.Equal("ES256", token.Alg);
        Assert.Equal("JWT", token.Typ);
        Assert.False(string.IsNullOrEmpty(token.Kid));
        var claims = Payload(jwt);
        Assert.Equal(Issuer, claims.GetProperty("iss").GetString());
        Assert.Equal(issued.IdentityId.ToString(), claims.GetProperty("sub").GetString());
        Assert.Equal(issued.SessionId.ToString(), claims.GetProperty("sid").GetString());
        Assert.Equal("orders-api", claims.GetProperty("aud").GetString());
        Assert.True(Guid.TryParse(claims.GetProperty("jti").GetString(), out _));
        var iat = claims.GetProperty("iat").GetInt64();
        Assert.Equal(Clock.GetUtcNow().ToUnixTimeSeconds(), iat);
        Assert.Equal(iat, claims.GetProperty("nbf").GetInt64());
        Assert.Equal(iat + 120, claims.GetProperty("exp").GetInt64());
        var session = answer.Json;
        Assert.Equal(session.GetProperty("identity").GetProperty("traits").GetProperty("email").GetString(), claims.GetProperty("email").GetString());
        Assert.Equal("free", claims.GetProperty("plan").GetString());
        Assert.Equal("aal1", claims.GetProperty("aal").GetString());
        Assert.Equal(
            session.GetProperty("authentication_methods").EnumerateArray().Select(m => m.GetProperty("method").GetString()),
            claims.GetProperty("amr").EnumerateArray().Select(m => m.GetString()));
        Assert.False(claims.TryGetProperty("missing", out _), "a path that leads nowhere leaves its claim out");
    }

    [Fact]
    public async Task Rs256_token_with_two_audiences_verifies_and_the_jwks_is_cacheable_public_keys_only()
    {
        var issued = await Node.IssueBrowserSessionAsync();
        var jwt = (await TokenizeAsync(issued, "rs", issued.CookieHeader)).Json.GetProperty("tokenized").GetString()!;
        var token = await VerifyAsync(jwt, audience: "b");
        Assert.Equal("RS256", token.Alg);
        Assert.Equal(["a", "b"], Payload(jwt).GetProperty("aud").EnumerateArray().Select(a => a.GetString()));
        Assert.Equal(Payload(jwt).GetProperty("iat").GetInt64() + 3600, Payload(jwt).GetProperty("exp").GetInt64());

        var jwks = await Node.SendForAnswerAsync(HttpMethod.Get, Node.Public("/.well-known/jwks.json"));
        Assert.Equal(HttpStatusCode.OK, jwks.Status);
        Assert.Equal("public, max-age=300", jwks.Header("Cache-Control"));
        var keys = jwks.Json.GetProperty("keys").EnumerateArray().ToList();
        Assert.True(keys.Select(k => k.GetProperty("alg").GetString()).Order(StringComparer.Ordinal).SequenceEqual(["ES256", "EdDSA", "RS256"]), jwks.Body);
        foreach (var key in keys)
        {
            Assert.Equal("sig", key.GetProperty("use").GetString());
            foreach (var secret in new[] { "d", "p", "q", "dp", "dq", "qi", "k" })
                Assert.False(key.TryGetProperty(secret, out _), $"JWKS key {key.GetProperty("kid")} has private member {secret}");
        }
        // Not on the admin port.
        Assert.Equal(HttpStatusCode.NotFound, (await Node.SendForAnswerAsync(HttpMethod.Get, Node.Admin("/.well-known/jwks.json"))).Status);
    }

    [Fact]
    public async Task EdDsa_token_takes_the_external_id_as_subject_and_verifies_with_ed25519()
    {
        var externalId = $"ext-{Guid.NewGuid():N}";
        var identity = await CreateIdentityAsync(externalId);
        var issued = await Node.IssueApiSessionAsync(identity);
        var jwt = (await TokenizeAsync(issued, "ed")).Json.GetProperty("tokenized").GetString()!;
        var parts = jwt.Split('.');
        var header = JsonDocument.Parse(Base64UrlDecode(parts[0])).RootElement;
        Assert.Equal("EdDSA", header.GetProperty("alg").GetString());
        var kid = header.GetProperty("kid").GetString();
        var jwks = (await Node.SendForAnswerAsync(HttpMethod.Get, Node.Public("/.well-known/jwks.json"))).Json;
        var jwk = jwks.GetProperty("keys").EnumerateArray().Single(k => k.GetProperty("kid").GetString() == kid);
        Assert.Equal("OKP", jwk.GetProperty("kty").GetString());
        Assert.Equal("Ed25519", jwk.GetProperty("crv").GetString());
        var publicKey = PublicKey.Import(SignatureAlgorithm.Ed25519, Base64UrlDecode(jwk.GetProperty("x").GetString()!), KeyBlobFormat.RawPublicKey);
        Assert.True(SignatureAlgorithm.Ed25519.Verify(publicKey, Encoding.ASCII.GetBytes($"{parts[0]}.{parts[1]}"), Base64UrlDecode(parts[2])));
        Assert.Equal(externalId, Payload(jwt).GetProperty("sub").GetString());

        // Without an external id there is no subject: 400, not a token with another subject.
        var withoutExternal = await Node.IssueApiSessionAsync();
        var refused = await TokenizeAsync(withoutExternal, "ed");
        Assert.Equal(HttpStatusCode.BadRequest, refused.Status);
        Assert.Contains("external_id", refused.Json.GetProperty("error").GetProperty("reason").GetString());
    }

    [Fact]
    public async Task Unknown_template_is_400_in_the_envelope_after_the_session_passed_and_bad_sessions_are_401_without_a_token()
    {
        var issued = await Node.IssueApiSessionAsync();
        var unknown = await TokenizeAsync(issued, "nope");
        Assert.Equal(HttpStatusCode.BadRequest, unknown.Status);
        var error = unknown.Json.GetProperty("error");
        Assert.Equal(400, error.GetProperty("code").GetInt32());
        Assert.Equal("Bad Request", error.GetProperty("status").GetString());
        Assert.Equal("Unable to find tokenizer template \"nope\".", error.GetProperty("reason").GetString());

        // As Kratos, the credential is judged first.
        var noSession = await Node.WhoamiAsync(("X-Session-Token", "ory_st_unknown"));
        Assert.Equal(HttpStatusCode.Unauthorized, noSession.Status);
        var unknownTemplateBadSession = await Answer.ReadAsync(await Node.Http.SendAsync(WithHeaders(Node.Public("/sessions/whoami?tokenize_as=nope"), ("X-Session-Token", "ory_st_unknown"))));
        Assert.Equal(HttpStatusCode.Unauthorized, unknownTemplateBadSession.Status);

        // Revoked: 401, no token.
        Assert.Equal(HttpStatusCode.NoContent, (await Node.SendForAnswerAsync(HttpMethod.Delete, Node.Admin($"/admin/sessions/{issued.SessionId}"))).Status);
        var revoked = await TokenizeAsync(issued, "es");
        Assert.Equal(HttpStatusCode.Unauthorized, revoked.Status);
        Assert.DoesNotContain("tokenized", revoked.Body);

        // Expired: 401, no token.
        var expiring = await Node.IssueApiSessionAsync();
        Clock.Advance(TimeSpan.FromHours(25));
        var expired = await TokenizeAsync(expiring, "es");
        Assert.Equal(HttpStatusCode.Unauthorized, expired.Status);
        Assert.DoesNotContain("tokenized", expired.Body);
    }

    [Fact]
    public async Task A_token_is_reused_until_half_its_lifetime_or_a_change_of_the_session()
    {
        var issued = await Node.IssueApiSessionAsync();
        var first = Jti(await TokenizeAsync(issued, "es"));
        Clock.Advance(TimeSpan.FromSeconds(30));
        Assert.Equal(first, Jti(await TokenizeAsync(issued, "es")));

        // Half of the 2 minute lifetime gone: signed again.
        Clock.Advance(TimeSpan.FromSeconds(31));
        var second = Jti(await TokenizeAsync(issued, "es"));
        Assert.NotEqual(first, second);

        // The identity changed: signed again, with the new traits.
        var email = $"{Guid.NewGuid():N}@example.org";
        var patch = await Node.SendForAnswerAsync(HttpMethod.Patch, Node.Admin($"/admin/identities/{issued.IdentityId}"),
            $$"""[{"op":"replace","path":"/traits/email","value":"{{email}}"}]""", "application/json-patch+json");
        Assert.True(patch.Status == HttpStatusCode.OK, $"patch: {patch}");
        var third = await TokenizeAsync(issued, "es");
        Assert.NotEqual(second, Jti(third));
        Assert.Equal(email, Payload(third.Json.GetProperty("tokenized").GetString()!).GetProperty("email").GetString());
    }

    [Fact]
    public async Task Rotation_publishes_the_new_key_first_signs_with_it_after_the_lead_time_and_keeps_the_old_one_until_its_tokens_expired()
    {
        var issued = await Node.IssueApiSessionAsync();
        var start = Clock.GetUtcNow();
        var oldKid = Header(await TokenizeAsync(issued, "es")).Kid;

        var rotate = await Node.SendForAnswerAsync(HttpMethod.Post, Node.Admin("/admin/jwks/rotate"));
        Assert.Equal(HttpStatusCode.OK, rotate.Status);
        var rotated = rotate.Json.GetProperty("rotated").EnumerateArray().Single(r => r.GetProperty("alg").GetString() == "ES256");
        var newKid = rotated.GetProperty("kid").GetString()!;
        Assert.NotEqual(oldKid, newKid);
        Assert.Equal(OrleansSessions.Json.Rfc3339.Truncate(start) + TimeSpan.FromMinutes(10), DateTimeOffset.Parse(rotated.GetProperty("activates_at").GetString()!));
        // Published before it signs anything.
        Assert.Contains(newKid, await PublishedKidsAsync());
        Assert.Contains(oldKid, await PublishedKidsAsync());

        // Just before the lead time is over, tokens are still signed by the old key.
        Clock.Advance(TimeSpan.FromMinutes(10) - TimeSpan.FromSeconds(1));
        var lastOld = await TokenizeAsync(issued, "es");
        Assert.Equal(oldKid, Header(lastOld).Kid);
        var lastOldJwt = lastOld.Json.GetProperty("tokenized").GetString()!;

        // From then on, by the new key; the old key's last token still verifies against the published set.
        Clock.Advance(TimeSpan.FromSeconds(2));
        var firstNew = await TokenizeAsync(issued, "es");
        Assert.Equal(newKid, Header(firstNew).Kid);
        await VerifyAsync(firstNew.Json.GetProperty("tokenized").GetString()!, "orders-api");
        await VerifyAsync(lastOldJwt, "orders-api");

        // Until every old token expired (2 minutes after the switch, plus a minute of clock skew), the old key stays.
        var lastOldExpiry = DateTimeOffset.FromUnixTimeSeconds(Payload(lastOldJwt).GetProperty("exp").GetInt64());
        Clock.Advance(lastOldExpiry - Clock.GetUtcNow() - TimeSpan.FromSeconds(1));
        await VerifyAsync(lastOldJwt, "orders-api");
        // (iat is whole seconds: the last old token expires up to a second before the switch plus its lifetime.)
        Clock.Advance(TimeSpan.FromMinutes(1) + TimeSpan.FromSeconds(3));
        var published = await PublishedKidsAsync();
        Assert.DoesNotContain(oldKid, published);
        Assert.Contains(newKid, published);
    }

    [Fact]
    public async Task No_private_key_material_reaches_a_response_or_the_log()
    {
        var issued = await Node.IssueApiSessionAsync(await CreateIdentityAsync($"ext-{Guid.NewGuid():N}"));
        var bodies = new List<string>();
        foreach (var template in new[] { "es", "rs", "ed" })
            bodies.Add((await TokenizeAsync(issued, template)).Body);
        bodies.Add((await Node.SendForAnswerAsync(HttpMethod.Post, Node.Admin("/admin/jwks/rotate"))).Body);
        bodies.Add((await Node.SendForAnswerAsync(HttpMethod.Get, Node.Public("/.well-known/jwks.json"))).Body);

        var secrets = new List<string>();
        await using (var connection = new SqliteConnection($"Data Source={Path.Combine(Node.DataDirectory, "sessions.db")};Mode=ReadOnly"))
        {
            await connection.OpenAsync();
            await using var command = new SqliteCommand("SELECT private_jwk FROM tokenizer_keys", connection);
            await using var reader = await command.ExecuteReaderAsync();
            while (await reader.ReadAsync())
            {
                var jwk = JsonDocument.Parse(reader.GetString(0)).RootElement;
                foreach (var member in new[] { "d", "p", "q", "dp", "dq", "qi" })
                    if (jwk.TryGetProperty(member, out var value))
                        secrets.Add(value.GetString()!);
            }
        }
        Assert.True(secrets.Count >= 6, $"expected the private parts of at least 3 keys, found {secrets.Count}");
        var log = string.Join('\n', _log.Entries.Select(e => $"{e.Message} {e.Exception}"));
        Assert.Contains("signing key", log); // the capture does see the tokenizer's log lines
        foreach (var secret in secrets)
        {
            Assert.DoesNotContain(secret, log);
            Assert.All(bodies, body => Assert.DoesNotContain(secret, body));
        }
    }

    // ---- helpers --------------------------------------------------------------------------------------------

    private async Task<Answer> TokenizeAsync(IssuedSession issued, string template, (string Name, string Value)? credential = null) =>
        await Answer.ReadAsync(await Node.Http.SendAsync(WithHeaders(Node.Public($"/sessions/whoami?tokenize_as={template}"), credential ?? issued.TokenHeader)));

    private static HttpRequestMessage WithHeaders(Uri url, params (string Name, string Value)[] headers)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, url);
        foreach (var (name, value) in headers)
            request.Headers.TryAddWithoutValidation(name, value);
        return request;
    }

    private async Task<Guid> CreateIdentityAsync(string externalId)
    {
        var body = new JsonObject
        {
            ["schema_id"] = "default",
            ["external_id"] = externalId,
            ["traits"] = new JsonObject { ["email"] = $"{Guid.NewGuid():N}@example.com" },
        };
        var created = await Node.SendForAnswerAsync(HttpMethod.Post, Node.Admin("/admin/identities"), body.ToJsonString());
        Assert.True(created.Status == HttpStatusCode.Created, $"create identity: {created}");
        return created.Json.GetProperty("id").GetGuid();
    }

    private Task<JsonWebToken> VerifyAsync(string jwt, string audience) => VerifyAsync(Node, jwt, audience);

    /// <summary>
    /// Verifies the signature, issuer and audience against the JWKS <paramref name="node"/> serves now (lifetime is checked by
    /// the tests, on the fake clock).
    /// </summary>
    public static async Task<JsonWebToken> VerifyAsync(ServiceNode node, string jwt, string audience)
    {
        var jwks = await node.SendForAnswerAsync(HttpMethod.Get, node.Public("/.well-known/jwks.json"));
        var result = await new JsonWebTokenHandler().ValidateTokenAsync(jwt, new TokenValidationParameters
        {
            IssuerSigningKeys = new JsonWebKeySet(jwks.Body).GetSigningKeys(),
            ValidIssuer = Issuer,
            ValidAudience = audience,
            ValidateLifetime = false,
        });
        Assert.True(result.IsValid, $"token did not verify against the published JWKS: {result.Exception}");
        return (JsonWebToken)result.SecurityToken;
    }

    private async Task<List<string>> PublishedKidsAsync()
    {
        var jwks = await Node.SendForAnswerAsync(HttpMethod.Get, Node.Public("/.well-known/jwks.json"));
        return [.. jwks.Json.GetProperty("keys").EnumerateArray().Select(k => k.GetProperty("kid").GetString()!)];
    }

    private static JsonWebToken Header(Answer answer) => new(answer.Json.GetProperty("tokenized").GetString()!);

    private static string Jti(Answer answer)
    {
        Assert.True(answer.Status == HttpStatusCode.OK, $"tokenized whoami: {answer}");
        return Payload(answer.Json.GetProperty("tokenized").GetString()!).GetProperty("jti").GetString()!;
    }

    private static JsonElement Payload(string jwt) => JsonDocument.Parse(Base64UrlDecode(jwt.Split('.')[1])).RootElement.Clone();

    private static byte[] Base64UrlDecode(string text) => System.Buffers.Text.Base64Url.DecodeFromChars(text);
}
