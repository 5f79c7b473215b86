using System.Diagnostics;
using System.Globalization;
using ScottPlot;
using Spectre.Console;

namespace OrleansSessions.Bench;

/// <summary>
/// live-scale-out: how an operator load-tests scale-out. A cluster of the first step's silos (co-hosted nodes, or
/// silos behind --api-nodes API nodes), seeded; then a steady open-loop whoami load while silos are added (each
/// capped from the moment it is ready, co-hosted ones put in rotation then) and stopped with SIGTERM (the newest
/// first; a co-hosted one taken out of rotation and drained first, as a load balancer does) at each --steps count.
/// Second by second: answers, p99, non-2xx answers and failed requests, and the session activations each silo holds
/// (its <c>orleans_sessions_sessions_resident</c>). The targets: not one non-2xx answer or failed request while
/// silos join and leave.
/// </summary>
public static class LiveScaleOutScenario
{
    public sealed record ClusterEvent(double At, string Node, string What);

    public sealed record NodeSeries(string Node, List<double> At, List<double> Resident, List<double> Served);

    public sealed record StepSummary(int Step, int Silos, double From, double To, double RequestsPerSecond, long MaxP99, long Non2xx, long Failed,
        IReadOnlyDictionary<string, double> ResidentAtEnd);

    public static async Task RunAsync(BenchRun run)
    {
        var settings = run.Settings;
        var siloDll = LocalCluster.SiloDll(settings);
        var mode = BenchSettings.ParseMode(settings.Mode);
        var steps = BenchSettings.ParseCounts(settings.Steps);
        var stepTime = settings.StepTimeSpan;
        var rate = settings.Rate > 0 ? settings.Rate : settings.RatePerSilo * steps[0];
        if (rate <= 0) throw new InvalidOperationException("live-scale-out needs a steady offered load: --rate R (total) or --rate-per-silo R (x the first step's silos)");
        var groups = settings.UsesCpuGroups ? run.UseCpuGroups() : null;
        var (connection, _) = await LocalCluster.DatabaseAsync(run, groups);
        var cluster = run.Track(await LocalCluster.StartAsync(run, mode, siloDll, "live", groups, connection));
        var apiNodes = mode == ClusterMode.Split ? settings.ApiNodes ?? 2 : 0;

        await Task.WhenAll(Enumerable.Range(0, steps[0]).Select(_ => cluster.AddSiloAsync(settings.SiloShare, capNow: false)));
        await Task.WhenAll(Enumerable.Range(0, apiNodes).Select(_ => cluster.AddApiNodeAsync(settings.ApiShare, capNow: false)));
        List<Credential> credentials;
        using (var admin = run.CreateAdmin(cluster.AdminApi))
        {
            var identities = await Seeding.SeedAsync(admin, settings.Sessions, settings.SessionsPerIdentity ?? 1, cookies: false, settings.SeedParallelism, run.Cancellation);
            credentials = [.. identities.SelectMany(i => i.Sessions)];
        }
        await ScaleOutScenario.PrewarmAsync(run, cluster, new FixedCredentials(credentials));
        cluster.Cap();

        var rotation = new TargetSet(cluster.Nodes.Where(n => n.Public is not null).Select(n => n.Public!));
        // Each step runs --step-time once its change is complete; joining and leaving take a while at these budgets,
        // so the window is an upper bound and the load is stopped when the last step is over.
        var measured = stepTime * steps.Count + TimeSpan.FromMinutes(3) * (steps.Count - 1);
        var timeline = new Timeline((int)Math.Ceiling((settings.WarmupTime + measured).TotalSeconds) + 60);
        using var stopLoad = new CancellationTokenSource();
        var plan = run.Plan([]) with
        {
            Rate = rate,
            Concurrency = settings.Concurrency * steps.Max(),
            Duration = measured,
            Rotation = rotation,
            Timeline = timeline,
            Stop = stopLoad.Token,
        };
        var events = new List<ClusterEvent>();
        void Event(string node, string what)
        {
            lock (events) events.Add(new ClusterEvent(Math.Round(timeline.Now, 2), node, what));
            AnsiConsole.MarkupLineInterpolated($"[blue]{timeline.Now,7:0.0} s  {node}: {what}[/]");
        }
        var series = new Dictionary<string, NodeSeries>();
        using var stopScraping = CancellationTokenSource.CreateLinkedTokenSource(run.Cancellation);
        using var metrics = new MetricsReader(settings.EffectiveAdminKey);

        timeline.Restart();
        var load = WhoamiLoad.RunAsync($"live scale-out, {rate:0}/s", plan, new FixedCredentials(credentials), run.Cancellation);
        var scraping = ScrapeAsync(cluster, metrics, timeline, series, settings.ScrapeIntervalTime, stopScraping.Token);
        var added = new Stack<ClusterNode>();
        List<double> stepBounds = [];
        try
        {
            var due = settings.WarmupTime + stepTime;
            var stepStarts = new List<double> { settings.WarmupTime.TotalSeconds };
            for (var step = 1; step <= steps.Count; step++)
            {
                var wait = due - TimeSpan.FromSeconds(timeline.Now);
                if (wait > TimeSpan.Zero) await Task.WhenAny(load, Task.Delay(wait, run.Cancellation));
                if (load.IsCompleted || step == steps.Count) break;
                var current = cluster.Nodes.Count(n => n.HostsGrains);
                var target = steps[step];
                Event("cluster", $"step {step + 1}: {current} → {target} silos");
                if (target > current)
                    await Task.WhenAll(Enumerable.Range(0, target - current).Select(async _ =>
                    {
                        var node = await cluster.AddSiloAsync(settings.SiloShare, capNow: false);
                        node.Group?.SetQuota(node.Share);
                        Event(node.Name, "ready (joined, capped)");
                        if (node.Public is not null)
                        {
                            rotation.Add(node.Public);
                            Event(node.Name, "in rotation");
                        }
                        lock (added) added.Push(node);
                    }));
                else if (target < current)
                {
                    var leaving = new List<ClusterNode>();
                    lock (added)
                        while (leaving.Count < current - target && added.Count > 0) leaving.Add(added.Pop());
                    // Not one of the first silos: they were there before the load.
                    leaving.AddRange(cluster.Nodes.Where(n => n.HostsGrains && !leaving.Contains(n)).Reverse().Take(current - target - leaving.Count));
                    await Task.WhenAll(leaving.Select(async node =>
                    {
                        if (node.Public is not null)
                        {
                            var drained = await rotation.RemoveAsync(node.Public, TimeSpan.FromSeconds(10));
                            Event(node.Name, $"out of rotation, drained in {drained.TotalMilliseconds:0} ms");
                        }
                        Event(node.Name, "SIGTERM");
                        var stopping = Stopwatch.GetTimestamp();
                        await cluster.StopAsync(node);
                        Event(node.Name, $"exited {Stopwatch.GetElapsedTime(stopping).TotalSeconds:0.0} s after SIGTERM");
                    }));
                }
                Event("cluster", $"step {step + 1}: {target} silos");
                stepStarts.Add(timeline.Now);
                due = TimeSpan.FromSeconds(timeline.Now) + stepTime;
            }
            stepBounds = stepStarts;
            await stopLoad.CancelAsync();
            var result = await load;
            run.Report.Runs.Add(result);
        }
        finally
        {
            await stopScraping.CancelAsync();
            await scraping;
        }

        var seconds = timeline.Figures((int)Math.Ceiling(timeline.Now));
        var summaries = Summarize(seconds, steps, stepBounds, stepTime, series);
        Directory.CreateDirectory(run.OutDirectory);
        var chart = Path.Combine(run.OutDirectory, run.Report.FileStem + ".png");
        Draw(chart, seconds, series, events, settings, rate, mode);
        run.Report.Details = new { rate, steps, step_time_seconds = stepTime.TotalSeconds, events, summaries, seconds, activations = series.Values, chart = Path.GetFileName(chart) };
        Write(run, summaries, events, seconds, chart, settings, rate, mode);
        run.Finish();
    }

    /// <summary>Every interval, each node's resident sessions and whoami served (until the node is gone).</summary>
    private static async Task ScrapeAsync(LocalCluster cluster, MetricsReader metrics, Timeline timeline, Dictionary<string, NodeSeries> series, TimeSpan interval,
        CancellationToken cancellation)
    {
        using var timer = new PeriodicTimer(interval);
        try
        {
            do
            {
                var nodes = cluster.Nodes;
                var at = timeline.Now;
                var samples = await Task.WhenAll(nodes.Select(n => metrics.ReadAsync(n.Admin, cancellation)));
                lock (series)
                    for (var i = 0; i < nodes.Count; i++)
                    {
                        if (samples[i] is not { } sample) continue;
                        if (!series.TryGetValue(nodes[i].Name, out var s)) series[nodes[i].Name] = s = new NodeSeries(nodes[i].Name, [], [], []);
                        s.At.Add(Math.Round(at, 2));
                        s.Resident.Add(nodes[i].HostsGrains ? sample.ResidentSessions : 0);
                        s.Served.Add(sample.WhoamiServed);
                    }
            }
            while (await timer.WaitForNextTickAsync(cancellation));
        }
        catch (OperationCanceledException) { }
    }

    /// <summary>Step k runs from the moment its change was complete (the first: the end of the warm-up) to the start of the next change.</summary>
    private static List<StepSummary> Summarize(IReadOnlyList<SecondFigures> seconds, IReadOnlyList<int> steps, IReadOnlyList<double> starts, TimeSpan stepTime,
        Dictionary<string, NodeSeries> series)
    {
        var summaries = new List<StepSummary>();
        for (var step = 0; step < Math.Min(steps.Count, starts.Count); step++)
        {
            var from = Math.Floor(starts[step]);
            var to = from + stepTime.TotalSeconds;
            var inStep = seconds.Where(s => s.Second >= from && s.Second < to).ToList();
            var resident = new Dictionary<string, double>();
            lock (series)
                foreach (var s in series.Values)
                {
                    var last = s.At.FindLastIndex(t => t < to);
                    if (last >= 0 && s.At[last] >= from) resident[s.Node] = s.Resident[last];
                }
            summaries.Add(new StepSummary(step + 1, steps[step], from, to, inStep.Count == 0 ? 0 : inStep.Average(s => s.Ok + s.Non2xx),
                inStep.Count == 0 ? 0 : inStep.Max(s => s.P99), inStep.Sum(s => s.Non2xx), inStep.Sum(s => s.Failed), resident));
        }
        return summaries;
    }

    private static void Write(BenchRun run, IReadOnlyList<StepSummary> summaries, IReadOnlyList<ClusterEvent> events, IReadOnlyList<SecondFigures> seconds,
        string chart, BenchSettings settings, double rate, ClusterMode mode)
    {
        var s = run.Report.Sections;
        var non2xx = seconds.Sum(x => x.Non2xx);
        var failed = seconds.Sum(x => x.Failed);
        s.AppendLine("## Live scale-out");
        s.AppendLine();
        s.AppendLine(CultureInfo.InvariantCulture,
            $"{(mode == ClusterMode.Cohosted ? "Co-hosted nodes" : $"Silos behind {settings.ApiNodes ?? 2} API nodes")}, steady open loop at {rate:N0} req/s; steps {settings.Steps}, each {settings.StepTime} once its change was complete, after {settings.Warmup} of warm-up. "
            + $"Over the whole run (warm-up included): **{non2xx} non-2xx answers, {failed} failed requests**.");
        s.AppendLine();
        s.AppendLine("Steps as they ran once their change was complete (seconds from the start of the load); errors during the changes are in the events' seconds and the totals above.");
        s.AppendLine();
        s.AppendLine("| step | silos | seconds | answers/s | worst p99 of a second (ms) | non-2xx | failed | session activations per silo at the step's end |");
        s.AppendLine("| ---: | ---: | --- | ---: | ---: | ---: | ---: | --- |");
        foreach (var x in summaries)
            s.AppendLine(CultureInfo.InvariantCulture,
                $"| {x.Step} | {x.Silos} | {x.From:0}–{x.To:0} | {x.RequestsPerSecond:N0} | {Report.Ms(x.MaxP99)} | {x.Non2xx} | {x.Failed} | {string.Join(", ", x.ResidentAtEnd.Where(r => r.Value > 0 || !r.Key.StartsWith("api", StringComparison.Ordinal)).Select(r => $"{r.Key} {r.Value:0}"))} |");
        s.AppendLine();
        s.AppendLine("Events (seconds from the start of the load):");
        s.AppendLine();
        foreach (var e in events) s.AppendLine(CultureInfo.InvariantCulture, $"- {e.At:0.0} s, {e.Node}: {e.What}");
        s.AppendLine();
        var kinds = seconds.SelectMany(x => x.ErrorKinds).GroupBy(k => k.Key).Select(g => $"{g.Key}: {g.Sum(k => k.Value)} (seconds {string.Join(", ", seconds.Where(x => x.ErrorKinds.ContainsKey(g.Key)).Select(x => x.Second))})").ToList();
        if (kinds.Count > 0)
        {
            s.AppendLine("Errors by kind: " + string.Join("; ", kinds));
            s.AppendLine();
        }
        s.AppendLine(CultureInfo.InvariantCulture, $"![throughput, p99, errors and session activations per silo over time]({Path.GetFileName(chart)})");
        s.AppendLine();
        run.Report.Notes.Add($"silos capped at {CpuGroups.Describe(settings.SiloShare)} once ready (uncapped while starting, a quick boot of a new machine)"
            + (mode == ClusterMode.Split ? $", API nodes at {CpuGroups.Describe(settings.ApiShare)}" : "; the load is spread over the co-hosted nodes in rotation"));
    }

    private static void Draw(string path, IReadOnlyList<SecondFigures> seconds, Dictionary<string, NodeSeries> series, IReadOnlyList<ClusterEvent> events,
        BenchSettings settings, double rate, ClusterMode mode)
    {
        var multiplot = new Multiplot();
        multiplot.AddPlots(4);
        var plots = Enumerable.Range(0, 4).Select(multiplot.GetPlot).ToArray();
        var x = seconds.Select(s => s.Second + 0.5).ToArray();

        var throughput = plots[0].Add.Scatter(x, seconds.Select(s => (double)(s.Ok + s.Non2xx)).ToArray());
        throughput.MarkerSize = 0;
        throughput.LineWidth = 2;
        plots[0].Title($"live scale-out ({(mode == ClusterMode.Cohosted ? "co-hosted" : "split")}), open loop at {rate:N0} req/s, silos capped at {CpuGroups.Describe(settings.SiloShare)}");
        plots[0].YLabel("answers/s");
        plots[0].Axes.SetLimitsY(0, Math.Max(1, seconds.Max(s => s.Ok + s.Non2xx)) * 1.2);

        var p99 = plots[1].Add.Scatter(x, seconds.Select(s => s.P99 / 1000.0).ToArray());
        p99.MarkerSize = 0;
        p99.LineWidth = 2;
        p99.Color = Colors.DarkOrange;
        plots[1].YLabel("p99 ms");
        plots[1].Axes.SetLimitsY(0, Math.Max(1, seconds.Max(s => s.P99) / 1000.0) * 1.2);

        var non2xx = plots[2].Add.Scatter(x, seconds.Select(s => (double)s.Non2xx).ToArray());
        non2xx.MarkerSize = 0;
        non2xx.Color = Colors.Red;
        non2xx.LegendText = "non-2xx";
        var failed = plots[2].Add.Scatter(x, seconds.Select(s => (double)s.Failed).ToArray());
        failed.MarkerSize = 0;
        failed.Color = Colors.Purple;
        failed.LegendText = "failed";
        plots[2].YLabel("errors/s");
        plots[2].Axes.SetLimitsY(0, Math.Max(5, seconds.Max(s => s.Non2xx + s.Failed) * 1.2));
        plots[2].ShowLegend(Alignment.UpperRight);

        lock (series)
            foreach (var s in series.Values.Where(s => s.Resident.Any(r => r > 0)).OrderBy(s => s.Node, StringComparer.Ordinal))
            {
                var line = plots[3].Add.Scatter(s.At.ToArray(), s.Resident.ToArray());
                line.MarkerSize = 0;
                line.LineWidth = 2;
                line.LegendText = s.Node;
            }
        plots[3].YLabel("session activations");
        plots[3].XLabel("seconds");
        plots[3].ShowLegend(Alignment.UpperRight);

        foreach (var plot in plots)
        {
            foreach (var e in events.Where(e => e.What.StartsWith("step", StringComparison.Ordinal)))
            {
                var line = plot.Add.VerticalLine(e.At);
                line.Color = Colors.Gray;
                line.LinePattern = LinePattern.Dashed;
                line.LineWidth = 1;
            }
            plot.Axes.SetLimitsX(0, seconds.Count);
        }
        multiplot.SharedAxes.ShareX(plots);
        multiplot.SavePng(path, 1100, 1200);
    }
}
