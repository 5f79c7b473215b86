using System.Net;
using OrleansSessions.Api.Tests.Infrastructure;

namespace OrleansSessions.Api.Tests;

/// <summary>A node that lets one browser app (and the subdomains of another) call its public API cross-origin.</summary>
public sealed class CorsNodeFixture : DevNodeFixture
{
    public const string App = "https://app.example.com";

    protected override NodeOptions Options => new()
    {
        Dev = true,
        ExtraArgs = ["--serve:public:cors:enabled=true", $"--serve:public:cors:allowed_origins:0={App}", "--serve:public:cors:allowed_origins:1=https://*.example.org"],
    };
}

/// <summary><c>serve:public:cors:*</c> (Kratos's keys): off by default; when on, only for the configured origins and the public port.</summary>
public sealed class CorsTests(CorsNodeFixture cors, DevNodeFixture plain) : IClassFixture<CorsNodeFixture>, IClassFixture<DevNodeFixture>
{
    private static Task<Answer> PreflightAsync(ServiceNode node, Uri url, string origin, string method = "GET") =>
        node.SendAsync(HttpMethod.Options, url, null, ("Origin", origin), ("Access-Control-Request-Method", method),
            ("Access-Control-Request-Headers", "x-session-token"));

    [Fact]
    public async Task An_allowed_origin_gets_its_preflight_and_credentialed_answers()
    {
        var node = cors.Node;
        var preflight = await PreflightAsync(node, node.Public("/sessions/whoami"), CorsNodeFixture.App);
        Assert.Equal(HttpStatusCode.NoContent, preflight.Status);
        Assert.Equal(CorsNodeFixture.App, preflight.Header("Access-Control-Allow-Origin"));
        Assert.Equal("true", preflight.Header("Access-Control-Allow-Credentials"));
        Assert.Contains("x-session-token", preflight.Header("Access-Control-Allow-Headers")!, StringComparison.OrdinalIgnoreCase);

        var issued = await node.IssueApiSessionAsync();
        var whoami = await node.WhoamiAsync(("X-Session-Token", issued.Token), ("Origin", "https://shop.example.org"));
        Assert.Equal(HttpStatusCode.OK, whoami.Status);
        Assert.Equal("https://shop.example.org", whoami.Header("Access-Control-Allow-Origin"));
    }

    [Fact]
    public async Task Other_origins_the_admin_port_and_a_node_without_cors_get_no_cors_headers()
    {
        var other = await PreflightAsync(cors.Node, cors.Node.Public("/sessions/whoami"), "https://evil.example");
        Assert.Null(other.Header("Access-Control-Allow-Origin"));
        var admin = await PreflightAsync(cors.Node, cors.Node.Admin("/admin/identities"), CorsNodeFixture.App);
        Assert.Null(admin.Header("Access-Control-Allow-Origin"));
        var off = await PreflightAsync(plain.Node, plain.Node.Public("/sessions/whoami"), CorsNodeFixture.App);
        Assert.Null(off.Header("Access-Control-Allow-Origin"));
        Assert.True(off.Code is >= 400 and < 500, $"a preflight without CORS: {off}");
    }

    [Fact]
    public async Task An_allowed_app_may_end_sessions_with_the_cookie()
    {
        var node = cors.Node;
        var identity = await node.CreatePasswordIdentityAsync();
        var cookie = await node.LoginBrowserAsync(identity);
        var other = await node.LoginNativeAsync(identity);
        var ended = await node.SendAsync(HttpMethod.Delete, node.Public("/sessions"), null, ("Cookie", cookie), ("Origin", CorsNodeFixture.App));
        Assert.Equal(HttpStatusCode.OK, ended.Status);
        Assert.Equal(HttpStatusCode.Unauthorized, (await node.WhoamiAsync(other.TokenHeader)).Status);
    }
}
