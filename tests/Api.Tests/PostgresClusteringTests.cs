using System.Net;
using OrleansSessions.Api.Tests.Infrastructure;
using OrleansSessions.Storage;
using OrleansSessions.Tests.Store;

namespace OrleansSessions.Api.Tests;

/// <summary>
/// <c>orleans:membership=postgres</c>: two real nodes on one PostgreSQL database (membership in the tables and
/// queries of migration 0004) form one Orleans cluster, and a session is the same session on either node.
/// Needs the PostgreSQL server of <see cref="PostgresServer"/> (./test.sh starts one).
/// </summary>
public sealed class PostgresClusteringTests
{
    [Fact]
    public async Task Two_nodes_form_one_cluster_and_share_sessions_and_revocations()
    {
        var database = await PostgresServer.CreateDatabaseAsync();
        ServiceNode? a = null, b = null;
        try
        {
            await using (var store = new PostgresStore(database))
                await store.MigrateAsync();

            var clusterId = $"pg-cluster-{Guid.NewGuid():N}";
            var clock = new Microsoft.Extensions.Time.Testing.FakeTimeProvider(DateTimeOffset.UtcNow);
            NodeOptions Options() => NodeOptions.PostgresCluster(database, clusterId, clock);
            a = await ServiceNode.StartAsync(Options());
            b = await ServiceNode.StartAsync(Options());

            await a.WaitForActiveSilosAsync(2);
            await b.WaitForActiveSilosAsync(2);

            var issued = await a.IssueApiSessionAsync();
            var onB = await b.WhoamiAsync(issued.TokenHeader);
            Assert.True(onB.Status == HttpStatusCode.OK, $"whoami on node B: {onB}");
            Assert.Equal(issued.SessionId, onB.Json.GetProperty("id").GetGuid());
            Assert.Equal(issued.IdentityId, onB.Json.GetProperty("identity").GetProperty("id").GetGuid());

            var revoke = await b.SendForAnswerAsync(HttpMethod.Delete, b.Admin($"/admin/sessions/{issued.SessionId}"));
            Assert.True(revoke.Status == HttpStatusCode.NoContent, $"revoke on node B: {revoke}");
            var onA = await a.WhoamiAsync(issued.TokenHeader);
            Assert.True(onA.Status == HttpStatusCode.Unauthorized, $"whoami on node A after the revoke on B: {onA}");
        }
        finally
        {
            if (b is not null)
                await b.DisposeAsync();
            if (a is not null)
                await a.DisposeAsync();
            await PostgresServer.DropDatabaseAsync(database);
        }
    }
}
