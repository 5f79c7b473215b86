using System.Net;
using OrleansSessions.Api.Tests.Infrastructure;

namespace OrleansSessions.Api.Tests;

/// <summary>
/// <c>POST /admin/sessions/revoke-everyone</c> (ASVS 5.0 7.4.5): every session of every identity ends, in every
/// carrier, identity by identity through each one's revocation mark; a session issued after the job works.
/// </summary>
public sealed class RevokeEveryoneTests
{
    [Fact]
    public async Task Revoking_everyone_ends_every_session_and_reports_what_it_did()
    {
        await using var node = await ServiceNode.StartAsync();
        var status = node.Admin("/admin/sessions/revoke-everyone");
        Assert.Equal(HttpStatusCode.NotFound, (await node.SendForAnswerAsync(HttpMethod.Get, status)).Status);

        var alice = await node.CreateIdentityAsync();
        var bob = await node.CreateIdentityAsync();
        await node.CreateIdentityAsync(); // no session at all
        var sessions = new List<(string Name, string Value)>
        {
            (await node.IssueApiSessionAsync(alice)).TokenHeader,
            (await node.IssueBrowserSessionAsync(alice)).CookieHeader,
            (await node.IssueApiSessionAsync(bob)).TokenHeader,
        };
        foreach (var credential in sessions)
            Assert.Equal(HttpStatusCode.OK, (await node.WhoamiAsync(credential)).Status);

        var started = await node.SendForAnswerAsync(HttpMethod.Post, status);
        Assert.Equal(HttpStatusCode.Accepted, started.Status);
        Assert.Contains("no-store", started.Header("Cache-Control"));
        Assert.False(started.Json.GetProperty("started_at").GetString()!.Length == 0);

        // Long-polled until it has finished: a completion signal, not a sleep.
        var finished = await node.SendForAnswerAsync(HttpMethod.Get, node.Admin("/admin/sessions/revoke-everyone?wait=60s"));
        Assert.True(finished.Status == HttpStatusCode.OK, $"status: {finished}");
        Assert.Equal("finished", finished.Json.GetProperty("state").GetString());
        Assert.Equal(3, finished.Json.GetProperty("identities").GetInt64());
        Assert.Equal(3, finished.Json.GetProperty("sessions_revoked").GetInt64());
        Assert.Equal(System.Text.Json.JsonValueKind.Null, finished.Json.GetProperty("last_error").ValueKind);

        foreach (var credential in sessions)
            Assert.Equal(HttpStatusCode.Unauthorized, (await node.WhoamiAsync(credential)).Status);
        // Signing in again works: the marks reach the sessions that existed, not those after.
        Assert.Equal(HttpStatusCode.OK, (await node.WhoamiAsync((await node.IssueApiSessionAsync(alice)).TokenHeader)).Status);
        // The status stays readable; a bad wait is a 400 in Kratos's envelope.
        Assert.Equal("finished", (await node.SendForAnswerAsync(HttpMethod.Get, status)).Json.GetProperty("state").GetString());
        IdentityAdmin.AssertError(await node.SendForAnswerAsync(HttpMethod.Get, node.Admin("/admin/sessions/revoke-everyone?wait=forever")),
            HttpStatusCode.BadRequest);
        IdentityAdmin.AssertError(await node.SendForAnswerAsync(HttpMethod.Get, node.Admin("/admin/sessions/revoke-everyone?wait=2m")),
            HttpStatusCode.BadRequest);
    }

    /// <summary>
    /// The admin page's start offers the same: a form that needs its box ticked and its anti-forgery token, then the
    /// job's progress in a sentence.
    /// </summary>
    [Fact]
    public async Task The_admin_page_ends_every_session_once_the_box_is_ticked()
    {
        await using var node = await ServiceNode.StartAsync();
        var identity = await node.CreateIdentityAsync();
        var session = await node.IssueApiSessionAsync(identity);
        var start = await node.GetPageAsync(node.Admin("/admin/ui"));
        Assert.Equal(HttpStatusCode.OK, start.Status);
        Assert.Contains("<form method=\"post\" action=\"/admin/ui/revoke-everyone\"", start.Body);
        Assert.Contains("<label for=\"confirm\">Sign out every user, on every device</label>", start.Body);
        var (cookie, token) = PageRequests.FormToken(start);
        var everyone = node.Admin("/admin/ui/revoke-everyone");

        // Without the token, or without the box: nothing happens.
        Assert.Equal(HttpStatusCode.BadRequest, (await node.PostFormAsync(everyone, cookie, ("confirm", "yes"))).Status);
        Assert.Equal(HttpStatusCode.BadRequest, (await node.PostFormAsync(everyone, cookie, ("anti_forgery_token", token))).Status);
        Assert.Equal(HttpStatusCode.OK, (await node.WhoamiAsync(session.TokenHeader)).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await node.SendForAnswerAsync(HttpMethod.Get, node.Admin("/admin/sessions/revoke-everyone"))).Status);

        var posted = await node.PostFormAsync(everyone, cookie, ("anti_forgery_token", token), ("confirm", "yes"));
        Assert.Equal(HttpStatusCode.SeeOther, posted.Status);
        Assert.Equal("/admin/ui?notice=revoking-everyone", posted.Header("Location"));
        await node.SendForAnswerAsync(HttpMethod.Get, node.Admin("/admin/sessions/revoke-everyone?wait=60s"));
        Assert.Equal(HttpStatusCode.Unauthorized, (await node.WhoamiAsync(session.TokenHeader)).Status);
        var after = await node.GetPageAsync(node.Admin("/admin/ui?notice=revoking-everyone"), cookie);
        Assert.Contains("Every session of every identity is being revoked", after.Body);
        Assert.Contains("The last run, started ", after.Body);
        Assert.Contains(": 1 identities, 1 sessions revoked.", after.Body);
    }
}
