using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using OrleansSessions.Api.Tests.Infrastructure;

namespace OrleansSessions.Api.Tests;

/// <summary>
/// A user's own sessions on the public port: <c>GET /sessions</c> (listMySessions), <c>DELETE /sessions</c>
/// (disableMyOtherSessions), <c>DELETE /sessions/{id}</c> (disableMySession).
/// </summary>
public sealed class SelfServiceSessionsTests(DevNodeFixture fixture) : IClassFixture<DevNodeFixture>
{
    private const string NoStore = "private, no-cache, no-store, must-revalidate";
    private const string NoSession401 =
        """{"error":{"code":401,"status":"Unauthorized","reason":"No valid session cookie found.","message":"The request could not be authorized"}}""";

    private readonly ServiceNode _node = fixture.Node;

    /// <summary>Sessions of one identity issued a second apart, oldest first, so that "newest first" has one answer.</summary>
    private async Task<(Guid IdentityId, IssuedSession[] Sessions)> IdentityWithSessionsAsync(int count)
    {
        var identityId = await _node.CreateIdentityAsync();
        var sessions = new IssuedSession[count];
        for (var i = 0; i < count; i++)
        {
            _node.Clock.Advance(TimeSpan.FromSeconds(1));
            sessions[i] = await _node.IssueApiSessionAsync(identityId);
        }
        return (identityId, sessions);
    }

    private static void AssertNoSession401(Answer answer)
    {
        Assert.True(answer.Status == HttpStatusCode.Unauthorized, $"expected 401, got {answer}");
        Assert.Equal(NoSession401, JsonNode.Parse(answer.Body)!.ToJsonString());
        Assert.Equal("", answer.Header("Ory-Error-Id"));
    }

    private Task<Answer> DisableOthersAsync(params (string, string)[] credentials) =>
        _node.SendAsync(HttpMethod.Delete, _node.Public("/sessions"), null, credentials);

    private Task<Answer> DisableAsync(string id, params (string, string)[] credentials) =>
        _node.SendAsync(HttpMethod.Delete, _node.Public($"/sessions/{id}"), null, credentials);

    // ---- GET /sessions --------------------------------------------------------------------------

    [Fact]
    public async Task Lists_the_callers_other_active_sessions_newest_first_with_identity_and_devices()
    {
        var (identityId, sessions) = await IdentityWithSessionsAsync(4);
        var other = await _node.IssueApiSessionAsync();
        var current = sessions[1];

        var answer = await _node.ListMySessionsAsync("", current.TokenHeader);

        Assert.Equal([sessions[3].SessionId, sessions[2].SessionId, sessions[0].SessionId], SessionLists.Ids(answer));
        Assert.DoesNotContain(other.SessionId, SessionLists.Ids(answer));
        Assert.Equal("3", answer.Header("X-Total-Count"));
        Assert.Equal(NoStore, answer.Header("Cache-Control"));
        Assert.Equal("application/json; charset=utf-8", answer.Header("Content-Type"));
        foreach (var session in SessionLists.Array(answer))
        {
            LoginHelpers.AssertValid("session", session);
            Assert.True(session.GetProperty("active").GetBoolean());
            Assert.Equal(identityId, session.GetProperty("identity").GetProperty("id").GetGuid());
            Assert.False(session.GetProperty("identity").TryGetProperty("metadata_admin", out _));
            Assert.Equal(JsonValueKind.Array, session.GetProperty("devices").ValueKind);
        }
    }

    [Fact]
    public async Task Leaves_out_revoked_and_expired_sessions()
    {
        var identityId = await _node.CreateIdentityAsync();
        var current = await _node.IssueApiSessionAsync(identityId);
        var live = await _node.IssueApiSessionAsync(identityId);
        var revoked = await _node.IssueApiSessionAsync(identityId);
        var shortLived = await _node.IssueApiSessionAsync(identityId, new JsonObject { ["lifespan"] = "1h" });
        Assert.Equal(HttpStatusCode.NoContent, (await _node.SendForAnswerAsync(HttpMethod.Delete, _node.Admin($"/admin/sessions/{revoked.SessionId}"))).Status);
        Assert.Equal(new HashSet<Guid> { live.SessionId, shortLived.SessionId }, SessionLists.Ids(await _node.ListMySessionsAsync("", current.TokenHeader)).ToHashSet());

        _node.Clock.Advance(TimeSpan.FromHours(1) + TimeSpan.FromSeconds(1));

        var answer = await _node.ListMySessionsAsync("", current.TokenHeader);
        Assert.Equal([live.SessionId], SessionLists.Ids(answer));
        Assert.Equal("1", answer.Header("X-Total-Count"));
    }

    [Fact]
    public async Task Works_with_the_cookie_and_with_a_bearer_token()
    {
        var identityId = await _node.CreateIdentityAsync();
        var browser = await _node.IssueBrowserSessionAsync(identityId);
        var api = await _node.IssueApiSessionAsync(identityId);

        Assert.Equal([api.SessionId], SessionLists.Ids(await _node.ListMySessionsAsync("", browser.CookieHeader)));
        Assert.Equal([browser.SessionId], SessionLists.Ids(await _node.ListMySessionsAsync("", api.BearerHeader)));
    }

    [Fact]
    public async Task Without_a_valid_session_is_401_with_kratos_reason_and_no_id()
    {
        AssertNoSession401(await _node.ListMySessionsAsync(""));
        AssertNoSession401(await _node.ListMySessionsAsync("", ("X-Session-Token", "ory_st_" + new string('a', 32))));
        var revoked = await _node.IssueApiSessionAsync();
        Assert.Equal(HttpStatusCode.NoContent, (await _node.SendForAnswerAsync(HttpMethod.Delete, _node.Admin($"/admin/sessions/{revoked.SessionId}"))).Status);
        AssertNoSession401(await _node.ListMySessionsAsync("", revoked.TokenHeader));
        // A browser session is honoured only through its cookie.
        var browser = await _node.IssueBrowserSessionAsync();
        AssertNoSession401(await _node.ListMySessionsAsync("", ("X-Session-Token", browser.CookieValue)));
    }

    [Fact]
    public async Task Below_the_identitys_available_aal_is_403_session_aal2_required_like_whoami()
    {
        var identityId = await _node.CreateIdentityAsync();
        var aal1 = await _node.IssueApiSessionAsync(identityId);
        await _node.EnableTotpAsync(identityId);
        var aal2 = await _node.IssueApiSessionAsync(identityId, new JsonObject { ["aal"] = "aal2" });

        var refused = await _node.ListMySessionsAsync("", aal1.TokenHeader);
        Assert.Equal(HttpStatusCode.Forbidden, refused.Status);
        Assert.Equal("session_aal2_required", LoginHelpers.ErrorId(refused));
        Assert.Equal("session_aal2_required", refused.Header("Ory-Error-Id"));
        Assert.Equal((await _node.WhoamiAsync(aal1.TokenHeader)).Body, refused.Body);

        Assert.Equal([aal1.SessionId], SessionLists.Ids(await _node.ListMySessionsAsync("", aal2.TokenHeader)));
    }

    [Fact]
    public async Task An_identity_with_no_other_session_gets_an_empty_array()
    {
        var only = await _node.IssueApiSessionAsync();
        var answer = await _node.ListMySessionsAsync("", only.TokenHeader);
        Assert.Equal("[]", answer.Body);
        Assert.Equal("0", answer.Header("X-Total-Count"));
    }

    // ---- DELETE /sessions ------------------------------------------------------------------------

    [Fact]
    public async Task Disabling_my_other_sessions_counts_them_and_keeps_the_current_one()
    {
        var (_, sessions) = await IdentityWithSessionsAsync(4);
        var browser = await _node.IssueBrowserSessionAsync(sessions[0].IdentityId);
        var stranger = await _node.IssueApiSessionAsync();
        Assert.Equal(HttpStatusCode.NoContent, (await _node.SendForAnswerAsync(HttpMethod.Delete, _node.Admin($"/admin/sessions/{sessions[3].SessionId}"))).Status);

        var answer = await DisableOthersAsync(sessions[0].TokenHeader);

        Assert.Equal(HttpStatusCode.OK, answer.Status);
        Assert.Equal("""{"count":3}""", answer.Body);
        Assert.Equal("application/json; charset=utf-8", answer.Header("Content-Type"));
        LoginHelpers.AssertValid("deleteMySessionsCount", answer.Json);
        Assert.Equal(HttpStatusCode.OK, (await _node.WhoamiAsync(sessions[0].TokenHeader)).Status);
        foreach (var ended in sessions[1..])
            Assert.Equal(HttpStatusCode.Unauthorized, (await _node.WhoamiAsync(ended.TokenHeader)).Status);
        Assert.Equal(HttpStatusCode.Unauthorized, (await _node.WhoamiAsync(browser.CookieHeader)).Status);
        Assert.Equal(HttpStatusCode.OK, (await _node.WhoamiAsync(stranger.TokenHeader)).Status);

        Assert.Equal("""{"count":0}""", (await DisableOthersAsync(sessions[0].TokenHeader)).Body);
        Assert.Equal("[]", (await _node.ListMySessionsAsync("", sessions[0].TokenHeader)).Body);
    }

    [Fact]
    public async Task Disabling_my_other_sessions_without_a_session_is_401()
    {
        AssertNoSession401(await DisableOthersAsync());
        var browser = await _node.IssueBrowserSessionAsync();
        AssertNoSession401(await DisableOthersAsync(("Cookie", $"{ServiceNode.CookieName}=not-a-sealed-value")));
        Assert.Equal(HttpStatusCode.OK, (await _node.WhoamiAsync(browser.CookieHeader)).Status);
    }

    // ---- DELETE /sessions/{id} -------------------------------------------------------------------

    [Fact]
    public async Task Disabling_one_of_my_sessions_is_204_and_ends_only_that_one()
    {
        var (_, sessions) = await IdentityWithSessionsAsync(3);

        var answer = await DisableAsync(sessions[1].SessionId.ToString(), sessions[0].TokenHeader);

        Assert.Equal(HttpStatusCode.NoContent, answer.Status);
        Assert.Equal("", answer.Body);
        Assert.Equal(HttpStatusCode.Unauthorized, (await _node.WhoamiAsync(sessions[1].TokenHeader)).Status);
        Assert.Equal(HttpStatusCode.OK, (await _node.WhoamiAsync(sessions[0].TokenHeader)).Status);
        Assert.Equal(HttpStatusCode.OK, (await _node.WhoamiAsync(sessions[2].TokenHeader)).Status);
        // Already revoked: 204 again.
        Assert.Equal(HttpStatusCode.NoContent, (await DisableAsync(sessions[1].SessionId.ToString(), sessions[0].TokenHeader)).Status);
    }

    [Fact]
    public async Task Someone_elses_session_or_an_unknown_id_is_204_and_nothing_happens()
    {
        var mine = await _node.IssueApiSessionAsync();
        var theirs = await _node.IssueApiSessionAsync();

        Assert.Equal(HttpStatusCode.NoContent, (await DisableAsync(theirs.SessionId.ToString(), mine.TokenHeader)).Status);
        Assert.Equal(HttpStatusCode.NoContent, (await DisableAsync(Guid.NewGuid().ToString(), mine.TokenHeader)).Status);

        Assert.Equal(HttpStatusCode.OK, (await _node.WhoamiAsync(theirs.TokenHeader)).Status);
        Assert.Equal(HttpStatusCode.OK, (await _node.WhoamiAsync(mine.TokenHeader)).Status);
    }

    [Fact]
    public async Task The_current_session_cannot_be_disabled_here()
    {
        var current = await _node.IssueApiSessionAsync();
        var answer = await DisableAsync(current.SessionId.ToString(), current.TokenHeader);
        Assert.Equal(HttpStatusCode.BadRequest, answer.Status);
        Assert.Equal("""{"error":{"code":400,"status":"Bad Request","message":"cannot revoke current session"}}""", JsonNode.Parse(answer.Body)!.ToJsonString());
        Assert.Equal(HttpStatusCode.OK, (await _node.WhoamiAsync(current.TokenHeader)).Status);
    }

    [Theory]
    [InlineData("abc", "uuid: incorrect UUID length 3 in string \"abc\"")]
    [InlineData("0000000000000000000000000000000000000", "uuid: incorrect UUID length 37 in string \"0000000000000000000000000000000000000\"")]
    [InlineData("00000000x0000-0000-0000-000000000000", "uuid: incorrect UUID format in string \"00000000x0000-0000-0000-000000000000\"")]
    [InlineData("0000000g-0000-0000-0000-000000000000", "uuid: invalid UUID format")]
    public async Task A_malformed_id_is_400_with_the_uuid_parsers_message(string id, string message)
    {
        var current = await _node.IssueApiSessionAsync();
        var answer = await DisableAsync(id, current.TokenHeader);
        Assert.Equal(HttpStatusCode.BadRequest, answer.Status);
        var error = answer.Json.GetProperty("error");
        Assert.Equal(message, error.GetProperty("message").GetString());
        Assert.Equal(400, error.GetProperty("code").GetInt32());
        Assert.False(error.TryGetProperty("reason", out _));
    }

    [Fact]
    public async Task Without_a_session_it_is_401_before_the_id_is_even_read()
    {
        var target = await _node.IssueApiSessionAsync();
        AssertNoSession401(await DisableAsync(target.SessionId.ToString()));
        AssertNoSession401(await DisableAsync("not-a-uuid"));
        Assert.Equal(HttpStatusCode.OK, (await _node.WhoamiAsync(target.TokenHeader)).Status);
    }

    [Fact]
    public async Task Delete_on_sessions_whoami_is_still_whoami()
    {
        var current = await _node.IssueApiSessionAsync();
        var answer = await DisableAsync("whoami", current.TokenHeader);
        Assert.Equal(HttpStatusCode.OK, answer.Status);
        Assert.Equal(current.SessionId, answer.Json.GetProperty("id").GetGuid());
        Assert.Equal(HttpStatusCode.OK, (await _node.WhoamiAsync(current.TokenHeader)).Status);
    }

    [Fact]
    public async Task The_session_routes_do_not_exist_on_the_admin_port_as_self_service()
    {
        // On the admin port /sessions is the admin listing, which never reads session credentials.
        var current = await _node.IssueApiSessionAsync();
        var answer = await _node.SendAsync(HttpMethod.Delete, _node.Admin("/sessions"), null, current.TokenHeader);
        Assert.Equal(HttpStatusCode.MethodNotAllowed, answer.Status);
        Assert.Equal(HttpStatusCode.OK, (await _node.WhoamiAsync(current.TokenHeader)).Status);
    }
}
