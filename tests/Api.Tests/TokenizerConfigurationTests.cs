using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Configuration;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using OrleansSessions.Api.Tests.Infrastructure;
using OrleansSessions.Silo;
using OrleansSessions.Storage;
using OrleansSessions.Tokenizer;

namespace OrleansSessions.Api.Tests;

/// <summary>
/// How the tokenizer is configured: a template's own private key set (<c>jwks_url</c>), start-up refusing
/// configuration that cannot work with the key that is wrong, and keys created by the <c>rotate-keys</c> command.
/// </summary>
public sealed class TokenizerConfigurationTests
{
    private const string Tokenizer = "session:whoami:tokenizer";
    private const string Issuer = "https://sessions.example.test";

    // ---- jwks_url -------------------------------------------------------------------------------------------

    [Theory]
    [InlineData("file")]
    [InlineData("base64")]
    public async Task A_configured_key_set_signs_with_its_first_key_and_only_its_public_parts_are_published(string scheme)
    {
        using var signer = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        using var second = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var signerKid = $"partner-{Guid.NewGuid():N}";
        var secondKid = $"partner-next-{Guid.NewGuid():N}";
        var keySet = new JsonObject { ["keys"] = new JsonArray(PrivateJwk(signer, signerKid), PrivateJwk(second, secondKid)) }.ToJsonString();

        var dataDirectory = ServiceNode.NewDataDirectory();
        try
        {
            string url;
            if (scheme == "file")
            {
                var path = Path.Combine(dataDirectory, "partner-keys.json");
                await File.WriteAllTextAsync(path, keySet);
                url = new Uri(path).AbsoluteUri;
                Assert.StartsWith("file:///", url);
            }
            else
                url = "base64://" + Convert.ToBase64String(Encoding.UTF8.GetBytes(keySet));

            await using var node = await ServiceNode.StartAsync(new NodeOptions
            {
                DataDirectory = dataDirectory,
                ExtraArgs =
                [
                    $"--{Tokenizer}:issuer={Issuer}",
                    $"--{Tokenizer}:templates:partner:audience=partner-api",
                    $"--{Tokenizer}:templates:partner:jwks_url={url}",
                ],
            });
            var issued = await node.IssueApiSessionAsync();
            var answer = await Answer.ReadAsync(await node.Http.SendAsync(Tokenize(node, issued, "partner")));
            Assert.True(answer.Status == HttpStatusCode.OK, $"tokenized whoami: {answer}");
            var jwt = answer.Json.GetProperty("tokenized").GetString()!;

            var jwks = await node.SendForAnswerAsync(HttpMethod.Get, node.Public("/.well-known/jwks.json"));
            Assert.Equal(HttpStatusCode.OK, jwks.Status);
            var result = await new JsonWebTokenHandler().ValidateTokenAsync(jwt, new TokenValidationParameters
            {
                IssuerSigningKeys = new JsonWebKeySet(jwks.Body).GetSigningKeys(),
                ValidIssuer = Issuer,
                ValidAudience = "partner-api",
                ValidateLifetime = false,
            });
            Assert.True(result.IsValid, $"token did not verify against the published JWKS: {result.Exception}");
            var token = (JsonWebToken)result.SecurityToken;
            Assert.Equal(signerKid, token.Kid);
            Assert.Equal("ES256", token.Alg);

            // Both keys of the set are published, public parts only; no generated key joins them.
            var published = jwks.Json.GetProperty("keys").EnumerateArray().ToList();
            Assert.Equal(new[] { signerKid, secondKid }.Order(StringComparer.Ordinal),
                published.Select(k => k.GetProperty("kid").GetString()!).Order(StringComparer.Ordinal));
            foreach (var (key, kid) in new[] { (signer, signerKid), (second, secondKid) })
            {
                var jwk = published.Single(k => k.GetProperty("kid").GetString() == kid);
                var p = key.ExportParameters(includePrivateParameters: false);
                Assert.Equal("EC", jwk.GetProperty("kty").GetString());
                Assert.Equal("P-256", jwk.GetProperty("crv").GetString());
                Assert.Equal(Base64Url(p.Q.X!), jwk.GetProperty("x").GetString());
                Assert.Equal(Base64Url(p.Q.Y!), jwk.GetProperty("y").GetString());
                Assert.False(jwk.TryGetProperty("d", out _), $"JWKS key {kid} carries its private part");
            }
            Assert.DoesNotContain(Base64Url(signer.ExportParameters(includePrivateParameters: true).D!), jwks.Body);
        }
        finally
        {
            ServiceNode.DeleteDirectory(dataDirectory);
        }
    }

    // ---- start-up refuses what cannot work ------------------------------------------------------------------

    [Theory]
    [InlineData($"{Tokenizer}:templates:t:algorithm", $"--{Tokenizer}:templates:t:algorithm=HS256")]
    [InlineData($"{Tokenizer}:templates:t:subject_source", $"--{Tokenizer}:templates:t:subject_source=email")]
    [InlineData($"{Tokenizer}:templates:t:claims:sub", $"--{Tokenizer}:templates:t:claims:sub=identity.traits.email")]
    [InlineData($"{Tokenizer}:rotation:lead_time", $"--{Tokenizer}:templates:t:ttl=1m", $"--{Tokenizer}:rotation:lead_time=10m", $"--{Tokenizer}:jwks_max_age=20m")]
    [InlineData($"{Tokenizer}:templates:t:jwks_url", $"--{Tokenizer}:templates:t:jwks_url=http://keys.example.test/jwks.json")]
    // A set of public keys only, a set without keys, and a value that is not base64: all stop start-up.
    [InlineData($"{Tokenizer}:templates:t:jwks_url", $"--{Tokenizer}:templates:t:jwks_url=base64://eyJrZXlzIjogW3sia3R5IjogIkVDIiwgImNydiI6ICJQLTI1NiIsICJraWQiOiAicHViIiwgIngiOiAiWFQ2aW16NURzUzBDQU80c3RsblcyTGVZcTFUajVLNGcxTWZ2OEswZ2pqVSIsICJ5IjogImJISlFjTlJWbXF6X01peFFTc25zbG5GV2FBdlhWVFhIYXpWMTU3Skh0YTAifV19")]
    [InlineData($"{Tokenizer}:templates:t:jwks_url", $"--{Tokenizer}:templates:t:jwks_url=base64://eyJub3Rfa2V5cyI6W119")]
    [InlineData($"{Tokenizer}:templates:t:jwks_url", $"--{Tokenizer}:templates:t:jwks_url=base64://not*base64")]
    public async Task Start_up_refuses_a_tokenizer_configuration_that_cannot_work_naming_the_key(string key, params string[] args)
    {
        var dataDirectory = ServiceNode.NewDataDirectory();
        try
        {
            var failure = await Assert.ThrowsAsync<InvalidOperationException>(async () =>
            {
                await using var node = await ServiceNode.StartAsync(new NodeOptions { DataDirectory = dataDirectory, ExtraArgs = args });
            });
            Assert.Contains(key, failure.Message);
        }
        finally
        {
            ServiceNode.DeleteDirectory(dataDirectory);
        }
    }

    [Fact]
    public async Task Start_up_refuses_a_key_set_whose_first_key_is_not_of_the_template_algorithm()
    {
        using var ec = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var set = new JsonObject { ["keys"] = new JsonArray(PrivateJwk(ec, "ec-key")) };
        var url = "base64://" + Convert.ToBase64String(Encoding.UTF8.GetBytes(set.ToJsonString()));
        var failure = await Assert.ThrowsAsync<InvalidOperationException>(async () =>
        {
            await using var node = await ServiceNode.StartAsync(new NodeOptions
            {
                ExtraArgs = [$"--{Tokenizer}:templates:t:algorithm=RS256", $"--{Tokenizer}:templates:t:jwks_url={url}"],
            });
        });
        Assert.Contains($"{Tokenizer}:templates:t:jwks_url", failure.Message);
        Assert.Contains("ES256", failure.Message);
    }

    // ---- rotate-keys ----------------------------------------------------------------------------------------

    [Fact]
    public async Task Rotate_keys_on_an_empty_store_creates_a_first_key_per_algorithm_that_the_node_publishes_and_signs_with_at_once()
    {
        var dataDirectory = ServiceNode.NewDataDirectory();
        try
        {
            var settings = RotationSettings(dataDirectory);
            await new SqliteStore(StoreAt(dataDirectory).SqlitePath).MigrateAsync();

            await KeyRotationCommand.RunAsync(Configuration(settings));

            var created = await new SqliteStore(StoreAt(dataDirectory).SqlitePath).ListSigningKeysAsync();
            Assert.Equal(["ES256", "EdDSA"], created.Select(k => k.Algorithm).Order(StringComparer.Ordinal));
            Assert.All(created, k => Assert.Equal(SigningKeyRing.FirstKeyActivation, k.ActivatesAt));

            await using var node = await ServiceNode.StartAsync(new NodeOptions { DataDirectory = dataDirectory, ExtraArgs = Args(settings) });
            var published = await PublishedKidsAsync(node);
            Assert.All(created, k => Assert.Contains(k.Kid, published));
            var issued = await node.IssueApiSessionAsync();
            Assert.Equal(created.Single(k => k.Algorithm == "ES256").Kid, await SigningKidAsync(node, issued, "es"));
            Assert.Equal(created.Single(k => k.Algorithm == "EdDSA").Kid, await SigningKidAsync(node, issued, "ed"));
            // The node found its keys in place and generated none of its own.
            Assert.Equal(created.Select(k => k.Kid).Order(StringComparer.Ordinal),
                (await new SqliteStore(StoreAt(dataDirectory).SqlitePath).ListSigningKeysAsync()).Select(k => k.Kid).Order(StringComparer.Ordinal));
        }
        finally
        {
            ServiceNode.DeleteDirectory(dataDirectory);
        }
    }

    [Fact]
    public async Task Rotate_keys_on_a_store_with_keys_adds_one_that_is_published_at_once_and_signs_after_the_lead_time()
    {
        var dataDirectory = ServiceNode.NewDataDirectory();
        try
        {
            var settings = RotationSettings(dataDirectory);
            await new SqliteStore(StoreAt(dataDirectory).SqlitePath).MigrateAsync();
            await KeyRotationCommand.RunAsync(Configuration(settings));
            var before = DateTimeOffset.UtcNow;
            await KeyRotationCommand.RunAsync(Configuration(settings));

            var keys = (await new SqliteStore(StoreAt(dataDirectory).SqlitePath).ListSigningKeysAsync()).Where(k => k.Algorithm == "ES256").ToList();
            Assert.Equal(2, keys.Count);
            var (first, replacement) = (keys[0], keys[1]);
            Assert.Equal(SigningKeyRing.FirstKeyActivation, first.ActivatesAt);
            Assert.Equal(replacement.CreatedAt + TimeSpan.FromMinutes(10), replacement.ActivatesAt);
            Assert.True(replacement.CreatedAt >= before.AddSeconds(-1), $"created {replacement.CreatedAt:O}, command ran from {before:O}");

            await using var node = await ServiceNode.StartAsync(new NodeOptions { DataDirectory = dataDirectory, ExtraArgs = Args(settings) });
            var published = await PublishedKidsAsync(node);
            Assert.Contains(first.Kid, published);
            Assert.Contains(replacement.Kid, published);
            var issued = await node.IssueApiSessionAsync();
            Assert.Equal(first.Kid, await SigningKidAsync(node, issued, "es"));

            // Past the lead time (and a key refresh later), the replacement signs.
            node.Clock.Advance(replacement.ActivatesAt - node.Clock.GetUtcNow() + TimeSpan.FromMinutes(1) + TimeSpan.FromSeconds(1));
            Assert.Equal(replacement.Kid, await SigningKidAsync(node, issued, "es"));
        }
        finally
        {
            ServiceNode.DeleteDirectory(dataDirectory);
        }
    }

    [Fact]
    public async Task Rotate_keys_with_key_encryption_stores_sealed_keys_that_a_node_with_the_certificate_signs_with()
    {
        var dataDirectory = ServiceNode.NewDataDirectory();
        try
        {
            var certificate = await TestCertificate.WriteAsync(dataDirectory, "key-encryption");
            var settings = RotationSettings(dataDirectory);
            settings["secrets:key_encryption:certificate:cert:path"] = certificate.CertPath;
            settings["secrets:key_encryption:certificate:key:path"] = certificate.KeyPath;
            await new SqliteStore(StoreAt(dataDirectory).SqlitePath).MigrateAsync();

            await KeyRotationCommand.RunAsync(Configuration(settings));

            var created = await new SqliteStore(StoreAt(dataDirectory).SqlitePath).ListSigningKeysAsync();
            Assert.Equal(["ES256", "EdDSA"], created.Select(k => k.Algorithm).Order(StringComparer.Ordinal));
            Assert.All(created, k => Assert.False(k.PrivateJwk.StartsWith('{'), $"signing key {k.Kid} is stored as a JWK"));
            await using var node = await ServiceNode.StartAsync(new NodeOptions
            {
                DataDirectory = dataDirectory,
                ExtraArgs = [.. Args(settings), .. certificate.Args("secrets:key_encryption:certificate")],
            });
            var issued = await node.IssueApiSessionAsync();
            Assert.Equal(created.Single(k => k.Algorithm == "ES256").Kid, await SigningKidAsync(node, issued, "es"));
            Assert.Equal(created.Single(k => k.Algorithm == "EdDSA").Kid, await SigningKidAsync(node, issued, "ed"));
        }
        finally
        {
            ServiceNode.DeleteDirectory(dataDirectory);
        }
    }

    // ---- helpers --------------------------------------------------------------------------------------------

    /// <summary>The store and tokenizer settings both the command and the node read.</summary>
    private static Dictionary<string, string?> RotationSettings(string dataDirectory) => new()
    {
        ["store:data_directory"] = dataDirectory,
        [$"{Tokenizer}:key_refresh"] = "1m",
        [$"{Tokenizer}:jwks_max_age"] = "5m",
        [$"{Tokenizer}:rotation:lead_time"] = "10m",
        [$"{Tokenizer}:rotation:interval"] = "720h",
        [$"{Tokenizer}:templates:es:ttl"] = "2m",
        [$"{Tokenizer}:templates:ed:algorithm"] = "EdDSA",
    };

    private static IConfiguration Configuration(Dictionary<string, string?> settings) =>
        new ConfigurationBuilder().AddInMemoryCollection(settings).Build();

    /// <summary>The node's own arguments carry the data directory: only the tokenizer settings are added.</summary>
    private static string[] Args(Dictionary<string, string?> settings) =>
        [.. settings.Where(s => s.Key.StartsWith(Tokenizer, StringComparison.Ordinal)).Select(s => $"--{s.Key}={s.Value}")];

    private static StoreOptions StoreAt(string dataDirectory) => new() { DataDirectory = dataDirectory };

    private static HttpRequestMessage Tokenize(ServiceNode node, IssuedSession issued, string template)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, node.Public($"/sessions/whoami?tokenize_as={template}"));
        request.Headers.TryAddWithoutValidation(issued.TokenHeader.Name, issued.TokenHeader.Value);
        return request;
    }

    private static async Task<string> SigningKidAsync(ServiceNode node, IssuedSession issued, string template)
    {
        var answer = await Answer.ReadAsync(await node.Http.SendAsync(Tokenize(node, issued, template)));
        Assert.True(answer.Status == HttpStatusCode.OK, $"tokenized whoami ({template}): {answer}");
        return new JsonWebToken(answer.Json.GetProperty("tokenized").GetString()!).Kid;
    }

    private static async Task<List<string>> PublishedKidsAsync(ServiceNode node)
    {
        var jwks = await node.SendForAnswerAsync(HttpMethod.Get, node.Public("/.well-known/jwks.json"));
        Assert.Equal(HttpStatusCode.OK, jwks.Status);
        return [.. jwks.Json.GetProperty("keys").EnumerateArray().Select(k => k.GetProperty("kid").GetString()!)];
    }

    /// <summary>A private EC P-256 JWK of <paramref name="key"/>, as an operator would put it in a key set.</summary>
    private static JsonObject PrivateJwk(ECDsa key, string kid)
    {
        var p = key.ExportParameters(includePrivateParameters: true);
        return new JsonObject
        {
            ["kty"] = "EC",
            ["crv"] = "P-256",
            ["kid"] = kid,
            ["alg"] = "ES256",
            ["use"] = "sig",
            ["x"] = Base64Url(p.Q.X!),
            ["y"] = Base64Url(p.Q.Y!),
            ["d"] = Base64Url(p.D!),
        };
    }

    private static string Base64Url(byte[] bytes) => System.Buffers.Text.Base64Url.EncodeToString(bytes);
}
