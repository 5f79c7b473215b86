using System.Runtime.InteropServices;
using OrleansSessions.Bench;
using Spectre.Console;
using Spectre.Console.Cli;

// The load tool of bench/README.md: one command per scenario, every option on every command.
using var cancellation = new CancellationTokenSource();
// The first Ctrl-C (or SIGTERM) stops the load and lets spawned processes be stopped; a second one ends the tool at once.
void Stop(PosixSignalContext signal)
{
    signal.Cancel = !cancellation.IsCancellationRequested;
    cancellation.Cancel();
}
using var onInterrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, Stop);
using var onTerminate = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Stop);

var app = new CommandApp();
app.Configure(config =>
{
    config.SetApplicationName("loadtool");
    config.AddCommand<ScenarioCommand>("whoami")
        .WithDescription("Token whoami (X-Session-Token) on seeded sessions; with --spawn-baseline or --baseline, the baseline too, side by side.")
        .WithExample("whoami", "--spawn-service", "Silo/bin/Release/net10.0/OrleansSessions.Silo.dll", "--spawn-baseline", "--sessions", "1000", "--concurrency", "64", "--duration", "10s")
        .WithExample("whoami", "--target", "http://127.0.0.1:4433", "--admin", "http://127.0.0.1:4434", "--rate", "5000", "--concurrency", "256");
    config.AddCommand<ScenarioCommand>("whoami-cookie")
        .WithDescription("Cookie whoami (Cookie: ory_kratos_session=…) on seeded browser sessions; baseline as for whoami.")
        .WithExample("whoami-cookie", "--spawn-service", "Silo/bin/Release/net10.0/OrleansSessions.Silo.dll", "--spawn-baseline");
    config.AddCommand<ScenarioCommand>("mixed")
        .WithDescription("Token whoami while a trickle of sessions is issued and revoked; revoked credentials must answer 401 (a 200 is an error).")
        .WithExample("mixed", "--spawn-service", "Silo/bin/Release/net10.0/OrleansSessions.Silo.dll", "--churn-rate", "20", "--revoked-share", "0.1");
    config.AddCommand<ScenarioCommand>("revoke-visibility")
        .WithDescription("Revoke-all for identities with many sessions while whoami runs: time until every revoked credential answers 401 on every --target.")
        .WithExample("revoke-visibility", "--target", "http://127.0.0.1:4433", "--target", "http://127.0.0.1:5433", "--admin", "http://127.0.0.1:4434", "--sessions-per-identity", "20");
    config.AddCommand<ScenarioCommand>("scale-out")
        .WithDescription("Clusters of 1, 2, 4, 8 silos, co-hosted and split, each silo under its own CPU quota (a simulated larger machine): throughput, p99 at a fixed load per silo, where the CPU goes; tables and PNG charts.")
        .WithExample("scale-out", "--server-cpus", "0", "--client-cpus", "1", "--silo-cpu-quota", "10%", "--rate-per-silo", "500", "--sessions", "10000");
    config.AddCommand<ScenarioCommand>("live-scale-out")
        .WithDescription("A steady open-loop load while silos are added (2, 4, 8) and stopped with SIGTERM: throughput, p99, errors and session activations per silo, second by second.")
        .WithExample("live-scale-out", "--server-cpus", "0", "--client-cpus", "1", "--rate", "1500", "--steps", "2,4,8,4,2", "--step-time", "30s");
    config.AddCommand<ScenarioCommand>("split")
        .WithDescription("Both deploy modes on the same CPUs in one run: a co-hosted node and the split pair (1 silo + 1 API node, deploy/local-cluster.sh), token whoami on each in turn for --rounds rounds; req/s and server CPU per request, split ÷ co-hosted.")
        .WithExample("split", "--server-cpus", "0", "--client-cpus", "1", "--sessions", "2000", "--concurrency", "32", "--rounds", "3");
    config.AddCommand<ScenarioCommand>("regions")
        .WithDescription("A running multi-region deployment (deploy/local-regions.sh): whoami in every region at once against one region alone, the first lookup away from home, revocation visibility across regions under load, and a cut link past the lease; tables and a PNG chart.")
        .WithExample("regions", "--lease", "10s", "--sessions", "2000", "--concurrency", "16", "--duration", "15s")
        .WithExample("regions", "--region", "eu=http://10.0.0.1:4433;admin=http://10.0.0.1:4434", "--region", "us=http://10.0.1.1:4433;admin=http://10.0.1.1:4434", "--link", "eu-us=http://10.0.0.1:6101", "--link", "us-eu=http://10.0.1.1:6110", "--parts", "steady,first,revoke");
    config.AddCommand<ScenarioCommand>("seed")
        .WithDescription("Seed a running node (and --baseline) without load, and write the credentials to --credentials-out for another load generator (bench/wrk).")
        .WithExample("seed", "--sessions", "10000", "--baseline", "http://127.0.0.1:4533", "--credentials-out", "/tmp/wrk-tokens");
});
return await app.RunAsync(args, cancellation.Token);

/// <summary>Runs the scenario named by the command; spawned processes are stopped however it ends.</summary>
internal sealed class ScenarioCommand : AsyncCommand<BenchSettings>
{
    public override async Task<int> ExecuteAsync(CommandContext context, BenchSettings settings, CancellationToken cancellation)
    {
        await using var run = new BenchRun(context.Name, settings, cancellation);
        try
        {
            await (context.Name switch
            {
                "whoami" => WhoamiScenario.RunAsync(run, cookies: false),
                "whoami-cookie" => WhoamiScenario.RunAsync(run, cookies: true),
                "mixed" => MixedScenario.RunAsync(run),
                "revoke-visibility" => RevokeVisibilityScenario.RunAsync(run),
                "scale-out" => ScaleOutScenario.RunAsync(run),
                "live-scale-out" => LiveScaleOutScenario.RunAsync(run),
                "split" => SplitScenario.RunAsync(run),
                "regions" => RegionsScenario.RunAsync(run),
                "seed" => SeedCommand.RunAsync(run),
                _ => throw new InvalidOperationException($"unknown scenario {context.Name}"),
            });
            return 0;
        }
        catch (OperationCanceledException) when (cancellation.IsCancellationRequested)
        {
            AnsiConsole.MarkupLine("[yellow]cancelled[/]");
            return 130;
        }
        catch (Exception exception) when (exception is HttpRequestException or InvalidOperationException or TimeoutException or FileNotFoundException)
        {
            AnsiConsole.MarkupLineInterpolated($"[red]{exception.Message}[/]");
            return 1;
        }
    }
}
