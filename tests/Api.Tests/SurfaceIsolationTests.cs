using System.Net;
using OrleansSessions.Api.Tests.Infrastructure;

namespace OrleansSessions.Api.Tests;

/// <summary>The admin API exists only on the admin port; whoami only on the public port.</summary>
public sealed class SurfaceIsolationTests(DevNodeFixture fixture) : IClassFixture<DevNodeFixture>
{
    private readonly ServiceNode _node = fixture.Node;

    private static void AssertNotFound(Answer answer, string what)
    {
        Assert.True(answer.Status == HttpStatusCode.NotFound, $"{what}: expected 404, got {answer}");
        Assert.Equal(404, answer.Json.GetProperty("error").GetProperty("code").GetInt32());
    }

    [Fact]
    public async Task Admin_routes_on_the_public_port_are_404()
    {
        var identityId = await _node.CreateIdentityAsync();
        var api = await _node.IssueApiSessionAsync(identityId);

        AssertNotFound(await _node.SendForAnswerAsync(HttpMethod.Post, _node.Public("/admin/identities"), """{"schema_id":"default","traits":{}}"""), "POST /admin/identities");
        AssertNotFound(await _node.SendForAnswerAsync(HttpMethod.Get, _node.Public($"/admin/identities/{identityId}")), "GET /admin/identities/{id}");
        AssertNotFound(await _node.SendForAnswerAsync(HttpMethod.Post, _node.Public($"/admin/identities/{identityId}/sessions"), """{"channel":"api"}"""), "POST /admin/identities/{id}/sessions");
        AssertNotFound(await _node.SendForAnswerAsync(HttpMethod.Delete, _node.Public($"/admin/sessions/{api.SessionId}")), "DELETE /admin/sessions/{id}");
        // Without the prefix, as Kratos's admin port would also accept them.
        AssertNotFound(await _node.SendForAnswerAsync(HttpMethod.Post, _node.Public("/identities"), """{"schema_id":"default","traits":{}}"""), "POST /identities");
        // DELETE /sessions/{id} on the public port is the self-service disableMySession: without the owner's credentials, 401.
        var selfService = await _node.SendForAnswerAsync(HttpMethod.Delete, _node.Public($"/sessions/{api.SessionId}"));
        Assert.True(selfService.Status == HttpStatusCode.Unauthorized, $"DELETE /sessions/{{id}}: expected 401, got {selfService}");

        // Nothing happened: the session is still active.
        Assert.Equal(HttpStatusCode.OK, (await _node.WhoamiAsync(api.TokenHeader)).Status);
    }

    [Theory]
    [InlineData("GET", "/sessions/whoami")]
    [InlineData("GET", "/admin/sessions/whoami")]
    [InlineData("POST", "/sessions/whoami")]
    [InlineData("HEAD", "/sessions/whoami")]
    public async Task Whoami_is_not_served_on_the_admin_port(string method, string path)
    {
        // On the admin port the path means /admin/sessions/{id} with id "whoami": never the session.
        var api = await _node.IssueApiSessionAsync();
        using var request = new HttpRequestMessage(new HttpMethod(method), _node.Admin(path));
        request.Headers.Add("X-Session-Token", api.Token);
        var answer = await Answer.ReadAsync(await _node.Http.SendAsync(request));
        Assert.True(answer.Code is >= 400 and < 500, $"admin {method} {path}: {answer}");
        Assert.Null(answer.Header("X-Kratos-Authenticated-Identity-Id"));
        Assert.DoesNotContain(api.SessionId.ToString(), answer.Body);
        if (method != "HEAD")
            Assert.Equal(answer.Code, answer.Json.GetProperty("error").GetProperty("code").GetInt32());
        Assert.Equal(HttpStatusCode.OK, (await _node.WhoamiAsync(api.TokenHeader)).Status);
    }

    [Theory]
    [InlineData("GET", "/admin/sessions/00000000-0000-0000-0000-000000000001")]
    [InlineData("PUT", "/admin/sessions/00000000-0000-0000-0000-000000000001")]
    [InlineData("PATCH", "/admin/identities")]
    [InlineData("DELETE", "/admin/identities")]
    [InlineData("GET", "/admin/identities/00000000-0000-0000-0000-000000000001/sessions")]
    public async Task Admin_paths_on_the_public_port_are_404_whatever_the_method(string method, string path)
    {
        // A 405 here would tell a caller of the public port which admin routes exist.
        var answer = await _node.SendForAnswerAsync(new HttpMethod(method), _node.Public(path));
        AssertNotFound(answer, $"public {method} {path}");
    }

    [Fact]
    public async Task Admin_port_answers_its_routes_without_the_admin_prefix_as_Kratos()
    {
        var created = await _node.SendForAnswerAsync(HttpMethod.Post, _node.Admin("/identities"), $$$"""{"schema_id":"default","traits":{"email":"{{{Guid.NewGuid():N}}}@example.com"}}""");
        Assert.Equal(HttpStatusCode.Created, created.Status);
        var id = created.Json.GetProperty("id").GetGuid();
        var read = await _node.SendForAnswerAsync(HttpMethod.Get, _node.Admin($"/identities/{id}"));
        Assert.Equal(HttpStatusCode.OK, read.Status);
        Assert.Equal(id, read.Json.GetProperty("id").GetGuid());
    }

    [Fact]
    public async Task Admin_identity_read_shows_admin_metadata_that_whoami_hides()
    {
        var identityId = await _node.CreateIdentityAsync();
        var read = await _node.SendForAnswerAsync(HttpMethod.Get, _node.Admin($"/admin/identities/{identityId}"));
        Assert.Equal("admins only", read.Json.GetProperty("metadata_admin").GetProperty("secret_note").GetString());
        var api = await _node.IssueApiSessionAsync(identityId);
        Assert.False((await _node.WhoamiAsync(api.TokenHeader)).Json.GetProperty("identity").TryGetProperty("metadata_admin", out _));
    }

    [Theory]
    [InlineData("public")]
    [InlineData("admin")]
    public async Task Health_endpoints_answer_on_both_ports(string port)
    {
        foreach (var path in new[] { "/health/alive", "/health/ready" })
        {
            var url = port == "public" ? _node.Public(path) : _node.Admin(path);
            var answer = await _node.SendForAnswerAsync(HttpMethod.Get, url);
            Assert.True(answer.Status == HttpStatusCode.OK, $"{port} {path}: {answer}");
        }
    }
}
