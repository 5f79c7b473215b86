using System.Diagnostics;
using System.Net;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using Npgsql;
using OrleansSessions.Api.Tests.Infrastructure;
using OrleansSessions.LinkProxy;
using OrleansSessions.Silo;

namespace OrleansSessions.Api.Tests.Regions;

/// <summary>One region under test: its name and token code, its own PostgreSQL server (wal_level=logical) and database.</summary>
public sealed record RegionUnderTest(string Name, char Code, OwnPostgres Postgres, string Database)
{
    public int Port => Postgres.Port;

    /// <summary>A throwaway PostgreSQL server of the region's own, with a database for the service.</summary>
    public static async Task<RegionUnderTest> StartAsync(string name, char code)
    {
        // A subscription whose connection broke tries again after wal_retrieve_retry_interval (5 s by default).
        var postgres = await OwnPostgres.StartAsync("wal_level=logical", "wal_retrieve_retry_interval=200ms");
        var database = new NpgsqlConnectionStringBuilder(postgres.ConnectionString) { Database = "orleans_sessions" }.ToString();
        await using (var connection = new NpgsqlConnection(postgres.ConnectionString))
        {
            await connection.OpenAsync();
            await using var create = new NpgsqlCommand("CREATE DATABASE orleans_sessions", connection);
            await create.ExecuteNonQueryAsync();
        }
        return new RegionUnderTest(name, code, postgres, database);
    }
}

/// <summary>
/// What the region tests share: each region's settings (its peers' databases reached directly or through a link
/// proxy), linking with the product's own `regions link`, and waiting for what replication brings.
/// </summary>
public static class LinkedRegions
{
    public static readonly TimeSpan Lease = TimeSpan.FromSeconds(10);
    public static readonly TimeSpan Replication = TimeSpan.FromSeconds(30);

    /// <summary>
    /// The settings of <paramref name="self"/>: each peer's database at <paramref name="peerPort"/> (the peer's own
    /// port, or the port of the link proxy from this region to it).
    /// </summary>
    public static string[] Args(RegionUnderTest self, IEnumerable<RegionUnderTest> peers, Func<RegionUnderTest, int>? peerPort = null)
    {
        var args = new List<string>
        {
            $"--regions:name={self.Name}", $"--regions:code={self.Code}", $"--regions:lease={Lease.TotalSeconds}s", "--regions:heartbeat_interval=1s",
            "--store:provider=postgres", $"--store:connection_string={self.Database}",
        };
        foreach (var peer in peers)
        {
            var database = new NpgsqlConnectionStringBuilder(peer.Database) { Port = peerPort?.Invoke(peer) ?? peer.Port }.ToString();
            args.Add($"--regions:peers:{peer.Name}:code={peer.Code}");
            args.Add($"--regions:peers:{peer.Name}:connection_string={database}");
        }
        return [.. args];
    }

    public static Task<ServiceNode> StartNodeAsync(RegionUnderTest self, string[] regionArgs, FakeTimeProvider clock, params string[] more) =>
        ServiceNode.StartAsync(NodeOptions.PostgresCluster(self.Database, $"region-{self.Name}", clock,
            ["--store:migrate_on_start=true", .. regionArgs, .. more]));

    /// <summary>`regions link` with the region's settings, as an operator runs it.</summary>
    public static async Task LinkAsync(string[] regionArgs, TimeProvider clock)
    {
        var configuration = new ConfigurationBuilder().AddCommandLine(regionArgs).Build();
        // On the nodes' clock, as in production: a beat at real time would be ahead of a fake clock and vouch too long.
        Assert.Equal(0, await RegionsCommand.RunAsync("link", configuration, clock));
    }

    /// <summary>Moves the clock one heartbeat interval: every silo writes its region's beat.</summary>
    public static void Beat(FakeTimeProvider clock) => clock.Advance(TimeSpan.FromSeconds(1));

    /// <summary>The node's silo has applied a beat of <paramref name="peer"/> within the lease (the feed's own state).</summary>
    public static Task UntilVouchedAsync(ServiceNode node, string peer)
    {
        var leases = node.App.Services.GetRequiredService<OrleansSessions.Regions.RegionLeases>();
        return UntilAsync(() => Task.FromResult(leases.Vouches(peer)), $"{peer}'s heartbeat applied");
    }

    public static async Task SetSubscriptionAsync(RegionUnderTest region, string from, bool enabled)
    {
        await using var connection = new NpgsqlConnection(region.Database);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand($"ALTER SUBSCRIPTION {OrleansSessions.Regions.RegionLink.Subscription(region.Name, from)} {(enabled ? "ENABLE" : "DISABLE")}", connection);
        await command.ExecuteNonQueryAsync();
    }

    /// <summary>Asks again until <paramref name="condition"/> holds; fails after <see cref="Replication"/>. How long it took.</summary>
    public static async Task<TimeSpan> UntilAsync(Func<Task<bool>> condition, string what)
    {
        var watch = Stopwatch.StartNew();
        while (!await condition())
        {
            Assert.True(watch.Elapsed < Replication, $"not within {Replication}: {what}");
            await Task.Delay(5);
        }
        return watch.Elapsed;
    }

    /// <summary>whoami until it answers <paramref name="status"/>; every answer before it must be one of <paramref name="allowed"/>.</summary>
    public static Task<TimeSpan> UntilAnswersAsync(ServiceNode node, (string, string) credential, HttpStatusCode status, string what,
        params HttpStatusCode[] allowed) =>
        UntilAsync(async () =>
        {
            var answer = await node.WhoamiAsync(credential);
            if (answer.Status == status) return true;
            Assert.True(allowed.Contains(answer.Status), $"{what}: answered {answer}");
            return false;
        }, what);

    /// <summary>A link proxy from one region to another's PostgreSQL, every byte delayed <paramref name="delay"/> each way.</summary>
    public static Task<LatencyProxy> LinkProxyAsync(RegionUnderTest to, TimeSpan delay) =>
        LatencyProxy.StartAsync(new IPEndPoint(IPAddress.Loopback, 0), new IPEndPoint(IPAddress.Loopback, to.Port), delay);
}

/// <summary>
/// Two regions, eu and us, each with its server, its database and one node (migrated by it); <see cref="LinkAsync"/>
/// links them as operators do and waits until each has heard the other. Disposing stops the nodes and the servers.
/// </summary>
public sealed class RegionPair : IAsyncDisposable
{
    private readonly FakeTimeProvider _clock;

    private RegionPair(FakeTimeProvider clock, RegionUnderTest eu, RegionUnderTest us)
    {
        _clock = clock;
        (Eu, Us) = (eu, us);
    }

    public RegionUnderTest Eu { get; }
    public RegionUnderTest Us { get; }
    public ServiceNode EuNode { get; private set; } = null!;
    public ServiceNode UsNode { get; private set; } = null!;

    public static async Task<RegionPair> StartAsync(FakeTimeProvider clock, string[]? euMore = null, string[]? usMore = null)
    {
        var pair = new RegionPair(clock, await RegionUnderTest.StartAsync("eu", 'e'), await RegionUnderTest.StartAsync("us", 'u'));
        try
        {
            pair.EuNode = await LinkedRegions.StartNodeAsync(pair.Eu, LinkedRegions.Args(pair.Eu, [pair.Us]), clock, euMore ?? []);
            pair.UsNode = await LinkedRegions.StartNodeAsync(pair.Us, LinkedRegions.Args(pair.Us, [pair.Eu]), clock, usMore ?? []);
            return pair;
        }
        catch
        {
            await pair.DisposeAsync();
            throw;
        }
    }

    /// <summary>`regions link` in both, a heartbeat, and each region vouching for the other.</summary>
    public async Task LinkAsync()
    {
        await LinkedRegions.LinkAsync(LinkedRegions.Args(Eu, [Us]), _clock);
        await LinkedRegions.LinkAsync(LinkedRegions.Args(Us, [Eu]), _clock);
        LinkedRegions.Beat(_clock);
        await LinkedRegions.UntilVouchedAsync(UsNode, "eu");
        await LinkedRegions.UntilVouchedAsync(EuNode, "us");
    }

    public async ValueTask DisposeAsync()
    {
        if (UsNode is not null) await UsNode.DisposeAsync();
        if (EuNode is not null) await EuNode.DisposeAsync();
        await Us.Postgres.DisposeAsync();
        await Eu.Postgres.DisposeAsync();
    }
}
