using System.Net;
using Microsoft.Extensions.Time.Testing;
using OrleansSessions.Api.Tests.Infrastructure;
using OrleansSessions.Storage;
using OrleansSessions.Tests.Store;

namespace OrleansSessions.Api.Tests;

/// <summary>
/// Every node of a PostgreSQL cluster stopped, and new ones started on the same database: nothing the old
/// cluster acknowledged is lost or revived. Sessions answer whoami with the same body, revoked ones (one by
/// one, or all of an identity) stay revoked, an extended expiry stays extended.
/// </summary>
public sealed class ClusterRestartTests
{
    private const int Nodes = 3;

    [Fact]
    public async Task A_cluster_whose_every_node_was_restarted_answers_every_session_as_before()
    {
        var database = await PostgresServer.CreateDatabaseAsync();
        var clusterId = $"pg-restart-{Guid.NewGuid():N}";
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        NodeOptions Options() => NodeOptions.PostgresCluster(database, clusterId, clock);
        try
        {
            await using (var store = new PostgresStore(database))
                await store.MigrateAsync();

            List<(IssuedSession Session, (string, string) Credential)> live = [], revoked = [];
            var bodies = new Dictionary<Guid, string>();
            IssuedSession extended;
            string expiryBeforeExtend, expiryAfterExtend;

            var before = await StartClusterAsync(Options);
            try
            {
                // Sessions issued through every node, in both carriers.
                var kept = await before[0].CreateIdentityAsync();
                var revokedAll = await before[1].CreateIdentityAsync();
                for (var i = 0; i < Nodes; i++)
                {
                    var token = await before[i].IssueApiSessionAsync(kept);
                    var browser = await before[i].IssueBrowserSessionAsync(kept);
                    live.Add((token, token.TokenHeader));
                    live.Add((browser, browser.CookieHeader));
                    var doomedToken = await before[i].IssueApiSessionAsync(revokedAll);
                    var doomedBrowser = await before[i].IssueBrowserSessionAsync(revokedAll);
                    revoked.Add((doomedToken, doomedToken.TokenHeader));
                    revoked.Add((doomedBrowser, doomedBrowser.CookieHeader));
                }

                // One revoked on its own (through another node than the one that issued it) …
                var single = live[0];
                live.RemoveAt(0);
                Assert.Equal(HttpStatusCode.NoContent, (await before[2].SendForAnswerAsync(HttpMethod.Delete, before[2].Admin($"/admin/sessions/{single.Session.SessionId}"))).Status);
                revoked.Add(single);
                // … every session of one identity at once …
                Assert.Equal(HttpStatusCode.NoContent, (await before[0].DeleteIdentitySessionsAsync(revokedAll.ToString())).Status);
                // … and one extended, an hour later, so that its expiry moves.
                extended = live[1].Session;
                expiryBeforeExtend = (await before[0].WhoamiAsync(live[1].Credential)).Json.GetProperty("expires_at").GetString()!;
                clock.Advance(TimeSpan.FromHours(1));
                var extend = await before[1].ExtendSessionAsync(extended.SessionId.ToString());
                Assert.True(extend.Status == HttpStatusCode.OK, $"extend: {extend}");
                expiryAfterExtend = extend.Json.GetProperty("expires_at").GetString()!;
                Assert.NotEqual(expiryBeforeExtend, expiryAfterExtend);

                // What the old cluster answers, from every node, is what the new one must answer, byte for byte.
                foreach (var node in before)
                {
                    foreach (var (session, credential) in live)
                    {
                        var answer = await node.WhoamiAsync(credential);
                        Assert.True(answer.Status == HttpStatusCode.OK, $"whoami of {session.SessionId} on {node.PublicUrl} before the restart: {answer}");
                        Assert.Equal(bodies.GetValueOrDefault(session.SessionId, answer.Body), answer.Body);
                        bodies[session.SessionId] = answer.Body;
                    }
                    foreach (var (session, credential) in revoked)
                        Assert.True((await node.WhoamiAsync(credential)).Status == HttpStatusCode.Unauthorized, $"revoked {session.SessionId} before the restart");
                }
            }
            finally
            {
                foreach (var node in before)
                    await node.DisposeAsync();
            }

            var after = await StartClusterAsync(Options);
            try
            {
                foreach (var node in after)
                {
                    foreach (var (session, credential) in live)
                    {
                        var answer = await node.WhoamiAsync(credential);
                        Assert.True(answer.Status == HttpStatusCode.OK, $"whoami of {session.SessionId} on {node.PublicUrl} after the restart: {answer}");
                        Assert.Equal(bodies[session.SessionId], answer.Body);
                    }
                    foreach (var (session, credential) in revoked)
                    {
                        var answer = await node.WhoamiAsync(credential);
                        Assert.True(answer.Status == HttpStatusCode.Unauthorized, $"revoked {session.SessionId} on {node.PublicUrl} after the restart: {answer}");
                    }
                    var extendedNow = await node.WhoamiAsync(extended.TokenHeader);
                    Assert.Equal(expiryAfterExtend, extendedNow.Json.GetProperty("expires_at").GetString());
                }
            }
            finally
            {
                foreach (var node in after)
                    await node.DisposeAsync();
            }
        }
        finally
        {
            await PostgresServer.DropDatabaseAsync(database);
        }
    }

    /// <summary>Starts the nodes one after another and waits until each sees all of them active.</summary>
    private static async Task<List<ServiceNode>> StartClusterAsync(Func<NodeOptions> options)
    {
        var nodes = new List<ServiceNode>();
        try
        {
            for (var i = 0; i < Nodes; i++)
                nodes.Add(await ServiceNode.StartAsync(options()));
            foreach (var node in nodes)
                await node.WaitForActiveSilosAsync(Nodes);
            return nodes;
        }
        catch
        {
            foreach (var node in nodes)
                await node.DisposeAsync();
            throw;
        }
    }
}
