using System.Diagnostics;
using System.Net;
using Npgsql;
using OrleansSessions.Api.Tests.Infrastructure;
using OrleansSessions.Storage;

namespace OrleansSessions.Api.Tests;

/// <summary>
/// <c>orleans:membership=postgres</c>: two real nodes on one PostgreSQL database (membership in the tables and
/// queries of migration 0004) form one Orleans cluster, and a session is the same session on either node.
/// Needs the PostgreSQL server of ORLEANS_SESSIONS_TEST_POSTGRES (./test.sh starts one).
/// </summary>
public sealed class PostgresClusteringTests
{
    private const string Variable = "ORLEANS_SESSIONS_TEST_POSTGRES";
    private static readonly TimeSpan ClusterFormationTimeout = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task Two_nodes_form_one_cluster_and_share_sessions_and_revocations()
    {
        var database = await CreateDatabaseAsync();
        ServiceNode? a = null, b = null;
        try
        {
            await using (var store = new PostgresStore(database))
                await store.MigrateAsync();

            var clusterId = $"pg-cluster-{Guid.NewGuid():N}";
            var clock = new Microsoft.Extensions.Time.Testing.FakeTimeProvider(DateTimeOffset.UtcNow);
            NodeOptions Options() => new()
            {
                Clock = clock,
                ExtraArgs =
                [
                    "--orleans:membership=postgres", "--orleans:advertised_ip=127.0.0.1",
                    $"--orleans:cluster_id={clusterId}", $"--orleans:service_id={clusterId}",
                    "--store:provider=postgres", $"--store:connection_string={database}",
                ],
            };
            a = await ServiceNode.StartAsync(Options());
            b = await ServiceNode.StartAsync(Options());

            await WaitForActiveSilosAsync(a, 2);
            await WaitForActiveSilosAsync(b, 2);

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
            await DropDatabaseAsync(database);
        }
    }

    /// <summary>Polls the management grain until the node sees <paramref name="count"/> active silos, or fails after a timeout.</summary>
    private static async Task WaitForActiveSilosAsync(ServiceNode node, int count)
    {
        var management = node.Service<IGrainFactory>().GetGrain<IManagementGrain>(0);
        var stopwatch = Stopwatch.StartNew();
        using var timeout = new CancellationTokenSource(ClusterFormationTimeout);
        var seen = 0;
        while (true)
        {
            seen = (await management.GetHosts(onlyActive: true)).Count;
            if (seen == count)
                return;
            try
            {
                await Task.Delay(TimeSpan.FromMilliseconds(100), timeout.Token);
            }
            catch (OperationCanceledException)
            {
                Assert.Fail($"node {node.PublicUrl} saw {seen} active silo(s), not {count}, after {stopwatch.Elapsed}");
            }
        }
    }

    private static string MaintenanceConnectionString =>
        Environment.GetEnvironmentVariable(Variable) is { Length: > 0 } value
            ? value
            : throw new InvalidOperationException(
                $"{Variable} is not set: this test needs a PostgreSQL server. Set it to a connection string to a maintenance "
                + "database (e.g. Host=127.0.0.1;Port=5432;Username=postgres;Database=postgres) where that role may create "
                + "databases, or run ./test.sh, which starts a throwaway server.");

    private static async Task<string> CreateDatabaseAsync()
    {
        var name = $"orleans_sessions_clustering_{Guid.NewGuid():N}";
        await using (var connection = new NpgsqlConnection(MaintenanceConnectionString))
        {
            await connection.OpenAsync();
            await using var command = new NpgsqlCommand($"CREATE DATABASE \"{name}\"", connection);
            await command.ExecuteNonQueryAsync();
        }
        return new NpgsqlConnectionStringBuilder(MaintenanceConnectionString) { Database = name }.ToString();
    }

    private static async Task DropDatabaseAsync(string connectionString)
    {
        var name = new NpgsqlConnectionStringBuilder(connectionString).Database!;
        await using (var pooled = new NpgsqlConnection(connectionString))
            NpgsqlConnection.ClearPool(pooled);
        await using var connection = new NpgsqlConnection(MaintenanceConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand($"DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)", connection);
        await command.ExecuteNonQueryAsync();
    }
}
