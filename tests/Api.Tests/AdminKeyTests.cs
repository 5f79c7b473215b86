using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using OrleansSessions.Api.Tests.Infrastructure;

namespace OrleansSessions.Api.Tests;

/// <summary>A node outside dev mode with two admin keys (a rotation in progress), its log captured.</summary>
public sealed class AdminKeysNodeFixture : DevNodeFixture
{
    public const string FirstKey = "first-admin-key-7f3c9a1e5b";
    public const string SecondKey = "second-admin-key-2d8e4f6a0c";

    public LogCapture Log { get; } = new();

    protected override NodeOptions Options => new()
    {
        Dev = false,
        AdminKeys = [FirstKey, SecondKey],
        ConfigureServices = Log.AddTo,
        // Verbose, so that the request logs are there to be searched for keys.
        ExtraArgs = ["--Logging:LogLevel:Microsoft.AspNetCore=Debug", "--Logging:LogLevel:OrleansSessions=Trace"],
    };
}

/// <summary>
/// The admin listener outside dev mode: every request but health needs <c>Authorization: Bearer</c> with a
/// configured key; a missing or wrong one is a 401 in Kratos's envelope, before routing.
/// </summary>
public sealed class AdminKeyTests(AdminKeysNodeFixture fixture) : IClassFixture<AdminKeysNodeFixture>
{
    private const string Unauthorized401 =
        """{"error":{"code":401,"status":"Unauthorized","reason":"The admin API needs Authorization: Bearer with a valid admin API key.","message":"The request could not be authorized"}}""";

    private readonly ServiceNode _node = fixture.Node;

    private async Task<Answer> SendAsync(HttpMethod method, string path, string? authorization, string? json = null, bool admin = true)
    {
        using var request = new HttpRequestMessage(method, admin ? _node.Admin(path) : _node.Public(path));
        if (authorization is not null)
            Assert.True(request.Headers.TryAddWithoutValidation("Authorization", authorization));
        if (json is not null)
            request.Content = new StringContent(json, Encoding.UTF8, "application/json");
        return await Answer.ReadAsync(await _node.HttpWithoutAdminKey.SendAsync(request));
    }

    private static void AssertUnauthorized(Answer answer, string what)
    {
        Assert.True(answer.Status == HttpStatusCode.Unauthorized, $"{what}: expected 401, got {answer}");
        Assert.Equal(Unauthorized401, JsonNode.Parse(answer.Body)!.ToJsonString());
        Assert.Equal("", answer.Header("Ory-Error-Id"));
    }

    public static TheoryData<string?> RefusedAuthorizations => new()
    {
        null,
        "",
        "Bearer",
        "Bearer ",
        "Bearer wrong-key",
        $"Bearer {AdminKeysNodeFixture.FirstKey.ToUpperInvariant()}",
        $"Bearer {AdminKeysNodeFixture.FirstKey}x",
        $"Bearer  {AdminKeysNodeFixture.FirstKey}",
        $"Bearer {AdminKeysNodeFixture.FirstKey[..^1]}",
        $"Basic {Convert.ToBase64String(Encoding.ASCII.GetBytes("admin:" + AdminKeysNodeFixture.FirstKey))}",
        AdminKeysNodeFixture.FirstKey,
        $"Token {AdminKeysNodeFixture.FirstKey}",
    };

    [Theory]
    [MemberData(nameof(RefusedAuthorizations))]
    public async Task A_missing_or_wrong_key_is_401_on_every_admin_route(string? authorization)
    {
        var identityId = await _node.CreateIdentityAsync();
        var issued = await _node.IssueApiSessionAsync(identityId);

        AssertUnauthorized(await SendAsync(HttpMethod.Get, "/admin/sessions", authorization), "listSessions");
        AssertUnauthorized(await SendAsync(HttpMethod.Get, $"/admin/identities/{identityId}", authorization), "getIdentity");
        AssertUnauthorized(await SendAsync(HttpMethod.Delete, $"/admin/sessions/{issued.SessionId}", authorization), "disableSession");
        AssertUnauthorized(await SendAsync(HttpMethod.Delete, $"/admin/identities/{identityId}/sessions", authorization), "deleteIdentitySessions");
        AssertUnauthorized(await SendAsync(HttpMethod.Post, "/admin/identities", authorization,
            $$$"""{"schema_id":"default","traits":{"email":"{{{Guid.NewGuid():N}}}@example.com"}}"""), "createIdentity");
        AssertUnauthorized(await SendAsync(HttpMethod.Get, "/sessions", authorization), "unprefixed listSessions");
        // Before routing: an unknown route or a wrong method tells nothing either.
        AssertUnauthorized(await SendAsync(HttpMethod.Get, "/admin/no/such/route", authorization), "unknown route");
        AssertUnauthorized(await SendAsync(HttpMethod.Put, $"/admin/sessions/{issued.SessionId}", authorization), "wrong method");

        // Nothing was done.
        Assert.Equal(HttpStatusCode.OK, (await _node.WhoamiAsync(issued.TokenHeader)).Status);
        Assert.Equal(HttpStatusCode.OK, (await _node.GetIdentityAsync(identityId)).Status);
    }

    [Theory]
    [InlineData("Bearer " + AdminKeysNodeFixture.FirstKey)]
    [InlineData("Bearer " + AdminKeysNodeFixture.SecondKey)]
    [InlineData("bearer " + AdminKeysNodeFixture.FirstKey)]
    [InlineData("BEARER " + AdminKeysNodeFixture.SecondKey)]
    public async Task Either_configured_key_opens_the_admin_api(string authorization)
    {
        var created = await SendAsync(HttpMethod.Post, "/admin/identities", authorization,
            $$$"""{"schema_id":"default","traits":{"email":"{{{Guid.NewGuid():N}}}@example.com"}}""");
        Assert.Equal(HttpStatusCode.Created, created.Status);
        var identityId = created.Json.GetProperty("id").GetGuid();
        Assert.Equal(HttpStatusCode.OK, (await SendAsync(HttpMethod.Get, $"/admin/identities/{identityId}", authorization)).Status);
        Assert.Equal(HttpStatusCode.OK, (await SendAsync(HttpMethod.Get, "/admin/sessions?page_size=1", authorization)).Status);
        Assert.Equal(HttpStatusCode.OK, (await SendAsync(HttpMethod.Get, "/sessions?page_size=1", authorization)).Status);
        IdentityAdmin.AssertError(await SendAsync(HttpMethod.Get, "/admin/no/such/route", authorization), HttpStatusCode.NotFound);
    }

    [Theory]
    [InlineData("/health/alive")]
    [InlineData("/health/ready")]
    public async Task Health_stays_open_on_the_admin_port(string path)
    {
        var answer = await SendAsync(HttpMethod.Get, path, authorization: null);
        Assert.Equal(HttpStatusCode.OK, answer.Status);
        Assert.Equal("ok", answer.Json.GetProperty("status").GetString());
    }

    [Fact]
    public async Task The_public_port_needs_no_admin_key_and_reads_bearer_as_a_session_token()
    {
        var issued = await _node.IssueApiSessionAsync();
        var whoami = await SendAsync(HttpMethod.Get, "/sessions/whoami", issued.BearerHeader.Value, admin: false);
        Assert.Equal(HttpStatusCode.OK, whoami.Status);
        // An admin key is no session credential.
        Assert.Equal(HttpStatusCode.Unauthorized,
            (await SendAsync(HttpMethod.Get, "/sessions/whoami", "Bearer " + AdminKeysNodeFixture.FirstKey, admin: false)).Status);
    }

    [Fact]
    public async Task Keys_are_never_logged_and_no_open_admin_warning_is_given()
    {
        await SendAsync(HttpMethod.Get, "/admin/sessions", "Bearer wrong-key");
        await SendAsync(HttpMethod.Get, "/admin/sessions", "Bearer " + AdminKeysNodeFixture.FirstKey);
        Assert.NotEmpty(fixture.Log.Entries);
        foreach (var entry in fixture.Log.Entries)
        {
            Assert.DoesNotContain(AdminKeysNodeFixture.FirstKey, entry.Message);
            Assert.DoesNotContain(AdminKeysNodeFixture.SecondKey, entry.Message);
            Assert.DoesNotContain("wrong-key", entry.Message);
            Assert.False(entry.Level >= LogLevel.Warning && entry.Message.Contains("admin API", StringComparison.Ordinal), entry.Message);
        }
    }
}

/// <summary>Dev mode: the admin API is open, and the node says so loudly when it starts.</summary>
public sealed class AdminKeyDevModeTests
{
    [Fact]
    public async Task Dev_mode_opens_the_admin_api_and_warns_at_start_up()
    {
        var log = new LogCapture();
        await using var node = await ServiceNode.StartAsync(new NodeOptions { Dev = true, ConfigureServices = log.AddTo });
        Assert.Null(node.AdminKey);

        using var request = new HttpRequestMessage(HttpMethod.Get, node.Admin("/admin/sessions"));
        var answer = await Answer.ReadAsync(await node.HttpWithoutAdminKey.SendAsync(request));
        Assert.Equal(HttpStatusCode.OK, answer.Status);

        var warning = Assert.Single(log.Entries, e => e.Level == LogLevel.Warning && e.Message.Contains("admin API", StringComparison.Ordinal));
        Assert.Contains("OPEN", warning.Message, StringComparison.Ordinal);
        Assert.Contains(node.AdminUrl.GetLeftPart(UriPartial.Authority), warning.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Outside_dev_mode_a_node_without_admin_keys_does_not_start(bool oneEmptyKey)
    {
        string[] keys = oneEmptyKey ? [""] : [];
        var directory = ServiceNode.NewDataDirectory();
        try
        {
            var failure = await Assert.ThrowsAsync<OptionsValidationException>(async () =>
                await ServiceNode.StartAsync(new NodeOptions { Dev = false, AdminKeys = keys, DataDirectory = directory }));
            Assert.Contains("serve:admin:api_keys", failure.Message, StringComparison.Ordinal);
            Assert.Contains("dev=true", failure.Message, StringComparison.Ordinal);
        }
        finally
        {
            ServiceNode.DeleteDirectory(directory);
        }
    }
}
