using System.Net;
using System.Text.Json;
using System.Xml.Linq;
using OrleansSessions.Api.Tests.Infrastructure;
using OrleansSessions.Silo.KeyRing;
using OrleansSessions.Storage;
using OrleansSessions.Tests.Store;
using OrleansSessions.Tokenizer;
using static OrleansSessions.Api.Tests.Infrastructure.LoginHelpers;

namespace OrleansSessions.Api.Tests;

/// <summary>Two nodes on one PostgreSQL database with key encryption on (<c>secrets:key_encryption</c>) and tokenizer templates.</summary>
public sealed class KeyEncryptionNodesFixture : TwoPostgresNodesFixture
{
    public const string Certificate = "secrets:key_encryption:certificate";

    /// <summary>Where the nodes' certificate (and any other a test makes) is written.</summary>
    public string CertificateFolder { get; } = ServiceNode.NewDataDirectory();

    protected override async Task<string[]> MoreArgsAsync() =>
        [.. (await TestCertificate.WriteAsync(CertificateFolder, "key-encryption")).Args(Certificate), .. TokenizerTests.Templates];

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        ServiceNode.DeleteDirectory(CertificateFolder);
    }
}

/// <summary>
/// Keys at rest: with key encryption on, the Data Protection key ring is stored encrypted to the certificate and the
/// tokenizer's private keys sealed under it; every node still opens every cookie and signs with the shared keys, and
/// a node that cannot decrypt the ring does not start.
/// </summary>
public sealed class KeyEncryptionTests(KeyEncryptionNodesFixture fixture) : IClassFixture<KeyEncryptionNodesFixture>
{
    private ServiceNode A => fixture.A;

    private ServiceNode B => fixture.B;

    [Fact]
    public async Task Every_node_opens_the_cookies_every_other_node_sealed()
    {
        var identity = await A.CreatePasswordIdentityAsync();
        var fromA = await A.LoginBrowserAsync(identity);
        var fromB = await B.LoginBrowserAsync(identity);

        foreach (var (node, cookie) in new[] { (B, fromA), (A, fromB), (A, fromA), (B, fromB) })
        {
            var whoami = await node.WhoamiAsync(("Cookie", cookie));
            Assert.True(whoami.Status == HttpStatusCode.OK, $"whoami on {node.PublicUrl} answered {whoami}");
            Assert.Equal(identity.Id, whoami.Json.GetProperty("identity").GetProperty("id").GetGuid());
        }
    }

    [Fact]
    public async Task A_token_signed_on_either_node_verifies_against_both_nodes_key_sets()
    {
        var issued = await A.IssueApiSessionAsync();
        var kids = new HashSet<string>();
        foreach (var signer in new[] { A, B })
        {
            var jwt = await TokenizeAsync(signer, issued, "es");
            foreach (var publisher in new[] { A, B })
                kids.Add((await TokenizerTests.VerifyAsync(publisher, jwt, "orders-api")).Kid);
        }
        Assert.Single(kids);
    }

    [Fact]
    public async Task The_stored_key_ring_and_signing_keys_hold_no_key_in_plaintext()
    {
        var issued = await B.IssueBrowserSessionAsync();
        foreach (var template in new[] { "es", "rs" })
            await TokenizeAsync(A, issued, template, issued.CookieHeader);

        var ring = fixture.Store.ReadKeyRingElements().Select(XElement.Parse).ToList();
        Assert.NotEmpty(ring);
        foreach (var key in ring)
        {
            Assert.Contains(key.Descendants(), e => e.Name.LocalName == "EncryptedData");
            Assert.DoesNotContain(key.Descendants(), e => e.Name.LocalName == "masterKey");
        }
        var signingKeys = await fixture.Store.ListSigningKeysAsync();
        Assert.True(signingKeys.Count >= 2, $"expected the ES256 and RS256 keys, found {signingKeys.Count}");
        foreach (var key in signingKeys)
        {
            // Sealed: Data Protection's base64url, neither a JWK nor any JSON.
            Assert.False(key.PrivateJwk.StartsWith('{'), $"signing key {key.Kid} is stored as a JWK");
            Assert.DoesNotContain("\"d\"", key.PrivateJwk);
            Assert.ThrowsAny<JsonException>(() => JsonDocument.Parse(key.PrivateJwk));
        }
    }

    [Fact]
    public async Task A_node_without_the_certificate_or_with_another_refuses_to_start_and_adds_no_key_to_the_ring()
    {
        await A.IssueBrowserSessionAsync();
        var before = fixture.Store.ReadKeyRingElements().Count;
        var other = await TestCertificate.WriteAsync(fixture.CertificateFolder, "other");

        foreach (var args in new[] { Array.Empty<string>(), other.Args(KeyEncryptionNodesFixture.Certificate) })
        {
            var failure = await Assert.ThrowsAsync<InvalidOperationException>(async () =>
            {
                await using var node = await ServiceNode.StartAsync(NodeOptions.PostgresCluster(fixture.Database, fixture.ClusterId, fixture.Clock, args));
            });
            Assert.Contains("cannot be decrypted on this node", failure.Message);
            Assert.Contains(KeyEncryptionNodesFixture.Certificate, failure.Message);
        }
        Assert.Equal(before, fixture.Store.ReadKeyRingElements().Count);
    }

    /// <summary>Split mode: a grains-only silo seals the signing keys it makes; the API node opens cookies and returns tokens.</summary>
    [Fact]
    public async Task In_the_split_mode_the_silo_seals_its_signing_keys_and_the_api_node_serves_cookies_and_tokens()
    {
        var database = await PostgresServer.CreateDatabaseAsync();
        try
        {
            await using var store = new PostgresStore(database);
            await store.MigrateAsync();
            var clusterId = $"split-keys-{Guid.NewGuid():N}";
            var certificate = await TestCertificate.WriteAsync(fixture.CertificateFolder, "split");
            NodeOptions Options(string role) => NodeOptions.PostgresCluster(database, clusterId, fixture.Clock,
                [$"--role={role}", .. certificate.Args(KeyEncryptionNodesFixture.Certificate), .. TokenizerTests.Templates]);
            await using var silo = await ServiceNode.StartAsync(Options("silo"));
            await using var api = await ServiceNode.StartAsync(Options("api"));

            Assert.IsType<DataProtectedPrivateKeys>(silo.Service<IPrivateKeyProtection>());
            var browser = await api.IssueBrowserSessionAsync();
            var whoami = await api.WhoamiAsync(browser.CookieHeader);
            Assert.True(whoami.Status == HttpStatusCode.OK, $"cookie whoami on the API node: {whoami}");
            await TokenizerTests.VerifyAsync(api, await TokenizeAsync(api, browser, "es", browser.CookieHeader), "orders-api");
            var signingKeys = await store.ListSigningKeysAsync();
            Assert.NotEmpty(signingKeys);
            Assert.All(signingKeys, key => Assert.False(key.PrivateJwk.StartsWith('{'), $"signing key {key.Kid} is stored as a JWK"));
        }
        finally
        {
            await PostgresServer.DropDatabaseAsync(database);
        }
    }

    private static async Task<string> TokenizeAsync(ServiceNode node, IssuedSession issued, string template, (string Name, string Value)? credential = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, node.Public($"/sessions/whoami?tokenize_as={template}"));
        var (name, value) = credential ?? issued.TokenHeader;
        request.Headers.TryAddWithoutValidation(name, value);
        var answer = await Answer.ReadAsync(await node.Http.SendAsync(request));
        Assert.True(answer.Status == HttpStatusCode.OK, $"tokenized whoami ({template}) on {node.PublicUrl}: {answer}");
        return answer.Json.GetProperty("tokenized").GetString()!;
    }
}
