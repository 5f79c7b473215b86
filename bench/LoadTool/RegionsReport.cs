using System.Globalization;
using System.Text;
using ScottPlot;
using static OrleansSessions.Bench.RegionsScenario;

namespace OrleansSessions.Bench;

/// <summary>The regions scenario's Markdown sections and its chart (<c>&lt;stamp&gt;-regions.png</c>).</summary>
public static class RegionsReport
{
    private static string F(double? value, string format = "0.0") => value is { } v ? v.ToString(format, CultureInfo.InvariantCulture) : "–";
    private static string N(double value) => value.ToString("N0", CultureInfo.InvariantCulture);

    public static void Write(Report report, Details d, BenchSettings settings)
    {
        var s = report.Sections;
        s.AppendLine("## Regions");
        s.AppendLine();
        s.AppendLine(CultureInfo.InvariantCulture, $"Lease as given (`--lease`): {d.LeaseSeconds:0.###} s. Token codes as the regions issued them: {string.Join(", ", d.Codes.Select(c => $"{c.Key} `{c.Value}`"))}.");
        if (d.Links.Count > 0)
        {
            s.AppendLine();
            s.AppendLine("One-way delay of each link, read from its control endpoint at the start (link x -> y carries x's connections to y's database, both ways):");
            s.AppendLine();
            s.AppendLine("| link | one-way ms |");
            s.AppendLine("| --- | ---: |");
            foreach (var link in d.Links) s.AppendLine(CultureInfo.InvariantCulture, $"| {link.From} -> {link.To} | {link.DelayMs:0.###} |");
        }
        s.AppendLine();
        if (d.Steady is { } steady) WriteSteady(s, steady, settings);
        if (d.First is { } first) WriteFirst(s, first, d.FirstLookupConnections);
        if (d.Revoke is { } revoke) WriteRevoke(s, revoke);
        if (d.Cut is { } cut) WriteCut(s, cut);
        if (d.Chart is { } chart)
        {
            s.AppendLine(CultureInfo.InvariantCulture, $"![regions: steady whoami, first lookups, revocation visibility, the cut]({chart})");
            s.AppendLine();
        }
        report.Notes.Add("every region, every link and the tool share this machine's CPUs; the links between regions are simulated by bench/LinkProxy (a delay per direction, a cut on request)");
    }

    private static void WriteSteady(StringBuilder s, SteadyFigures x, BenchSettings settings)
    {
        s.AppendLine("## 1. whoami in every region at once");
        s.AppendLine();
        s.AppendLine(CultureInfo.InvariantCulture,
            $"Closed loop in every region at the same time, {x.HomeWorkers + x.AwayWorkers} requests in flight per region spread over its nodes: {x.HomeWorkers} workers on the region's own sessions and {x.AwayWorkers} on the other regions' "
            + $"(so about {100.0 * x.AwayWorkers / (x.HomeWorkers + x.AwayWorkers):0}% of the lookups are away from the session's home). Every region looked up every seeded session once before, so both are answered from memory; "
            + $"{settings.Warmup} warm-up, {settings.Duration} measured. Own and others' sessions ran side by side on the same nodes at the same moment, so their latencies compare directly.");
        s.AppendLine();
        s.AppendLine("| region | req/s | p50 ms | p99 ms | own sessions: req/s | p50 | p99 | other regions' sessions: req/s | p50 | p99 | errors |");
        s.AppendLine("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
        foreach (var r in x.Regions)
            s.AppendLine(CultureInfo.InvariantCulture,
                $"| {r.Region} | {N(r.RequestsPerSecond)} | {Report.Ms(r.All.P50)} | {Report.Ms(r.All.P99)} | {N(r.HomeRequestsPerSecond)} | {Report.Ms(r.Home.P50)} | {Report.Ms(r.Home.P99)} | {N(r.AwayRequestsPerSecond)} | {Report.Ms(r.Away.P50)} | {Report.Ms(r.Away.P99)} | {r.Errors} |");
        s.AppendLine(CultureInfo.InvariantCulture, $"| **all regions** | **{N(x.TotalRequestsPerSecond)}** | | | | | | | | | {x.Regions.Sum(r => r.Errors)} |");
        s.AppendLine();
        s.AppendLine(CultureInfo.InvariantCulture,
            $"Then, for comparison on the same CPUs in the same run: every region at once again with {x.HomeWorkers + x.AwayWorkers} in flight each, but on its own sessions only (the same processes busy, no lookup away from home); and {x.AloneRegion} alone on its own sessions with {x.AloneConcurrency} in flight (what all the regions had together), the other regions running but idle.");
        s.AppendLine();
        s.AppendLine("| run | req/s | p50 ms | p99 ms | errors |");
        s.AppendLine("| --- | ---: | ---: | ---: | ---: |");
        foreach (var r in x.OwnOnly)
            s.AppendLine(CultureInfo.InvariantCulture, $"| {r.Region}, own sessions only | {N(r.RequestsPerSecond)} | {Report.Ms(r.Latency.P50)} | {Report.Ms(r.Latency.P99)} | {r.Errors} |");
        s.AppendLine(CultureInfo.InvariantCulture, $"| **all regions, own sessions only** | **{N(x.OwnOnlyTotalRequestsPerSecond)}** | | | {x.OwnOnly.Sum(r => r.Errors)} |");
        s.AppendLine(CultureInfo.InvariantCulture, $"| **{x.AloneRegion} alone**, own sessions, {x.AloneConcurrency} in flight | **{N(x.AloneRequestsPerSecond)}** | {Report.Ms(x.Alone.P50)} | {Report.Ms(x.Alone.P99)} | {x.AloneErrors} |");
        s.AppendLine();
        if (x.Usage.Count > 0)
        {
            s.AppendLine("Where the CPU went in each measured window (the nodes' own `dotnet_process_cpu_time_seconds_total`, every node of every region, idle ones included; PostgreSQL, the link proxies and the tool not counted), and the reads of sessions and identities from a store in the window (whoami from memory makes none):");
            s.AppendLine();
            s.AppendLine("| run | req/s | node CPU (cores) | per region | node CPU µs per request | grain calls to another silo per whoami | store reads by key in the window |");
            s.AppendLine("| --- | ---: | ---: | --- | ---: | ---: | --- |");
            foreach (var u in x.Usage)
                s.AppendLine(CultureInfo.InvariantCulture,
                    $"| {u.Run} | {N(u.RequestsPerSecond)} | {u.CpuCores:0.00} | {string.Join(", ", u.CpuCoresByRegion.Select(kv => $"{kv.Key} {kv.Value:0.00}"))} | {F(u.CpuMicrosecondsPerRequest, "0")} | {F(u.RemoteCallShare, "0.00")} | {string.Join(", ", u.StoreReadsByRegion.Select(kv => $"{kv.Key} {kv.Value:0}"))} |");
            s.AppendLine();
        }
        var ratios = x.Regions.Select(r => r.Away.P99 / Math.Max(1.0, r.Home.P99)).ToList();
        s.AppendLine(CultureInfo.InvariantCulture,
            $"Other regions' sessions ÷ own, p99: {string.Join(", ", x.Regions.Select((r, i) => $"{r.Region} {ratios[i]:0.00}"))}. All regions with every region's sessions ÷ all regions with their own only: req/s {x.TotalRequestsPerSecond / Math.Max(1e-9, x.OwnOnlyTotalRequestsPerSecond):0.00}; ÷ {x.AloneRegion} alone: {x.TotalRequestsPerSecond / Math.Max(1e-9, x.AloneRequestsPerSecond):0.00}.");
        s.AppendLine();
    }

    private static void WriteFirst(StringBuilder s, List<FirstLookupFigures> figures, List<LinkConnections>? connections)
    {
        s.AppendLine("## 2. First lookup away from home");
        s.AppendLine();
        s.AppendLine("A session issued through the home region's admin API, then, as soon as the issuance was acknowledged, whoami in every region at once (the row has not replicated yet: the asking region reads it from the home region's database, a round trip over the link, two one-way delays), then once more everywhere (now from memory). "
            + "Two cases: a new session of an identity created a second earlier (replicated everywhere: the usual sign-in), and a new identity with its session (sign-up and first use elsewhere at once: the identity is read from the home region too). The regions issued side by side, one session at a time each.");
        s.AppendLine();
        s.AppendLine("| case | home | asking | one-way ms | sessions | 200 | first lookup p50 ms | p99 | max | next lookup p50 ms | p99 |");
        s.AppendLine("| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
        foreach (var f in figures)
            s.AppendLine(CultureInfo.InvariantCulture,
                $"| {f.Case} | {f.Home} | {(f.Asking == f.Home ? $"{f.Asking} (home)" : f.Asking)} | {(f.Asking == f.Home ? "–" : F(f.OneWayMs, "0.#"))} | {f.Count} | {f.Ok} | {F(f.P50Ms)} | {F(f.P99Ms)} | {F(f.MaxMs)} | {F(f.SecondP50Ms, "0.00")} | {F(f.SecondP99Ms, "0.00")} |");
        s.AppendLine();
        foreach (var group in figures.Where(f => f.Asking != f.Home).GroupBy(f => f.Case))
            s.AppendLine(CultureInfo.InvariantCulture,
                $"- {group.Key}, away from home: first lookup p50 {F(Percentile([.. group.Select(f => f.P50Ms ?? 0).Order()], 50))} ms (median of the pairs' medians), worst p99 {F(group.Max(f => f.P99Ms))} ms, worst {F(group.Max(f => f.MaxMs))} ms; one-way delay {F(group.First().OneWayMs, "0.#")} ms.");
        s.AppendLine();
        if (connections is { Count: > 0 })
        {
            s.AppendLine(CultureInfo.InvariantCulture,
                $"Connections opened over the links while this part ran (the links' own count; the nodes' and the databases' connections to the peers, replication included): {string.Join(", ", connections.Select(c => $"{c.From}->{c.To} {c.Opened}"))}. A lookup that finds no idle connection to the home database opens one, and pays the TCP and PostgreSQL handshakes over the link before its query.");
            s.AppendLine();
        }
        s.AppendLine(CultureInfo.InvariantCulture,
            $"**Answers other than 200 right after issuance: {figures.Sum(f => f.Count - f.Ok)}** (must be 0: replication lag never answers 401 for a live session).");
        s.AppendLine();
    }

    private static void WriteRevoke(StringBuilder s, RevokeFigures r)
    {
        s.AppendLine("## 3. Revocation visibility across regions");
        s.AppendLine();
        s.AppendLine(string.Create(CultureInfo.InvariantCulture,
            $"Open-loop whoami at {r.RatePerRegion:N0} req/s in every region on the seeded sessions of all regions throughout. {r.Rounds.Count} rounds, the home region and the revoking region rotating over every pair: a session issued in its home region, polled in every region until it answered 200 (so every region holds it), ")
            + "revoked (`DELETE /admin/sessions/{id}`) through one region's admin API, and from the acknowledgement every region polled (one request at a time, 2 ms apart) until it answered 401. "
            + "Visibility = from the ack to the arrival of the first 401 (an upper bound: the poll before answered 200). Target: the link's one-way delay from the home region + 100 ms.");
        s.AppendLine();
        s.AppendLine("| asking region | observations | p50 ms | p99 ms | max ms | target ms | over the target | 200 after the target |");
        s.AppendLine("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
        foreach (var x in r.ByRegion.Concat(r.ByRole).Append(r.Overall))
            s.AppendLine(CultureInfo.InvariantCulture,
                $"| {(x.Label == "overall" ? "**overall**" : x.Label)} | {x.Observations}{(x.Visible < x.Observations ? $" ({x.Observations - x.Visible} never 401)" : "")} | {F(x.P50Ms)} | {F(x.P99Ms)} | {F(x.MaxMs)} | {F(x.BoundMs, "0")} | {x.OverBound} | {x.Answered200AfterBound} |");
        s.AppendLine();
        s.AppendLine(CultureInfo.InvariantCulture,
            $"(The region that acknowledged is left out of these rows: it must answer 401 at once.) **200 answered by the acknowledging region after the ack: {r.Answered200AfterAckInAcknowledgingRegion}** (must be 0). "
            + $"Revoke call: in the session's home region p50 {F(r.HomeCallP50Ms)} ms, p99 {F(r.HomeCallP99Ms)} ms; through another region (the write goes to the home region's database over the link) p50 {F(r.AwayCallP50Ms)} ms, p99 {F(r.AwayCallP99Ms)} ms.");
        s.AppendLine();
        s.AppendLine("| # | home | revoked through | status | call ms | visible after (ms) per region | 200 after the ack (acknowledging region) |");
        s.AppendLine("| ---: | --- | --- | ---: | ---: | --- | ---: |");
        foreach (var round in r.Rounds)
        {
            var views = string.Join(", ", round.Regions.Select(v => $"{v.Region} {(v.Role == "acknowledging" ? "(ack) " : "")}{(v.VisibleAfterMs is { } ms ? ms.ToString("0.0", CultureInfo.InvariantCulture) : "never")}"));
            s.AppendLine(CultureInfo.InvariantCulture,
                $"| {round.Round} | {round.Home} | {round.RevokedThrough} | {round.Status} | {round.CallMs:0.0} | {views}{(round.NotLiveBefore > 0 ? $" ({round.NotLiveBefore} regions not 200 before)" : "")} | {round.Regions.Single(v => v.Role == "acknowledging").Answered200AfterAck} |");
        }
        s.AppendLine();
    }

    private static void WriteCut(StringBuilder s, CutFigures c)
    {
        s.AppendLine(CultureInfo.InvariantCulture, $"## 4. A cut link: {c.A} <-> {c.B}");
        s.AppendLine();
        s.AppendLine(CultureInfo.InvariantCulture,
            $"Both links between {c.A} and {c.B} cut (open connections reset, new ones refused) for {c.CutSeconds:0.#} s, the lease ({c.LeaseSeconds:0.#} s) and more. Probe streams, each asking one region about one set of sessions 25 times a second "
            + $"(every asked session looked up there before the cut, so held in memory); {c.Revocations.Count} of {c.A}'s sessions revoked in {c.A} {RevokeDelay(c)} s after the cut. Seconds from the cut; a request counts in the second it was sent.");
        s.AppendLine();
        s.AppendLine("Events:");
        s.AppendLine();
        foreach (var e in c.Events) s.AppendLine(CultureInfo.InvariantCulture, $"- {e.At:0.00} s: {e.What}");
        s.AppendLine();
        s.AppendLine("| stream | answers | 200 | 503 | 401 | other | last 200 in the cut (s) | first 503 in the cut (s) | first 200 after the restore (s after it) | last 503 after the restore (s after it) | 200 more than a lease after the revocation |");
        s.AppendLine("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
        foreach (var x in c.Streams)
            s.AppendLine(CultureInfo.InvariantCulture,
                $"| {x.Stream} | {x.Answers} | {x.Ok} | {x.Refused} | {x.Unauthorized} | {x.Other}{(x.Other > 0 ? $" ({string.Join(", ", x.Statuses.Where(k => k.Key is not ("200" or "401" or "503")).Select(k => $"{k.Key}: {k.Value}"))})" : "")} | {F(x.LastOkDuringCut, "0.00")} | {F(x.FirstRefusalDuringCut, "0.00")} | {F(x.FirstOkAfterRestore, "0.00")} | {F(x.LastRefusalAfterRestore, "0.00")} | {x.Answered200AfterLease} |");
        s.AppendLine();
        var heard = c.Heard.Where(h => h.Region == c.B && h.Peer == c.A && h.At >= 0 && h.At <= c.RestoredAt).Select(h => h.AgeSeconds).ToList();
        if (heard.Count > 0)
            s.AppendLine(CultureInfo.InvariantCulture, $"{c.B}'s silos' age of the newest {c.A} heartbeat (`orleans_sessions_region_heard_age_seconds`) during the cut: up to {F(heard.Max(), "0.0")} s (the lease is {c.LeaseSeconds:0.#} s).");
        s.AppendLine(CultureInfo.InvariantCulture,
            $"Caught up: {c.B} answered 401 for {(c.NeverCaughtUp == 0 ? "every one" : $"{c.Revocations.Count - c.NeverCaughtUp}")} of the {c.Revocations.Count} revoked sessions {(c.AllCaughtUpAfterRestore is { } all ? $"**{all:0.00} s after the restore** (median {F(c.MedianCaughtUpAfterRestore, "0.00")} s)" : "not within 90 s of the restore")}, polled every 10 ms each.");
        s.AppendLine();
        s.AppendLine(c.Violations.Count == 0
            ? "**No revoked session answered 200 more than a lease after its revocation was acknowledged, in any region; none answered 200 in the revoking region after its ack.**"
            : "**VIOLATIONS:** " + string.Join("; ", c.Violations));
        s.AppendLine();
        s.AppendLine("Per second (200 / 503 / 401 / other):");
        s.AppendLine();
        s.AppendLine("| s | " + string.Join(" | ", c.Timelines.Select(t => t.Stream)) + " |");
        s.AppendLine("| ---: | " + string.Join(" | ", c.Timelines.Select(_ => "---")) + " |");
        var seconds = c.Timelines.SelectMany(t => t.Seconds).Distinct().Order().ToList();
        foreach (var second in seconds)
        {
            var cells = c.Timelines.Select(t =>
            {
                var i = t.Seconds.IndexOf(second);
                return i < 0 ? "" : $"{t.Ok[i]} / {t.Refused[i]} / {t.Unauthorized[i]} / {t.Other[i]}";
            });
            s.AppendLine(CultureInfo.InvariantCulture, $"| {second} | {string.Join(" | ", cells)} |");
        }
        s.AppendLine();
    }

    private static string RevokeDelay(CutFigures c) => c.Revocations.Count == 0 ? "–" : c.Revocations.Min(r => r.SentAt).ToString("0.0", CultureInfo.InvariantCulture);

    // ------------------------------------------------------------------------------------------------------------

    public static void Draw(string path, Details d, BenchSettings settings)
    {
        var panels = new List<Action<Plot>>();
        if (d.Steady is { } steady)
        {
            panels.Add(plot => DrawThroughput(plot, steady));
            panels.Add(plot => DrawSteadyLatency(plot, steady));
        }
        if (d.First is { Count: > 0 } first) panels.Add(plot => DrawFirst(plot, first));
        if (d.Revoke is { } revoke) panels.Add(plot => DrawVisibility(plot, revoke));
        if (d.Cut is { } cut)
            foreach (var timeline in CutPanels(cut))
                panels.Add(plot => DrawTimeline(plot, cut, timeline));
        if (panels.Count == 0) return;
        var multiplot = new Multiplot();
        multiplot.AddPlots(panels.Count);
        for (var i = 0; i < panels.Count; i++) panels[i](multiplot.GetPlot(i));
        multiplot.SavePng(path, 1100, 380 * panels.Count);
    }

    private static void DrawThroughput(Plot plot, SteadyFigures x)
    {
        var bars = x.Regions.Select((r, i) => new Bar { Position = i, Value = r.RequestsPerSecond, FillColor = Colors.SteelBlue, Label = N(r.RequestsPerSecond), Size = 0.6 }).ToList();
        bars.Add(new Bar { Position = x.Regions.Count, Value = x.TotalRequestsPerSecond, FillColor = Colors.SlateGray, Label = N(x.TotalRequestsPerSecond), Size = 0.6 });
        bars.Add(new Bar { Position = x.Regions.Count + 1, Value = x.OwnOnlyTotalRequestsPerSecond, FillColor = Colors.LightSlateGray, Label = N(x.OwnOnlyTotalRequestsPerSecond), Size = 0.6 });
        bars.Add(new Bar { Position = x.Regions.Count + 2, Value = x.AloneRequestsPerSecond, FillColor = Colors.DarkOrange, Label = N(x.AloneRequestsPerSecond), Size = 0.6 });
        var added = plot.Add.Bars(bars);
        added.ValueLabelStyle.FontSize = 11;
        plot.Axes.Bottom.SetTicks([.. Enumerable.Range(0, x.Regions.Count + 3).Select(i => (double)i)],
            [.. x.Regions.Select(r => r.Region), "all regions", "all, own sessions only", $"{x.AloneRegion} alone"]);
        plot.Axes.Margins(bottom: 0, top: 0.2);
        plot.Title("1. whoami req/s: per region with every region's sessions, the sum, and the comparisons on the same CPUs");
        plot.YLabel("req/s");
    }

    private static void DrawSteadyLatency(Plot plot, SteadyFigures x)
    {
        var series = new (string Name, Func<SteadyRegion, long> Value, Color Color)[]
        {
            ("own sessions p50", r => r.Home.P50, Colors.LightSteelBlue),
            ("own sessions p99", r => r.Home.P99, Colors.SteelBlue),
            ("other regions' p50", r => r.Away.P50, Colors.NavajoWhite),
            ("other regions' p99", r => r.Away.P99, Colors.DarkOrange),
        };
        var width = 0.8 / series.Length;
        for (var k = 0; k < series.Length; k++)
        {
            var (name, value, color) = series[k];
            var bars = x.Regions.Select((r, i) => new Bar
            {
                Position = i - 0.4 + width * (k + 0.5), Value = value(r) / 1000.0, Size = width * 0.9, FillColor = color,
                Label = (value(r) / 1000.0).ToString("0.0", CultureInfo.InvariantCulture),
            }).ToList();
            var added = plot.Add.Bars(bars);
            added.LegendText = name;
            added.ValueLabelStyle.FontSize = 10;
        }
        var alone = plot.Add.HorizontalLine(x.Alone.P99 / 1000.0);
        alone.Color = Colors.Gray;
        alone.LinePattern = LinePattern.Dashed;
        alone.LegendText = $"{x.AloneRegion} alone p99";
        plot.Axes.Bottom.SetTicks([.. x.Regions.Select((_, i) => (double)i)], [.. x.Regions.Select(r => r.Region)]);
        plot.Axes.Margins(bottom: 0, top: 0.45);
        plot.ShowLegend(Alignment.UpperCenter);
        plot.Legend.Orientation = Orientation.Horizontal;
        plot.Title("1. whoami latency: the region's own sessions and the other regions' (same nodes, same moment)");
        plot.YLabel("ms");
    }

    private static void DrawFirst(Plot plot, List<FirstLookupFigures> figures)
    {
        var pairs = figures.Where(f => f.Home != f.Asking).Select(f => (f.Home, f.Asking)).Distinct().ToList();
        FirstLookupFigures? Of(string @case, (string Home, string Asking) pair) => figures.FirstOrDefault(f => f.Case == @case && f.Home == pair.Home && f.Asking == pair.Asking);
        var cases = figures.Select(f => f.Case).Distinct().ToList();
        var series = new List<(string Name, Func<(string, string), double?> Value, Color Color)>();
        var colors = new[] { (Colors.LightSteelBlue, Colors.SteelBlue), (Colors.NavajoWhite, Colors.DarkOrange) };
        for (var c = 0; c < cases.Count; c++)
        {
            var @case = cases[c];
            series.Add(($"{@case}: p50", pair => Of(@case, pair)?.P50Ms, colors[c % 2].Item1));
            series.Add(($"{@case}: p99", pair => Of(@case, pair)?.P99Ms, colors[c % 2].Item2));
        }
        series.Add(("next lookup p99 (memory)", pair => cases.Select(@case => Of(@case, pair)?.SecondP99Ms).Max(), Colors.SeaGreen));
        var width = 0.8 / series.Count;
        for (var k = 0; k < series.Count; k++)
        {
            var (name, value, color) = series[k];
            var added = plot.Add.Bars(pairs.Select((pair, i) => new Bar
            {
                Position = i - 0.4 + width * (k + 0.5), Value = value(pair) ?? 0, Size = width * 0.9, FillColor = color,
                Label = F(value(pair), "0"),
            }).ToList());
            added.LegendText = name;
            added.ValueLabelStyle.FontSize = 9;
        }
        if (figures.Where(f => f.Home != f.Asking).Select(f => f.OneWayMs).FirstOrDefault(v => v is not null) is { } oneWay)
        {
            var line = plot.Add.HorizontalLine(2 * oneWay);
            line.Color = Colors.Gray;
            line.LinePattern = LinePattern.Dashed;
            line.LegendText = $"one round trip over the link (2 × {oneWay:0.#} ms)";
        }
        plot.Axes.Bottom.SetTicks([.. pairs.Select((_, i) => (double)i)], [.. pairs.Select(p => $"{p.Home}→{p.Asking}")]);
        // Room above the tallest bar for the legend, which would hide it otherwise.
        plot.Axes.Margins(bottom: 0, top: 0.75);
        plot.ShowLegend(Alignment.UpperCenter);
        plot.Legend.Orientation = Orientation.Horizontal;
        plot.Title("2. first whoami away from home right after issuance (home → asking region)");
        plot.YLabel("ms");
    }

    private static void DrawVisibility(Plot plot, RevokeFigures r)
    {
        var palette = new[] { Colors.SteelBlue, Colors.DarkOrange, Colors.SeaGreen, Colors.Purple, Colors.Brown };
        var regions = r.Rounds.SelectMany(x => x.Regions).Select(v => v.Region).Distinct().ToList();
        for (var i = 0; i < regions.Count; i++)
        {
            var values = r.Rounds.SelectMany(x => x.Regions).Where(v => v.Region == regions[i] && v.Role != "acknowledging" && v.VisibleAfterMs is not null)
                .Select(v => v.VisibleAfterMs!.Value).Order().ToArray();
            if (values.Length == 0) continue;
            var share = values.Select((_, k) => 100.0 * (k + 1) / values.Length).ToArray();
            var line = plot.Add.Scatter(values, share);
            line.LegendText = $"{regions[i]} ({values.Length})";
            line.Color = palette[i % palette.Length];
            line.LineWidth = 2;
            line.MarkerSize = 4;
        }
        if (r.Overall.BoundMs is { } bound)
        {
            var target = plot.Add.VerticalLine(bound);
            target.Color = Colors.Red;
            target.LinePattern = LinePattern.Dashed;
            target.LegendText = $"target {bound:0} ms";
        }
        plot.Axes.SetLimitsY(0, 105);
        plot.ShowLegend(Alignment.LowerRight);
        plot.Title($"3. revocation visible (401) after the ack, by asking region, under {r.RatePerRegion:N0} req/s per region");
        plot.XLabel("ms after the acknowledgement");
        plot.YLabel("% of rounds");
    }

    /// <summary>The cut's panels: B asking A's live sessions, B asking A's revoked ones, A asking B's, the third regions.</summary>
    private static IEnumerable<(string Title, List<StreamTimeline> Streams)> CutPanels(CutFigures c)
    {
        var byKind = c.Streams.Zip(c.Timelines).ToList();
        List<StreamTimeline> Where(Func<StreamSummary, bool> test) => [.. byKind.Where(x => test(x.First)).Select(x => x.Second)];
        yield return ($"4. {c.B} asked about {c.A}'s live sessions", Where(x => x.Asking == c.B && x.Home == c.A && x.Kind == "across the cut"));
        yield return ($"4. {c.B} asked about {c.A}'s sessions revoked during the cut", Where(x => x.Asking == c.B && x.Home == c.A && x.Kind != "across the cut"));
        yield return ($"4. {c.A} asked about {c.B}'s live sessions", Where(x => x.Asking == c.A && x.Home == c.B));
        var third = Where(x => x.Kind.StartsWith("third", StringComparison.Ordinal));
        if (third.Count > 0) yield return ($"4. the other regions asked about {c.A}'s and {c.B}'s sessions (live and revoked)", third);
    }

    private static void DrawTimeline(Plot plot, CutFigures c, (string Title, List<StreamTimeline> Streams) panel)
    {
        var seconds = panel.Streams.SelectMany(t => t.Seconds).Distinct().Order().ToList();
        double[] Sum(Func<StreamTimeline, List<int>> pick) => [.. seconds.Select(sec => (double)panel.Streams.Sum(t => t.Seconds.IndexOf(sec) is var i and >= 0 ? pick(t)[i] : 0))];
        var x = seconds.Select(sec => sec + 0.5).ToArray();
        foreach (var (name, values, color) in new[]
                 {
                     ("200", Sum(t => t.Ok), Colors.SeaGreen), ("503", Sum(t => t.Refused), Colors.DarkOrange),
                     ("401", Sum(t => t.Unauthorized), Colors.SteelBlue), ("other", Sum(t => t.Other), Colors.Red),
                 })
        {
            if (values.All(v => v == 0) && name == "other") continue;
            var line = plot.Add.Scatter(x, values);
            line.LegendText = name;
            line.Color = color;
            line.LineWidth = 2;
            line.MarkerSize = 0;
        }
        void Mark(double at, Color color, string what)
        {
            var line = plot.Add.VerticalLine(at);
            line.Color = color;
            line.LinePattern = LinePattern.Dashed;
            line.LineWidth = 1;
            line.LegendText = what;
        }
        Mark(0, Colors.Red, "cut");
        if (c.Revocations.Count > 0) Mark(c.Revocations.Min(r => r.AckedAt), Colors.SteelBlue, "revocations");
        Mark(c.LeaseSeconds, Colors.Gray, "a lease after the cut");
        Mark(c.RestoredAt, Colors.SeaGreen, "restore");
        if (c.AllCaughtUpAfterRestore is { } caught) Mark(c.RestoredAt + caught, Colors.Purple, "caught up");
        plot.ShowLegend(Alignment.UpperLeft);
        plot.Legend.Orientation = Orientation.Horizontal;
        plot.Title(panel.Title);
        plot.XLabel("seconds from the cut (by send time)");
        plot.YLabel("answers per second");
        if (seconds.Count > 0) plot.Axes.SetLimitsX(seconds[0], seconds[^1] + 1);
        plot.Axes.SetLimitsY(0, Math.Max(1, panel.Streams.Max(t => t.Seconds.Count == 0 ? 0 : Enumerable.Range(0, t.Seconds.Count).Max(i => t.Ok[i] + t.Refused[i] + t.Unauthorized[i] + t.Other[i]))) * panel.Streams.Count * 1.35);
    }
}
