using System.Globalization;
using ScottPlot;

namespace OrleansSessions.Bench;

/// <summary>
/// scale-out: the local cluster (deploy/local-cluster.sh, split mode: n silos + 1 API node) with 1, 2, 3 silos in
/// turn; each is started, seeded, measured with token whoami and stopped (SIGTERM); a table and a PNG chart.
/// </summary>
public static class ScaleOutScenario
{
    public sealed record Step(int Silos, double RequestsPerSecond, Latencies LatencyMicroseconds, long Errors);

    public static async Task RunAsync(BenchRun run)
    {
        var settings = run.Settings;
        var root = Nodes.RepositoryRoot();
        var script = settings.ClusterScript ?? (root is null ? null : Path.Combine(root, "deploy", "local-cluster.sh"));
        if (script is null || !File.Exists(script))
            throw new FileNotFoundException("deploy/local-cluster.sh not found: run from the repository or give --cluster-script");
        var silos = settings.Silos.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries).Select(int.Parse).ToList();
        var pgPort = SpawnedProcess.FreePort();

        var steps = new List<Step>();
        foreach (var count in silos)
        {
            var publicPort = SpawnedProcess.FreePort();
            var adminPort = SpawnedProcess.FreePort();
            // Our own ports, state folder and PostgreSQL, so that a cluster someone else runs on the defaults is left alone;
            // a variable already set in the tool's environment wins.
            var environment = new Dictionary<string, string>
            {
                ["SILOS"] = count.ToString(CultureInfo.InvariantCulture),
                ["STATE_DIR"] = Path.Combine(run.WorkDirectory, "cluster"),
                ["PG_PORT"] = pgPort.ToString(CultureInfo.InvariantCulture),
                ["PUBLIC_PORT"] = publicPort.ToString(CultureInfo.InvariantCulture),
                ["ADMIN_PORT"] = adminPort.ToString(CultureInfo.InvariantCulture),
                ["SILO_HEALTH_PORT"] = SpawnedProcess.FreePortRange(count).ToString(CultureInfo.InvariantCulture),
                ["SILO_PORT"] = SpawnedProcess.FreePortRange(count).ToString(CultureInfo.InvariantCulture),
                ["GATEWAY_PORT"] = SpawnedProcess.FreePortRange(count).ToString(CultureInfo.InvariantCulture),
                ["CLUSTER_ID"] = $"bench-{run.Report.StartedAt.UtcDateTime:HHmmss}-{count}",
                ["DEV"] = settings.EffectiveAdminKey is null ? "true" : "false",
            };
            if (settings.EffectiveAdminKey is { } key) environment["ADMIN_KEY"] = key;
            if (settings.SpawnService is { } dll) environment["SILO_DLL"] = Path.GetFullPath(dll);
            foreach (var name in environment.Keys.ToList())
                if (Environment.GetEnvironmentVariable(name) is { Length: > 0 } own) environment[name] = own;

            var cluster = await SpawnedProcess.StartAsync($"cluster-{count}-silos", "bash", [script], root, environment, settings.ServerCpus,
                "Ctrl-C stops them all", TimeSpan.FromMinutes(10), run.WorkDirectory);
            run.Track(cluster);
            var publicUrl = new Uri($"http://127.0.0.1:{environment["PUBLIC_PORT"]}/");
            var adminUrl = new Uri($"http://127.0.0.1:{environment["ADMIN_PORT"]}/");
            using (var admin = run.CreateAdmin(adminUrl))
            {
                await admin.WaitReadyAsync(TimeSpan.FromMinutes(1), run.Cancellation);
                var identities = await Seeding.SeedAsync(admin, settings.Sessions, settings.SessionsPerIdentity ?? 1, cookies: false, settings.SeedParallelism, run.Cancellation);
                var result = await WhoamiLoad.RunAsync($"{count} silo{(count == 1 ? "" : "s")}", run.Plan([publicUrl]),
                    new FixedCredentials(identities.SelectMany(i => i.Sessions).ToList()), run.Cancellation);
                run.Report.Runs.Add(result);
                steps.Add(new Step(count, result.RequestsPerSecond, result.LatencyMicroseconds, result.Errors));
            }
            await run.StopAsync(cluster);
        }

        var chart = Path.Combine(run.OutDirectory, run.Report.FileStem + ".png");
        Directory.CreateDirectory(run.OutDirectory);
        DrawChart(steps, chart);
        run.Report.Details = new { steps, chart = Path.GetFileName(chart) };
        var s = run.Report.Sections;
        s.AppendLine("## Scale-out");
        s.AppendLine();
        s.AppendLine("| silos | req/s | p50 ms | p99 ms | p99.9 ms | errors | req/s vs 1 silo |");
        s.AppendLine("| ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
        var first = steps.FirstOrDefault()?.RequestsPerSecond ?? 0;
        foreach (var step in steps)
            s.AppendLine(CultureInfo.InvariantCulture,
                $"| {step.Silos} | {step.RequestsPerSecond:0} | {Report.Ms(step.LatencyMicroseconds.P50)} | {Report.Ms(step.LatencyMicroseconds.P99)} | {Report.Ms(step.LatencyMicroseconds.P999)} | {step.Errors} | {(first > 0 ? step.RequestsPerSecond / first : 0):0.00} |");
        s.AppendLine();
        s.AppendLine(CultureInfo.InvariantCulture, $"![requests per second by silo count]({Path.GetFileName(chart)})");
        s.AppendLine();
        run.Report.Notes.Add("every silo and the API node run on this one machine: more silos share the same cores");
        run.Finish();
    }

    private static void DrawChart(IReadOnlyList<Step> steps, string path)
    {
        var plot = new Plot();
        var positions = steps.Select((_, i) => (double)i).ToArray();
        var bars = plot.Add.Bars(positions, steps.Select(s => s.RequestsPerSecond).ToArray());
        foreach (var (bar, step) in bars.Bars.Zip(steps)) bar.Label = $"{step.RequestsPerSecond:N0} req/s, p99 {step.LatencyMicroseconds.P99 / 1000.0:0.0} ms";
        bars.ValueLabelStyle.FontSize = 14;
        plot.Axes.Bottom.SetTicks(positions, steps.Select(s => $"{s.Silos} silo{(s.Silos == 1 ? "" : "s")}").ToArray());
        plot.Axes.Margins(bottom: 0);
        plot.Title("whoami throughput by silo count (local cluster, 1 API node)");
        plot.YLabel("requests per second");
        plot.SavePng(path, 900, 540);
    }
}
