using System.Globalization;
using ScottPlot;
using Spectre.Console;

namespace OrleansSessions.Bench;

/// <summary>
/// scale-out: for each deploy mode (co-hosted, split) and silo count (1, 2, 4, 8), a cluster of the tool's own
/// (<see cref="LocalCluster"/>) on one PostgreSQL server, every process in a CPU group with its own quota (a
/// simulated machine per silo), seeded, measured with token whoami in a closed loop (throughput) and, with
/// --rate-per-silo, in an open loop at a fixed offered load per silo (latency), then stopped. Over each measured
/// window the tool reads every process's CPU time (/proc/PID/stat), its throttling (cpu.stat) and the silos' grain
/// messages (Orleans' metrics), for where each request's CPU goes. A table and two PNG charts.
/// </summary>
public static class ScaleOutScenario
{
    public sealed record Measured(LoadResult Load, WindowUsage Usage);

    public sealed record Step(string Mode, int Silos, int ApiNodes, double? SiloShare, double? ApiShare, Measured Closed, Measured? Open);

    public static async Task RunAsync(BenchRun run)
    {
        var settings = run.Settings;
        var siloDll = LocalCluster.SiloDll(settings);
        var counts = BenchSettings.ParseCounts(settings.Silos);
        var modes = settings.Modes.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries).Select(BenchSettings.ParseMode).Distinct().ToList();
        var groups = settings.UsesCpuGroups ? run.UseCpuGroups() : null;
        var (connection, postgres) = await LocalCluster.DatabaseAsync(run, groups);

        var steps = new List<Step>();
        foreach (var mode in modes)
            foreach (var count in counts)
            {
                var apiNodes = mode == ClusterMode.Split ? settings.ApiNodes ?? Math.Max(1, count / 2) : 0;
                var name = $"{Describe(mode)}-{count}";
                var cluster = run.Track(await LocalCluster.StartAsync(run, mode, siloDll, name, groups, connection));
                // Uncapped while starting and seeding (a quick start); capped before the warm-up of every measurement.
                await Task.WhenAll(Enumerable.Range(0, count).Select(_ => cluster.AddSiloAsync(settings.SiloShare, capNow: false)));
                await Task.WhenAll(Enumerable.Range(0, apiNodes).Select(_ => cluster.AddApiNodeAsync(settings.ApiShare, capNow: false)));
                List<Credential> credentials;
                var admins = cluster.Nodes.Where(n => n.Role != "silo").Select(n => run.CreateAdmin(n.Admin)).ToList();
                try
                {
                    var identities = await Seeding.SeedAsync(admins, settings.Sessions, settings.SessionsPerIdentity ?? 1, cookies: false, settings.SeedParallelism, run.Cancellation);
                    credentials = [.. identities.SelectMany(i => i.Sessions)];
                }
                finally
                {
                    foreach (var admin in admins) admin.Dispose();
                }
                var targets = cluster.Nodes.Where(n => n.Public is not null).Select(n => n.Public!).ToList();
                var source = new FixedCredentials(credentials);
                await PrewarmAsync(run, cluster, source);
                cluster.Cap();
                var label = $"{Describe(mode)}, {count} silo{(count == 1 ? "" : "s")}{(apiNodes > 0 ? $" + {apiNodes} API" : "")}";

                // --concurrency per silo: enough requests in flight to keep every silo busy, whatever their number.
                var plan = run.Plan(targets) with { Concurrency = settings.Concurrency * count };
                var closed = await MeasureAsync(run, cluster, postgres, $"{label}, closed loop", plan with { Rate = 0 }, source);
                Measured? open = null;
                if (settings.RatePerSilo > 0)
                    open = await MeasureAsync(run, cluster, postgres, $"{label}, open loop {settings.RatePerSilo * count:0}/s",
                        plan with { Rate = settings.RatePerSilo * count }, source);
                steps.Add(new Step(Describe(mode), count, apiNodes, settings.SiloShare, mode == ClusterMode.Split ? settings.ApiShare : null, closed, open));
                await run.ReleaseAsync(cluster);
            }

        Directory.CreateDirectory(run.OutDirectory);
        var throughputChart = Path.Combine(run.OutDirectory, run.Report.FileStem + ".png");
        DrawThroughput(steps, throughputChart, settings);
        string? latencyChart = null;
        if (steps.Any(s => s.Open is not null))
        {
            latencyChart = Path.Combine(run.OutDirectory, run.Report.FileStem + "-p99.png");
            DrawLatency(steps, latencyChart, settings);
        }
        run.Report.Details = new { steps, chart = Path.GetFileName(throughputChart), latency_chart = latencyChart is null ? null : Path.GetFileName(latencyChart) };
        WriteSections(run, steps, throughputChart, latencyChart);
        run.Finish();
    }

    /// <summary>
    /// Whoami before the caps, for --warmup, not recorded: the whoami path is compiled to its final tier and every
    /// node's grain directory cache learns where the sessions live, at full speed rather than at a tenth of it.
    /// </summary>
    public static async Task PrewarmAsync(BenchRun run, LocalCluster cluster, ICredentialSource credentials)
    {
        var targets = cluster.Nodes.Where(n => n.Public is not null).Select(n => n.Public!).ToList();
        if (run.Settings.WarmupTime > TimeSpan.Zero)
            await WhoamiLoad.RunAsync("pre-warm, uncapped (not recorded)",
                new LoadPlan(targets, Math.Max(16, run.Settings.Concurrency), 0, TimeSpan.Zero, run.Settings.WarmupTime), credentials, run.Cancellation);
        // The metrics endpoint's code too (a first scrape under the cap compiles it at a tenth of the speed).
        using var metrics = new MetricsReader(run.Settings.EffectiveAdminKey);
        await Task.WhenAll(cluster.Nodes.Select(n => metrics.ReadAsync(n.Admin, run.Cancellation)));
    }

    private static string Describe(ClusterMode mode) => mode == ClusterMode.Cohosted ? "cohosted" : "split";

    /// <summary>One load, with the processes' CPU, throttling and grain messages over its measured window.</summary>
    private static async Task<Measured> MeasureAsync(BenchRun run, LocalCluster cluster, PostgresServer? postgres, string label, LoadPlan plan, ICredentialSource credentials)
    {
        using var metrics = new MetricsReader(run.Settings.EffectiveAdminKey);
        var sampling = WindowUsage.SampleAsync(cluster, postgres, metrics, plan.Warmup, plan.Duration, run.Cancellation);
        var result = await WhoamiLoad.RunAsync(label, plan, credentials, run.Cancellation);
        var usage = await sampling;
        run.Report.Runs.Add(result);
        return new Measured(result, usage.For(result));
    }

    private static void WriteSections(BenchRun run, IReadOnlyList<Step> steps, string throughputChart, string? latencyChart)
    {
        var s = run.Report.Sections;
        s.AppendLine("## Scale-out");
        s.AppendLine();
        s.AppendLine("Closed loop (throughput): req/s, and × the same mode's 2 silos (the target: 8 silos ≥ 3.4 × 2 silos).");
        if (steps.Any(x => x.Open is not null)) s.AppendLine("Open loop (latency): the same offered load per silo at every silo count (the target: p99 flat).");
        s.AppendLine();
        s.AppendLine("| mode | silos | API nodes | closed req/s | × 2 silos | closed p99 | open offered/s | open req/s | open p50 | open p99 | open p99.9 | errors |");
        s.AppendLine("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
        foreach (var step in steps)
        {
            var two = steps.FirstOrDefault(x => x.Mode == step.Mode && x.Silos == 2)?.Closed.Load.RequestsPerSecond;
            var c = step.Closed.Load;
            var o = step.Open?.Load;
            var ratio = two is > 0 ? (c.RequestsPerSecond / two.Value).ToString("0.00", CultureInfo.InvariantCulture) : "";
            var openColumns = o is null ? "| | | | | " : string.Create(CultureInfo.InvariantCulture,
                $"{o.TargetRate:N0} | {o.RequestsPerSecond:N0} | {Report.Ms(o.LatencyMicroseconds.P50)} | {Report.Ms(o.LatencyMicroseconds.P99)} | {Report.Ms(o.LatencyMicroseconds.P999)} | ");
            s.AppendLine(CultureInfo.InvariantCulture,
                $"| {step.Mode} | {step.Silos} | {step.ApiNodes} | {c.RequestsPerSecond:N0} | {ratio} | {Report.Ms(c.LatencyMicroseconds.P99)} | {openColumns}{c.Errors + (o?.Errors ?? 0)} |");
        }
        s.AppendLine();
        s.AppendLine("Where a request's CPU goes (closed loop, CPU time from /proc/PID/stat over the measured window ÷ answers in it, µs):");
        s.AppendLine("remote grain calls = silo-to-silo request messages ÷ whoami served (Orleans' `orleans_messaging_sent_messages_size` count, `SiloToSilo`, and ASP.NET Core's request count; a node that does not export that histogram: half of the messages it received, `orleans_messaging_processing_ima_received`, less its local ones, which in split mode also counts the API nodes' gateway calls); a whoami lands on any node and its session grain lives on one silo, so (n−1)/n is expected.");
        s.AppendLine("Throttled = share of the quota periods in which the silos' groups were throttled (cpu.stat): near 100 % means the silos used their whole budget.");
        s.AppendLine();
        s.AppendLine("| mode | silos | remote grain calls | (n−1)/n | silo CPU µs/req | API node CPU µs/req | PostgreSQL µs/req | load tool µs/req | silos throttled | API nodes throttled | sessions per silo |");
        s.AppendLine("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
        foreach (var step in steps)
        {
            var u = step.Closed.Usage;
            s.AppendLine(CultureInfo.InvariantCulture,
                $"| {step.Mode} | {step.Silos} | {(u.RemoteShare is { } r ? $"{r:P0}" : "n/a")} | {(step.Silos - 1) / (double)step.Silos:P0} | {u.SiloMicrosPerRequest:0.0} | {(step.ApiNodes > 0 ? $"{u.ApiMicrosPerRequest:0.0}" : "(in the silos)")} | {u.PostgresMicrosPerRequest:0.0} | {u.ClientMicrosPerRequest:0.0} | {u.SiloThrottled:P0} | {(step.ApiNodes > 0 ? $"{u.ApiThrottled:P0}" : "")} | {u.ResidentMin:N0}–{u.ResidentMax:N0} |");
        }
        s.AppendLine();
        s.AppendLine(CultureInfo.InvariantCulture, $"![requests per second by silo count]({Path.GetFileName(throughputChart)})");
        if (latencyChart is not null) s.AppendLine(CultureInfo.InvariantCulture, $"![p99 at a fixed offered load per silo]({Path.GetFileName(latencyChart)})");
        s.AppendLine();
        var settings = run.Settings;
        run.Report.Notes.Add(settings.SiloShare is null
            ? "silos without a CPU cap: on a small machine more silos share the same cores"
            : $"a simulation of a larger machine: each silo is capped at {CpuGroups.Describe(settings.SiloShare)} (cgroup quota), each API node at {CpuGroups.Describe(settings.ApiShare)}; "
              + "throughput figures are those of these budgets, not of the machine");
    }

    private static void DrawThroughput(IReadOnlyList<Step> steps, string path, BenchSettings settings)
    {
        var plot = new Plot();
        var modes = steps.Select(s => s.Mode).Distinct().ToList();
        var counts = steps.Select(s => s.Silos).Distinct().OrderBy(c => c).ToList();
        var width = 0.8 / modes.Count;
        for (var m = 0; m < modes.Count; m++)
        {
            var ofMode = steps.Where(s => s.Mode == modes[m]).ToList();
            var bars = ofMode.Select(step =>
            {
                var two = ofMode.FirstOrDefault(x => x.Silos == 2)?.Closed.Load.RequestsPerSecond;
                return new Bar
                {
                    Position = counts.IndexOf(step.Silos) - 0.4 + width * (m + 0.5),
                    Value = step.Closed.Load.RequestsPerSecond,
                    Size = width * 0.9,
                    FillColor = m == 0 ? Colors.SteelBlue : Colors.DarkOrange,
                    Label = $"{step.Closed.Load.RequestsPerSecond:N0}" + (two is > 0 && step.Silos != 2 ? $" (×{step.Closed.Load.RequestsPerSecond / two.Value:0.00})" : ""),
                };
            }).ToList();
            var added = plot.Add.Bars(bars);
            added.LegendText = modes[m] == "split" ? $"split ({(ofMode.FirstOrDefault()?.ApiNodes is var a ? "API nodes: " + string.Join("/", ofMode.Select(x => x.ApiNodes)) : "")})" : "co-hosted";
            added.ValueLabelStyle.FontSize = 11;
        }
        plot.Axes.Bottom.SetTicks([.. counts.Select((_, i) => (double)i)], [.. counts.Select(c => $"{c} silo{(c == 1 ? "" : "s")}")]);
        plot.Axes.Margins(bottom: 0, top: 0.15);
        plot.ShowLegend(Alignment.UpperLeft);
        plot.Title($"whoami throughput by silo count, closed loop (each silo capped at {CpuGroups.Describe(settings.SiloShare)})");
        plot.YLabel("requests per second");
        plot.SavePng(path, 1000, 560);
    }

    private static void DrawLatency(IReadOnlyList<Step> steps, string path, BenchSettings settings)
    {
        var plot = new Plot();
        foreach (var (mode, index) in steps.Select(s => s.Mode).Distinct().Select((m, i) => (m, i)))
        {
            var ofMode = steps.Where(s => s.Mode == mode && s.Open is not null).ToList();
            var color = index == 0 ? Colors.SteelBlue : Colors.DarkOrange;
            var p99 = plot.Add.Scatter(ofMode.Select(s => (double)s.Silos).ToArray(), ofMode.Select(s => s.Open!.Load.LatencyMicroseconds.P99 / 1000.0).ToArray());
            p99.LegendText = $"{(mode == "split" ? "split" : "co-hosted")} p99";
            p99.Color = color;
            p99.LineWidth = 2;
            p99.MarkerSize = 8;
            var p50 = plot.Add.Scatter(ofMode.Select(s => (double)s.Silos).ToArray(), ofMode.Select(s => s.Open!.Load.LatencyMicroseconds.P50 / 1000.0).ToArray());
            p50.LegendText = $"{(mode == "split" ? "split" : "co-hosted")} p50";
            p50.Color = color;
            p50.LinePattern = LinePattern.Dashed;
            p50.MarkerSize = 5;
        }
        var counts = steps.Select(s => s.Silos).Distinct().OrderBy(c => c).ToArray();
        plot.Axes.Bottom.SetTicks([.. counts.Select(c => (double)c)], [.. counts.Select(c => c.ToString(CultureInfo.InvariantCulture))]);
        plot.Axes.SetLimitsY(0, steps.Where(s => s.Open is not null).Max(s => s.Open!.Load.LatencyMicroseconds.P99) / 1000.0 * 1.3);
        plot.ShowLegend(Alignment.UpperLeft);
        plot.Title($"whoami latency at {settings.RatePerSilo:N0} req/s per silo (open loop)");
        plot.XLabel("silos");
        plot.YLabel("ms");
        plot.SavePng(path, 1000, 500);
    }
}

/// <summary>Over one measured window: CPU time by kind of process, throttling, grain messages.</summary>
public sealed record WindowUsage(double Seconds, double SiloCpu, double ApiCpu, double PostgresCpu, double ClientCpu,
    double SiloThrottled, double ApiThrottled, double RemoteRequests, double WhoamiServed, double Answers,
    double ResidentMin = 0, double ResidentMax = 0)
{
    public double SiloMicrosPerRequest => Answers > 0 ? SiloCpu * 1e6 / Answers : 0;
    public double ApiMicrosPerRequest => Answers > 0 ? ApiCpu * 1e6 / Answers : 0;
    public double PostgresMicrosPerRequest => Answers > 0 ? PostgresCpu * 1e6 / Answers : 0;
    public double ClientMicrosPerRequest => Answers > 0 ? ClientCpu * 1e6 / Answers : 0;
    public double? RemoteShare => WhoamiServed > 0 ? RemoteRequests / WhoamiServed : null;

    public WindowUsage For(LoadResult result) => this with { Answers = result.RequestsPerSecond * result.DurationSeconds };

    /// <summary>Samples at the start and the end of the measured window of a load started now.</summary>
    public static async Task<WindowUsage> SampleAsync(LocalCluster cluster, PostgresServer? postgres, MetricsReader metrics, TimeSpan warmup, TimeSpan duration,
        CancellationToken cancellation)
    {
        var nodes = cluster.Nodes;
        var lead = TimeSpan.FromMilliseconds(Math.Min(500, warmup.TotalMilliseconds / 2));
        // Metrics are read just before the window (their own CPU stays out of it) and just after.
        await Task.Delay(warmup - lead, cancellation);
        var before = await Task.WhenAll(nodes.Select(n => metrics.ReadAsync(n.Admin, cancellation)));
        await Task.Delay(lead, cancellation);
        var cpu0 = nodes.Select(n => ProcessCpu.Read(n.Pid) ?? TimeSpan.Zero).ToArray();
        var throttle0 = nodes.Select(n => n.Group?.ReadThrottling() ?? default).ToArray();
        var pg0 = postgres?.Group is { } pg ? ProcessCpu.Sum(pg.Processes()) : TimeSpan.Zero;
        var client0 = ProcessCpu.Read(Environment.ProcessId) ?? TimeSpan.Zero;
        await Task.Delay(duration, cancellation);
        var cpu1 = nodes.Select(n => ProcessCpu.Read(n.Pid) ?? TimeSpan.Zero).ToArray();
        var throttle1 = nodes.Select(n => n.Group?.ReadThrottling() ?? default).ToArray();
        var pg1 = postgres?.Group is { } pg2 ? ProcessCpu.Sum(pg2.Processes()) : TimeSpan.Zero;
        var client1 = ProcessCpu.Read(Environment.ProcessId) ?? TimeSpan.Zero;
        var after = await Task.WhenAll(nodes.Select(n => metrics.ReadAsync(n.Admin, cancellation)));

        double siloCpu = 0, apiCpu = 0, remote = 0, served = 0;
        var resident = new List<double>();
        var siloThrottle = new List<double>();
        var apiThrottle = new List<double>();
        for (var i = 0; i < nodes.Count; i++)
        {
            var cpu = (cpu1[i] - cpu0[i]).TotalSeconds;
            var throttled = (throttle1[i] - throttle0[i]).ThrottledShare;
            if (nodes[i].HostsGrains)
            {
                siloCpu += cpu;
                siloThrottle.Add(throttled);
                if (after[i] is { } held) resident.Add(held.ResidentSessions);
            }
            else { apiCpu += cpu; apiThrottle.Add(throttled); }
            if (before[i] is { } b && after[i] is { } a)
            {
                var delta = a - b;
                remote += delta.RemoteRequests;
                served += delta.WhoamiServed;
            }
        }
        return new WindowUsage(duration.TotalSeconds, siloCpu, apiCpu, (pg1 - pg0).TotalSeconds, (client1 - client0).TotalSeconds,
            siloThrottle.Count > 0 ? siloThrottle.Average() : 0, apiThrottle.Count > 0 ? apiThrottle.Average() : 0, remote, served, 0,
            resident.Count > 0 ? resident.Min() : 0, resident.Count > 0 ? resident.Max() : 0);
    }
}
