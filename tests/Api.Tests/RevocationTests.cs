using System.Net;
using OrleansSessions.Api.Tests.Infrastructure;

namespace OrleansSessions.Api.Tests;

/// <summary><c>DELETE /admin/sessions/{id}</c> (Kratos's <c>disableSession</c>).</summary>
public sealed class RevocationTests(DevNodeFixture fixture) : IClassFixture<DevNodeFixture>
{
    private readonly ServiceNode _node = fixture.Node;

    private Task<Answer> RevokeAsync(Guid sessionId) =>
        _node.SendForAnswerAsync(HttpMethod.Delete, _node.Admin($"/admin/sessions/{sessionId}"));

    [Fact]
    public async Task Revoking_an_api_session_is_204_and_the_next_whoami_is_401()
    {
        var api = await _node.IssueApiSessionAsync();
        Assert.Equal(HttpStatusCode.OK, (await _node.WhoamiAsync(api.TokenHeader)).Status);

        var revoked = await RevokeAsync(api.SessionId);
        Assert.Equal(HttpStatusCode.NoContent, revoked.Status);
        Assert.Equal("", revoked.Body);

        Assert.Equal(HttpStatusCode.Unauthorized, (await _node.WhoamiAsync(api.TokenHeader)).Status);
        Assert.Equal(HttpStatusCode.Unauthorized, (await _node.WhoamiAsync(api.BearerHeader)).Status);
    }

    [Fact]
    public async Task Revoking_a_browser_session_makes_its_cookie_401()
    {
        var browser = await _node.IssueBrowserSessionAsync();
        Assert.Equal(HttpStatusCode.OK, (await _node.WhoamiAsync(browser.CookieHeader)).Status);
        Assert.Equal(HttpStatusCode.NoContent, (await RevokeAsync(browser.SessionId)).Status);
        Assert.Equal(HttpStatusCode.Unauthorized, (await _node.WhoamiAsync(browser.CookieHeader)).Status);
    }

    [Fact]
    public async Task Revoking_a_session_never_looked_up_takes_effect_too()
    {
        // Revoke before the first whoami, so no whoami could have warmed anything.
        var api = await _node.IssueApiSessionAsync();
        Assert.Equal(HttpStatusCode.NoContent, (await RevokeAsync(api.SessionId)).Status);
        Assert.Equal(HttpStatusCode.Unauthorized, (await _node.WhoamiAsync(api.TokenHeader)).Status);
    }

    [Fact]
    public async Task Revoking_one_session_leaves_the_identitys_other_sessions_alone()
    {
        var identityId = await _node.CreateIdentityAsync();
        var first = await _node.IssueApiSessionAsync(identityId);
        var second = await _node.IssueApiSessionAsync(identityId);
        var browser = await _node.IssueBrowserSessionAsync(identityId);
        Assert.Equal(HttpStatusCode.NoContent, (await RevokeAsync(first.SessionId)).Status);
        Assert.Equal(HttpStatusCode.Unauthorized, (await _node.WhoamiAsync(first.TokenHeader)).Status);
        Assert.Equal(HttpStatusCode.OK, (await _node.WhoamiAsync(second.TokenHeader)).Status);
        Assert.Equal(HttpStatusCode.OK, (await _node.WhoamiAsync(browser.CookieHeader)).Status);
    }

    [Fact]
    public async Task Revoking_an_unknown_session_is_404_in_the_error_envelope()
    {
        var answer = await RevokeAsync(Guid.NewGuid());
        Assert.Equal(HttpStatusCode.NotFound, answer.Status);
        Assert.Equal(404, answer.Json.GetProperty("error").GetProperty("code").GetInt32());
    }

    [Fact]
    public async Task Revoking_twice_is_204_both_times()
    {
        var api = await _node.IssueApiSessionAsync();
        Assert.Equal(HttpStatusCode.NoContent, (await RevokeAsync(api.SessionId)).Status);
        Assert.Equal(HttpStatusCode.NoContent, (await RevokeAsync(api.SessionId)).Status);
        Assert.Equal(HttpStatusCode.Unauthorized, (await _node.WhoamiAsync(api.TokenHeader)).Status);
    }

    [Fact]
    public async Task Revoking_through_the_unprefixed_admin_path_works_too()
    {
        var api = await _node.IssueApiSessionAsync();
        var answer = await _node.SendForAnswerAsync(HttpMethod.Delete, _node.Admin($"/sessions/{api.SessionId}"));
        Assert.Equal(HttpStatusCode.NoContent, answer.Status);
        Assert.Equal(HttpStatusCode.Unauthorized, (await _node.WhoamiAsync(api.TokenHeader)).Status);
    }
}
