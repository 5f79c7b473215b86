using System.Net;
using OrleansSessions.Api.Tests.Infrastructure;

namespace OrleansSessions.Api.Tests;

/// <summary>
/// Everything acknowledged is durable in SQLite: a node restarted on the same data folder (new
/// ports, new silo) answers the same sessions, opens the same cookies (the key ring was
/// persisted), and does not bring back a revoked session.
/// </summary>
public sealed class RestartPersistenceTests
{
    [Fact]
    public async Task Sessions_cookies_and_revocations_survive_a_restart_on_the_same_data_directory()
    {
        var dataDirectory = ServiceNode.NewDataDirectory();
        try
        {
            var clock = new Microsoft.Extensions.Time.Testing.FakeTimeProvider(DateTimeOffset.UtcNow);
            Guid identityId;
            IssuedSession api, browser, revoked, revokedBeforeUse;
            string apiBody, browserBody;
            Uri firstPublic;

            var first = await ServiceNode.StartAsync(new NodeOptions { DataDirectory = dataDirectory, Clock = clock });
            try
            {
                firstPublic = first.PublicUrl;
                identityId = await first.CreateIdentityAsync();
                api = await first.IssueApiSessionAsync(identityId);
                browser = await first.IssueBrowserSessionAsync(identityId);
                revoked = await first.IssueApiSessionAsync(identityId);
                revokedBeforeUse = await first.IssueBrowserSessionAsync(identityId);

                apiBody = (await first.WhoamiAsync(api.TokenHeader)).Body;
                browserBody = (await first.WhoamiAsync(browser.CookieHeader)).Body;
                Assert.Equal(HttpStatusCode.OK, (await first.WhoamiAsync(revoked.TokenHeader)).Status);
                foreach (var id in new[] { revoked.SessionId, revokedBeforeUse.SessionId })
                    Assert.Equal(HttpStatusCode.NoContent, (await first.SendForAnswerAsync(HttpMethod.Delete, first.Admin($"/admin/sessions/{id}"))).Status);
                Assert.Equal(HttpStatusCode.Unauthorized, (await first.WhoamiAsync(revoked.TokenHeader)).Status);
            }
            finally
            {
                await first.DisposeAsync();
            }

            // The first node is gone: nothing answers on its port any more.
            using (var probe = new HttpClient())
                await Assert.ThrowsAsync<HttpRequestException>(() => probe.GetAsync(new Uri(firstPublic, "/health/alive")));

            await using var second = await ServiceNode.StartAsync(new NodeOptions { DataDirectory = dataDirectory, Clock = clock });

            var apiAgain = await second.WhoamiAsync(api.TokenHeader);
            Assert.True(apiAgain.Status == HttpStatusCode.OK, $"API token after restart: {apiAgain}");
            Assert.Equal(api.SessionId, apiAgain.Json.GetProperty("id").GetGuid());
            Assert.Equal(identityId.ToString(), apiAgain.Header("X-Kratos-Authenticated-Identity-Id"));

            // The same cookie value: only possible if the Data Protection key ring was persisted.
            var cookieAgain = await second.WhoamiAsync(browser.CookieHeader);
            Assert.True(cookieAgain.Status == HttpStatusCode.OK, $"cookie after restart: {cookieAgain}");
            Assert.Equal(browser.SessionId, cookieAgain.Json.GetProperty("id").GetGuid());

            Assert.Equal(HttpStatusCode.Unauthorized, (await second.WhoamiAsync(revoked.TokenHeader)).Status);
            Assert.Equal(HttpStatusCode.Unauthorized, (await second.WhoamiAsync(revokedBeforeUse.CookieHeader)).Status);

            // The bodies differ only in schema_url, which carries the node's public base URL.
            Assert.Equal(Normalize(apiBody), Normalize(apiAgain.Body));
            Assert.Equal(Normalize(browserBody), Normalize(cookieAgain.Body));

            // Revocation on the restarted node of a session issued before the restart.
            Assert.Equal(HttpStatusCode.NoContent, (await second.SendForAnswerAsync(HttpMethod.Delete, second.Admin($"/admin/sessions/{api.SessionId}"))).Status);
            Assert.Equal(HttpStatusCode.Unauthorized, (await second.WhoamiAsync(api.TokenHeader)).Status);
            Assert.Equal(HttpStatusCode.OK, (await second.WhoamiAsync(browser.CookieHeader)).Status);

            var identity = await second.SendForAnswerAsync(HttpMethod.Get, second.Admin($"/admin/identities/{identityId}"));
            Assert.Equal(HttpStatusCode.OK, identity.Status);
        }
        finally
        {
            ServiceNode.DeleteDirectory(dataDirectory);
        }
    }

    private static string Normalize(string body)
    {
        var node = System.Text.Json.Nodes.JsonNode.Parse(body)!;
        node["identity"]!.AsObject().Remove("schema_url");
        return node.ToJsonString();
    }
}
