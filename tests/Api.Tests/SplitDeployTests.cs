using System.Net;
using Microsoft.Extensions.DependencyInjection;
using OrleansSessions.Api.Tests.Infrastructure;
using OrleansSessions.Silo;
using OrleansSessions.Storage;
using OrleansSessions.Tests.Store;

namespace OrleansSessions.Api.Tests;

/// <summary>
/// The split deploy mode: <c>role=silo</c> nodes hold the grains and serve only <c>/health/*</c>;
/// <c>role=api</c> nodes serve both APIs as Orleans clients and hold no grain. Same host, same code as
/// the co-hosted mode.
/// </summary>
public sealed class SplitDeployTests
{
    [Fact]
    public async Task Api_nodes_as_clients_of_two_postgres_silos_share_sessions_cookies_and_revocations()
    {
        var database = await PostgresServer.CreateDatabaseAsync();
        var nodes = new List<ServiceNode>();
        try
        {
            await using (var store = new PostgresStore(database))
                await store.MigrateAsync();
            var clusterId = $"split-{Guid.NewGuid():N}";
            var clock = new Microsoft.Extensions.Time.Testing.FakeTimeProvider(DateTimeOffset.UtcNow);
            async Task<ServiceNode> Start(string role)
            {
                var node = await ServiceNode.StartAsync(NodeOptions.PostgresCluster(database, clusterId, clock, $"--role={role}"));
                nodes.Add(node);
                return node;
            }

            var silo1 = await Start("silo");
            var silo2 = await Start("silo");
            await silo1.WaitForActiveSilosAsync(2);
            await silo2.WaitForActiveSilosAsync(2);
            var api1 = await Start("api");
            var api2 = await Start("api");

            // The API nodes are clients: no silo in their process.
            Assert.Null(api1.App.Services.GetService<ILocalSiloDetails>());
            Assert.NotNull(api1.App.Services.GetService<IClusterClient>());
            foreach (var api in new[] { api1, api2 })
            {
                var ready = await api.SendForAnswerAsync(HttpMethod.Get, api.Public("/health/ready"));
                Assert.True(ready.Status == HttpStatusCode.OK, $"API node ready: {ready}");
            }

            // The silos serve health on their admin listener and nothing else.
            Assert.Null(SessionServiceHost.BoundAddresses(silo1.App).Public);
            foreach (var path in new[] { "/health/alive", "/health/ready" })
            {
                var health = await silo1.SendForAnswerAsync(HttpMethod.Get, silo1.Admin(path));
                Assert.True(health.Status == HttpStatusCode.OK, $"silo {path}: {health}");
            }
            var noApi = await silo1.SendForAnswerAsync(HttpMethod.Get, silo1.Admin("/admin/identities"));
            Assert.Equal(HttpStatusCode.NotFound, noApi.Status);
            Assert.Equal(404, noApi.Json.GetProperty("error").GetProperty("code").GetInt32());

            // A token session and a cookie session issued on one API node answer on the other (one key ring).
            var identity = await api1.CreateIdentityAsync();
            var token = await api1.IssueApiSessionAsync(identity);
            var browser = await api1.IssueBrowserSessionAsync(identity);
            var byToken = await api2.WhoamiAsync(token.TokenHeader);
            Assert.True(byToken.Status == HttpStatusCode.OK, $"token whoami on the other API node: {byToken}");
            Assert.Equal(token.SessionId, byToken.Json.GetProperty("id").GetGuid());
            var byCookie = await api2.WhoamiAsync(browser.CookieHeader);
            Assert.True(byCookie.Status == HttpStatusCode.OK, $"cookie whoami on the other API node: {byCookie}");
            Assert.Equal(browser.SessionId, byCookie.Json.GetProperty("id").GetGuid());

            // Revoke-all through one API node: 401 through the other at once.
            var revoke = await api2.SendForAnswerAsync(HttpMethod.Delete, api2.Admin($"/admin/identities/{identity}/sessions"));
            Assert.Equal(HttpStatusCode.NoContent, revoke.Status);
            Assert.Equal(HttpStatusCode.Unauthorized, (await api1.WhoamiAsync(token.TokenHeader)).Status);
            Assert.Equal(HttpStatusCode.Unauthorized, (await api1.WhoamiAsync(browser.CookieHeader)).Status);
        }
        finally
        {
            // API nodes first, then the silos.
            for (var i = nodes.Count - 1; i >= 0; i--)
                await nodes[i].DisposeAsync();
            await PostgresServer.DropDatabaseAsync(database);
        }
    }

    /// <summary>The split mode without PostgreSQL: an API node reaches a silo's gateway on this host.</summary>
    [Fact]
    public async Task Api_node_reaches_a_localhost_silo_through_its_gateway_port()
    {
        var dataDirectory = ServiceNode.NewDataDirectory();
        var gatewayPort = FreePorts.Next();
        var clusterId = $"split-local-{Guid.NewGuid():N}";
        string[] cluster = [$"--orleans:cluster_id={clusterId}", $"--orleans:service_id={clusterId}", $"--orleans:gateway_port={gatewayPort}"];
        await using var silo = await ServiceNode.StartAsync(new NodeOptions { DataDirectory = dataDirectory, ExtraArgs = ["--role=silo", .. cluster] });
        await using var api = await ServiceNode.StartAsync(new NodeOptions { DataDirectory = dataDirectory, ExtraArgs = ["--role=api", .. cluster] });

        var issued = await api.IssueApiSessionAsync();
        var answer = await api.WhoamiAsync(issued.TokenHeader);
        Assert.True(answer.Status == HttpStatusCode.OK, $"whoami through the API node: {answer}");
        Assert.Equal(issued.SessionId, answer.Json.GetProperty("id").GetGuid());
        // The session's grain lives in the silo's process; the API node has none.
        Assert.Null(api.App.Services.GetService<ILocalSiloDetails>());
        var statistics = await silo.Service<IGrainFactory>().GetGrain<IManagementGrain>(0).GetSimpleGrainStatistics();
        Assert.Contains(statistics, s => s.GrainType.Contains("SessionGrain", StringComparison.Ordinal) && s.ActivationCount > 0);

        // That whoami crossed the gateway connection four times (two messages, each sent and received). Orleans' per-message
        // size histograms are not listened to on either side (ServiceObservability.PerMessageInstruments); its other
        // instruments still are.
        foreach (var node in new[] { api, silo })
        {
            var scrape = await node.SendForAnswerAsync(HttpMethod.Get, node.Admin("/metrics"));
            Assert.Equal(HttpStatusCode.OK, scrape.Status);
            var lines = scrape.Body.Split('\n');
            Assert.DoesNotContain(lines, l => l.StartsWith("orleans_messaging_sent_messages_size", StringComparison.Ordinal));
            Assert.DoesNotContain(lines, l => l.StartsWith("orleans_messaging_received_messages_size", StringComparison.Ordinal));
            Assert.Contains(lines, l => l.StartsWith("orleans_", StringComparison.Ordinal) && !l.StartsWith("orleans_sessions_", StringComparison.Ordinal));
        }
    }
}
