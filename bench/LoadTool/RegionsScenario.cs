using System.Diagnostics;
using System.Globalization;
using System.Net;
using HdrHistogram;
using Spectre.Console;

namespace OrleansSessions.Bench;

/// <summary>
/// regions: what several regions give and promise, measured on a running deployment (deploy/local-regions.sh, or
/// --region and --link). Four parts, each optional (--parts):
/// <list type="number">
/// <item>steady: every region seeded through its own admin API, then closed-loop whoami in all regions at once, each
/// region's load presenting the sessions of every region (so most of its lookups are away from their home, held in
/// memory after the pre-warm); then the first region alone on its own sessions, on the same CPUs, for comparison.</item>
/// <item>first: fresh sessions issued in one region and looked up at once everywhere: what the read from the home
/// region's database costs, beside the links' one-way delay.</item>
/// <item>revoke: under open-loop load in every region, a session issued in one region, seen live everywhere,
/// revoked through one region (its home or not), and from the acknowledgement every region polled until it answers
/// 401. The acknowledging region must never answer 200 after the ack.</item>
/// <item>cut: both links between two regions cut for the lease and more; what each region answers for the other's
/// sessions second by second (200 from memory within the lease, 503 after it), revocations made during the cut, and
/// how long after the restore the cut-off region answers 401 for them.</item>
/// </list>
/// </summary>
public static class RegionsScenario
{
    /// <summary>How long a probe waits for one answer; a region that does not answer in this time counts a failure.</summary>
    private static readonly TimeSpan ProbeTimeout = TimeSpan.FromSeconds(10);
    /// <summary>Pause between two polls of one region while waiting for a 401: tight, yet not a busy loop on two cores.</summary>
    private static readonly TimeSpan PollGap = TimeSpan.FromMilliseconds(2);
    /// <summary>A region that still answers 200 this long after the ack is given up on (and the round says so).</summary>
    private static readonly TimeSpan GiveUpAfter = TimeSpan.FromSeconds(15);
    /// <summary>The margin of the revocation target on top of the link's one-way delay: apply, change feed, silos.</summary>
    private static readonly TimeSpan ApplyMargin = TimeSpan.FromMilliseconds(100);
    /// <summary>cut: seconds of probes before the cut (the baseline second), and when the revocations go out after it.</summary>
    private static readonly TimeSpan BeforeCut = TimeSpan.FromSeconds(3);
    private static readonly TimeSpan RevokeAfterCut = TimeSpan.FromSeconds(2);
    /// <summary>cut: each probe stream asks this often; after the restore, probes go on until the catch-up and this much more.</summary>
    private static readonly TimeSpan ProbeInterval = TimeSpan.FromMilliseconds(40);
    private static readonly TimeSpan AfterCatchUp = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan CatchUpLimit = TimeSpan.FromSeconds(90);
    private const int LiveProbeSessions = 100;

    public static async Task RunAsync(BenchRun run)
    {
        var settings = run.Settings;
        RegionPartsList.TryParse(settings.Parts, out var parts, out _);
        var specs = RegionSpec.ParseAll(settings.Regions);
        var links = LinkSpec.ParseAll(settings.Links, specs);
        var regions = specs.Select(s => new Region(s, [.. s.Admin.Select(a => run.CreateAdmin(a))])).ToList();
        using var control = new LinkControl();
        using var probe = new WhoamiProbe(64, ProbeTimeout);
        var details = new Details(settings.LeaseTime.TotalSeconds);
        try
        {
            await CheckReachableAsync(regions, run.Cancellation);
            var needLinks = (parts & (RegionParts.First | RegionParts.Revoke | RegionParts.Cut)) != 0;
            details.Links = await ReadLinksAsync(run, control, links, needLinks);

            if ((parts & (RegionParts.Steady | RegionParts.Revoke | RegionParts.Cut)) != 0)
                await SeedAsync(run, regions, probe);
            if (parts.HasFlag(RegionParts.Steady))
                details.Steady = await SteadyAsync(run, regions);
            if (parts.HasFlag(RegionParts.First))
            {
                // The links count the connections they carried: a first lookup that finds no idle connection to the
                // home region's database opens one, and pays its handshakes over the link (several round trips).
                var before = await Task.WhenAll(links.Select(l => control.ReadAsync(l, run.Cancellation)));
                details.First = await FirstLookupsAsync(run, regions, probe, details.Links);
                var after = await Task.WhenAll(links.Select(l => control.ReadAsync(l, run.Cancellation)));
                details.FirstLookupConnections = links.Select((l, i) => new LinkConnections(l.From, l.To, after[i].Connections - before[i].Connections)).ToList();
            }
            if (parts.HasFlag(RegionParts.Revoke))
                details.Revoke = await RevocationsAsync(run, regions, probe, details.Links);
            if (parts.HasFlag(RegionParts.Cut))
                details.Cut = await CutAsync(run, regions, links, control, probe);
            details.Codes = regions.ToDictionary(r => r.Name, r => r.Code?.ToString() ?? "?");
        }
        finally
        {
            foreach (var region in regions)
                foreach (var admin in region.Admins) admin.Dispose();
        }

        Directory.CreateDirectory(run.OutDirectory);
        var chart = Path.Combine(run.OutDirectory, run.Report.FileStem + ".png");
        RegionsReport.Draw(chart, details, settings);
        details.Chart = Path.GetFileName(chart);
        run.Report.Details = details;
        RegionsReport.Write(run.Report, details, settings);
        run.Finish();
    }

    /// <summary>One region as the scenario uses it: its admin APIs, the sessions seeded there, the code its tokens carry.</summary>
    public sealed class Region(RegionSpec spec, AdminApi[] admins)
    {
        private int _nextAdmin = -1;
        private int _nextPublic = -1;

        public RegionSpec Spec { get; } = spec;
        public string Name => Spec.Name;
        public AdminApi[] Admins { get; } = admins;
        public char? Code { get; set; } = spec.Code;
        public List<Credential> Seeded { get; } = [];

        /// <summary>Calls spread over the region's nodes, as a regional load balancer would.</summary>
        public AdminApi NextAdmin() => Admins[(int)((uint)Interlocked.Increment(ref _nextAdmin) % (uint)Admins.Length)];
        public Uri NextPublic() => Spec.Public[(int)((uint)Interlocked.Increment(ref _nextPublic) % (uint)Spec.Public.Count)];

        /// <summary>Learns the region's token code from a token it issued, or checks it against the one given.</summary>
        public void CheckCode(Credential credential)
        {
            var token = credential.RawValue;
            if (token.Length < 8 || !token.StartsWith("ory_st_", StringComparison.Ordinal))
                throw new InvalidOperationException($"region {Name} issued a token without the ory_st_ prefix: is it a node of OrleansSessions with regions:name set?");
            var code = token[7];
            if (Code is null) Code = code;
            else if (Code != code)
                throw new InvalidOperationException($"region {Name} issued a token of region code '{code}', not '{Code}': do the URLs of --region {Name} point at that region's nodes?");
        }
    }

    // ------------------------------------------------------------------------------------------------------------
    // Before anything: every node answers, every link is read.

    private static async Task CheckReachableAsync(IReadOnlyList<Region> regions, CancellationToken cancellation)
    {
        using var http = new HttpClient(new SocketsHttpHandler { UseCookies = false, UseProxy = false }) { Timeout = TimeSpan.FromSeconds(5) };
        var checks = regions.SelectMany(r => r.Spec.Public.Select(u => (Region: r.Name, Surface: "public", Url: u))
            .Concat(r.Spec.Admin.Select(u => (Region: r.Name, Surface: "admin", Url: u))));
        var problems = await Task.WhenAll(checks.Select(async check =>
        {
            try
            {
                using var response = await http.GetAsync(new Uri(check.Url, "/health/ready"), cancellation);
                return response.IsSuccessStatusCode ? null : $"region {check.Region}: {check.Surface} {check.Url} answers {(int)response.StatusCode} on /health/ready (not ready)";
            }
            catch (Exception exception) when (exception is HttpRequestException or TaskCanceledException && !cancellation.IsCancellationRequested)
            {
                return $"region {check.Region}: {check.Surface} {check.Url} does not answer ({exception.Message})";
            }
        }));
        var failed = problems.Where(p => p is not null).ToList();
        if (failed.Count > 0)
            throw new InvalidOperationException(string.Join(Environment.NewLine, failed)
                + $"{Environment.NewLine}Is the deployment running (deploy/local-regions.sh prints its endpoints when ready)? Otherwise give each region with --region.");
        AnsiConsole.MarkupLineInterpolated($"[grey]{regions.Count} regions ready: {string.Join(", ", regions.Select(r => $"{r.Name} ({r.Spec.Public.Count} public, {r.Spec.Admin.Count} admin)"))}[/]");
    }

    /// <summary>Each link's delay and state; a link left cut (by an earlier run stopped hard) is restored first, and said.</summary>
    private static async Task<List<LinkFigures>> ReadLinksAsync(BenchRun run, LinkControl control, IReadOnlyList<LinkSpec> links, bool required)
    {
        var read = new List<LinkFigures>();
        foreach (var link in links)
        {
            LinkState state;
            try
            {
                state = await control.ReadAsync(link, run.Cancellation);
            }
            catch (HttpRequestException) when (!required)
            {
                run.Report.Notes.Add($"link {link.Name}: control endpoint {link.Control} not reachable; its delay is not reported");
                continue;
            }
            if (state.Cut)
            {
                state = await control.RestoreAsync(link, run.Cancellation);
                run.Report.Notes.Add($"link {link.Name} was cut when the run started (an earlier run stopped before restoring it?): restored");
                AnsiConsole.MarkupLineInterpolated($"[yellow]link {link.Name} was cut: restored[/]");
            }
            read.Add(new LinkFigures(link.From, link.To, state.DelayMs));
        }
        if (read.Count > 0)
            AnsiConsole.MarkupLineInterpolated($"[grey]links: {string.Join(", ", read.Select(l => $"{l.From}->{l.To} {l.DelayMs:0.#} ms"))}[/]");
        return read;
    }

    /// <summary>
    /// The one-way delay from <paramref name="home"/>'s database to <paramref name="asking"/>: what <paramref name="asking"/>'s
    /// connections to <paramref name="home"/> (its reads there, its subscription to it) go through is the link asking -> home.
    /// </summary>
    private static double? OneWayMs(IReadOnlyList<LinkFigures> links, string asking, string home) =>
        asking == home ? 0 : links.FirstOrDefault(l => l.From == asking && l.To == home)?.DelayMs;

    // ------------------------------------------------------------------------------------------------------------
    // Seeding: through each region's own admin API, so each region owns its sessions and identities.

    private static async Task SeedAsync(BenchRun run, IReadOnlyList<Region> regions, WhoamiProbe probe)
    {
        var settings = run.Settings;
        foreach (var region in regions)
        {
            AnsiConsole.MarkupLineInterpolated($"[blue]seeding {settings.Sessions} sessions in {region.Name}[/]");
            var identities = await Seeding.SeedAsync(region.Admins, settings.Sessions, settings.SessionsPerIdentity ?? 1, cookies: false,
                settings.SeedParallelism, run.Cancellation);
            region.Seeded.AddRange(identities.SelectMany(i => i.Sessions));
            foreach (var credential in region.Seeded) region.CheckCode(credential);
        }
        var sameCode = regions.GroupBy(r => r.Code).FirstOrDefault(g => g.Count() > 1);
        if (sameCode is not null)
            throw new InvalidOperationException($"regions {string.Join(" and ", sameCode.Select(r => r.Name))} issue tokens of the same code '{sameCode.Key}': two --region options point at the same region?");

        // Every region looks up every seeded session once: the sessions of other regions are read (from the local
        // replica, or from their home database if not replicated yet) and held, so that the measured load is the
        // steady state. Anything but 200 here is a finding of its own.
        var all = Interleave(regions.Select(r => r.Seeded));
        var started = Stopwatch.GetTimestamp();
        var counts = await Task.WhenAll(regions.Select(region => LookUpAllAsync(probe, region, all, run.Cancellation)));
        for (var i = 0; i < regions.Count; i++)
        {
            var notOk = counts[i].Where(kv => kv.Key != "200").ToList();
            if (notOk.Count > 0)
                run.Report.Notes.Add($"pre-warm: {regions[i].Name} answered {string.Join(", ", notOk.Select(kv => $"{kv.Value} × {kv.Key}"))} of {all.Count} seeded sessions (expected 200 for all)");
        }
        AnsiConsole.MarkupLineInterpolated($"[grey]pre-warm: every region looked up all {all.Count} seeded sessions in {Stopwatch.GetElapsedTime(started).TotalSeconds:0.0} s[/]");
    }

    private static async Task<Dictionary<string, long>> LookUpAllAsync(WhoamiProbe probe, Region asking, IReadOnlyList<Credential> credentials, CancellationToken cancellation)
    {
        var counts = new Dictionary<string, long>();
        await Parallel.ForEachAsync(credentials, new ParallelOptions { MaxDegreeOfParallelism = 16, CancellationToken = cancellation }, async (credential, token) =>
        {
            var answer = await probe.AskAsync(asking.NextPublic(), credential, token);
            lock (counts) counts[answer.Kind] = counts.GetValueOrDefault(answer.Kind) + 1;
        });
        return counts;
    }

    /// <summary>Round-robin over the lists, so that a worker walking it meets every region's sessions in turn.</summary>
    private static List<Credential> Interleave(IEnumerable<IReadOnlyList<Credential>> lists)
    {
        var sources = lists.Where(l => l.Count > 0).ToList();
        var result = new List<Credential>(sources.Sum(l => l.Count));
        for (var i = 0; result.Count < result.Capacity; i++)
            foreach (var list in sources)
                if (i < list.Count) result.Add(list[i]);
        return result;
    }

    // ------------------------------------------------------------------------------------------------------------
    // Part steady.

    private static async Task<SteadyFigures> SteadyAsync(BenchRun run, IReadOnlyList<Region> regions)
    {
        var settings = run.Settings;
        // In each region two loads run side by side on the same nodes: one on the region's own sessions, one on the
        // others' (a share of the workers in proportion to the sessions). Same nodes, same moment, same CPUs: their
        // latencies compare home with away directly, and their sum is the region's load.
        var homeWorkers = Math.Max(1, (int)Math.Round(settings.Concurrency / (double)regions.Count));
        var awayWorkers = Math.Max(1, settings.Concurrency - homeWorkers);
        var plans = regions.Select(region =>
        {
            var plan = run.Plan(region.Spec.Public) with { Rate = 0, Quiet = true };
            var others = Interleave(regions.Where(r => r != region).Select(r => r.Seeded));
            return (Region: region,
                Home: WhoamiLoad.RunAsync($"{region.Name}: its own sessions", plan with { Concurrency = homeWorkers }, Mixed(region.Seeded), run.Cancellation),
                Away: WhoamiLoad.RunAsync($"{region.Name}: other regions' sessions", plan with { Concurrency = awayWorkers }, Mixed(others), run.Cancellation));
        }).ToList();
        var mixedUsage = WindowAsync(run, regions);
        await ClockAsync($"whoami in all {regions.Count} regions at once, {homeWorkers} + {awayWorkers} workers each",
            settings.WarmupTime + settings.DurationTime, Task.WhenAll(plans.SelectMany(p => new[] { p.Home, p.Away })), run.Cancellation);

        var rows = new List<SteadyRegion>();
        foreach (var (region, homeTask, awayTask) in plans)
        {
            var home = await homeTask;
            var away = await awayTask;
            var both = Combine($"{region.Name}: all", home, away);
            run.Report.Runs.Add(both);
            run.Report.Runs.Add(home);
            run.Report.Runs.Add(away);
            rows.Add(new SteadyRegion(region.Name, both.RequestsPerSecond, both.LatencyMicroseconds, both.Errors,
                home.RequestsPerSecond, home.LatencyMicroseconds, away.RequestsPerSecond, away.LatencyMicroseconds));
        }

        // Every region at once again, each on its own sessions only: the same processes busy as above, so the
        // difference to the run above is what lookups away from home cost, and the difference to the run below what
        // running three regions' processes on these CPUs costs.
        var ownOnly = regions.Select(region => WhoamiLoad.RunAsync($"{region.Name}: own sessions only, all regions at once",
            run.Plan(region.Spec.Public) with { Rate = 0, Quiet = true }, Mixed(region.Seeded), run.Cancellation)).ToList();
        var ownUsage = WindowAsync(run, regions);
        await ClockAsync($"whoami in all {regions.Count} regions at once, each on its own sessions only", settings.WarmupTime + settings.DurationTime,
            Task.WhenAll(ownOnly), run.Cancellation);
        var ownRows = new List<OwnOnlyRegion>();
        for (var i = 0; i < regions.Count; i++)
        {
            var result = await ownOnly[i];
            run.Report.Runs.Add(result);
            ownRows.Add(new OwnOnlyRegion(regions[i].Name, result.RequestsPerSecond, result.LatencyMicroseconds, result.Errors));
        }

        // The comparison: the first region alone, on its own sessions only, with as many requests in flight as all the
        // regions had together, on the same CPUs (the other regions idle but running).
        var first = regions[0];
        var alonePlan = run.Plan(first.Spec.Public) with { Rate = 0, Concurrency = settings.Concurrency * regions.Count };
        var aloneLoad = WhoamiLoad.RunAsync($"{first.Name} alone, its own sessions (one-region comparison)", alonePlan, Mixed(first.Seeded), run.Cancellation);
        var aloneUsage = WindowAsync(run, regions);
        var alone = await aloneLoad;
        run.Report.Runs.Add(alone);
        var usage = new List<WindowUsageFigures>
        {
            (await mixedUsage).For("all regions, every region's sessions", rows.Sum(r => r.RequestsPerSecond)),
            (await ownUsage).For("all regions, own sessions only", ownRows.Sum(r => r.RequestsPerSecond)),
            (await aloneUsage).For($"{first.Name} alone", alone.RequestsPerSecond),
        };
        var figures = new SteadyFigures(homeWorkers, awayWorkers, rows, rows.Sum(r => r.RequestsPerSecond), ownRows, ownRows.Sum(r => r.RequestsPerSecond),
            first.Name, alonePlan.Concurrency, alone.RequestsPerSecond, alone.LatencyMicroseconds, alone.Errors, usage);
        foreach (var row in rows)
            AnsiConsole.MarkupLineInterpolated(
                $"[grey]{row.Region}: {row.RequestsPerSecond:N0} req/s, own sessions p50 {Report.Ms(row.Home.P50)} p99 {Report.Ms(row.Home.P99)} ms, others' p50 {Report.Ms(row.Away.P50)} p99 {Report.Ms(row.Away.P99)} ms[/]");
        AnsiConsole.MarkupLineInterpolated($"[grey]all regions {figures.TotalRequestsPerSecond:N0} req/s (own sessions only: {figures.OwnOnlyTotalRequestsPerSecond:N0}); {first.Name} alone {alone.RequestsPerSecond:N0} req/s, p99 {Report.Ms(alone.LatencyMicroseconds.P99)} ms[/]");
        return figures;
    }

    /// <summary>
    /// Reads every node's counters at the end of a load's warm-up and at the end of its window (the load started just
    /// now); a region whose nodes do not all answer their metrics is left out of the figures.
    /// </summary>
    private static async Task<WindowCounters> WindowAsync(BenchRun run, IReadOnlyList<Region> regions)
    {
        using var http = new HttpClient(new SocketsHttpHandler { UseCookies = false, UseProxy = false }) { Timeout = TimeSpan.FromSeconds(5) };
        if (run.Settings.EffectiveAdminKey is { } key) http.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", key);
        await Task.Delay(run.Settings.WarmupTime, run.Cancellation);
        var before = await CountersAsync(http, regions, run.Cancellation);
        var started = Stopwatch.GetTimestamp();
        await Task.Delay(run.Settings.DurationTime, run.Cancellation);
        var after = await CountersAsync(http, regions, run.Cancellation);
        return new WindowCounters(Stopwatch.GetElapsedTime(started).TotalSeconds, before, after);
    }

    private static async Task<Dictionary<string, NodeCounters>> CountersAsync(HttpClient http, IReadOnlyList<Region> regions, CancellationToken cancellation)
    {
        var read = await Task.WhenAll(regions.Select(async region =>
        {
            var nodes = await Task.WhenAll(region.Spec.Admin.Select(async admin =>
            {
                try { return ParseCounters(await http.GetStringAsync(new Uri(admin, "/admin/metrics"), cancellation)); }
                catch (Exception exception) when (exception is HttpRequestException or TaskCanceledException && !cancellation.IsCancellationRequested) { return null; }
            }));
            return nodes.Any(n => n is null) ? null
                : new NodeCounters(nodes.Sum(n => n!.CpuSeconds), nodes.Sum(n => n!.StoreReads), nodes.Sum(n => n!.RemoteCalls), nodes.Sum(n => n!.WhoamiServed));
        }));
        return regions.Select((r, i) => (r.Name, Counters: read[i])).Where(x => x.Counters is not null).ToDictionary(x => x.Name, x => x.Counters!);
    }

    /// <summary>A node's CPU seconds, its reads of sessions and identities by key (from memory, whoami makes none), its remote grain calls.</summary>
    public static NodeCounters ParseCounters(string metrics)
    {
        double cpu = 0, reads = 0;
        foreach (var raw in metrics.AsSpan().EnumerateLines())
        {
            if (raw.IsEmpty || raw[0] == '#') continue;
            var line = raw.ToString();
            var value = double.TryParse(line.AsSpan(line.LastIndexOf(' ') + 1), NumberStyles.Float, CultureInfo.InvariantCulture, out var v) ? v : 0;
            if (line.StartsWith("dotnet_process_cpu_time_seconds_total", StringComparison.Ordinal)) cpu += value;
            else if (line.StartsWith("orleans_sessions_store_duration_seconds_count", StringComparison.Ordinal)
                     && (line.Contains("operation=\"FindSessionByLookupKey\"", StringComparison.Ordinal) || line.Contains("operation=\"FindIdentity\"", StringComparison.Ordinal)))
                reads += value;
        }
        // Grain calls to another silo and whoami served, as scale-out counts them (NodeSample).
        var sample = NodeSample.Parse(metrics);
        return new NodeCounters(cpu, reads, sample.RemoteRequests, sample.WhoamiServed);
    }

    /// <summary>
    /// The credentials in a fixed random order. WhoamiLoad moves each worker to the next credential and the next node
    /// in step, and seeding issues identity i through node i mod n (its session grain placed there): in seeded order a
    /// worker can meet every session on its own node, or never, depending on where its cursor starts (with 2 nodes,
    /// 2000 sessions and 16 workers every call was local, with 5 workers 3 in 5). Shuffled, every load makes the share
    /// of remote grain calls that a load balancer would, about (n-1)/n, and runs compare.
    /// </summary>
    private static FixedCredentials Mixed(IEnumerable<Credential> credentials)
    {
        var shuffled = credentials.ToArray();
        new Random(20261207).Shuffle(shuffled);
        return new FixedCredentials(shuffled);
    }

    /// <summary>Two loads that ran at the same time on the same nodes, as one: counts added, histograms merged.</summary>
    private static LoadResult Combine(string label, LoadResult a, LoadResult b)
    {
        var histogram = new LongHistogram(WorkerTally.HighestMicroseconds, 3);
        if (a.Histogram is { } ha) histogram.Add(ha);
        if (b.Histogram is { } hb) histogram.Add(hb);
        static Dictionary<string, long> Add(IReadOnlyDictionary<string, long> x, IReadOnlyDictionary<string, long> y)
        {
            var sum = new Dictionary<string, long>(x);
            foreach (var (key, value) in y) sum[key] = sum.GetValueOrDefault(key) + value;
            return sum;
        }
        return new LoadResult(label, a.Mode, a.Concurrency + b.Concurrency, null, a.DurationSeconds, a.Requests + b.Requests,
            a.RequestsPerSecond + b.RequestsPerSecond, Latencies.Of(histogram), Add(a.Statuses, b.Statuses), a.Errors + b.Errors,
            Add(a.ErrorsByKind, b.ErrorsByKind), 0, a.OpenLoopRequestsNotSent + b.OpenLoopRequestsNotSent) { Histogram = histogram };
    }

    /// <summary>A progress bar by the clock, for loads that run quietly side by side.</summary>
    private static async Task ClockAsync(string label, TimeSpan expected, Task running, CancellationToken cancellation)
    {
        await AnsiConsole.Progress()
            .AutoClear(false)
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new ElapsedTimeColumn())
            .StartAsync(async progress =>
            {
                var task = progress.AddTask(Markup.Escape(label), maxValue: expected.TotalSeconds);
                var started = Stopwatch.GetTimestamp();
                while (!running.IsCompleted)
                {
                    await Task.WhenAny(running, Task.Delay(500, cancellation));
                    task.Value = Math.Min(task.MaxValue, Stopwatch.GetElapsedTime(started).TotalSeconds);
                }
                task.Value = task.MaxValue;
            });
        await running;
    }

    // ------------------------------------------------------------------------------------------------------------
    // Part first: a session issued a moment ago, looked up everywhere.

    private const string ExistingIdentity = "new session, existing identity";
    private const string NewIdentity = "new identity and session";

    private static async Task<List<FirstLookupFigures>> FirstLookupsAsync(BenchRun run, IReadOnlyList<Region> regions, WhoamiProbe probe, IReadOnlyList<LinkFigures> links)
    {
        var count = run.Settings.FirstLookups;
        var samples = new List<(string Case, string Home, string Asking, WhoamiProbe.Answer First, WhoamiProbe.Answer Second)>();
        AnsiConsole.MarkupLineInterpolated($"[blue]first lookups: {count} fresh sessions per region and case, each looked up at once in every region[/]");
        // The usual sign-in: the identity has existed for a while (replicated everywhere), its session is new. Those
        // identities are created first and given a second to replicate (the links' delay is far less).
        var identities = await Task.WhenAll(regions.Select(async home =>
        {
            var ids = new List<string>();
            for (var i = 0; i < count; i++) ids.Add(await home.NextAdmin().CreateIdentityAsync($"regions-{Guid.NewGuid():N}@example.com", run.Cancellation));
            return ids;
        }));
        await Task.Delay(TimeSpan.FromSeconds(1), run.Cancellation);
        // The regions issue side by side, each one session at a time: a lookup is timed on a box that is otherwise
        // quiet, so it shows the reads from the home region, not a queue.
        await Task.WhenAll(regions.Select(async (home, h) =>
        {
            foreach (var @case in new[] { ExistingIdentity, NewIdentity })
                for (var i = 0; i < count; i++)
                {
                    Credential credential;
                    if (@case == ExistingIdentity)
                    {
                        credential = await home.NextAdmin().IssueSessionAsync(identities[h][i], cookie: false, run.Cancellation);
                        home.CheckCode(credential);
                    }
                    else
                    {
                        // Sign-up and first use elsewhere at once: neither row has replicated, both are read from the home region.
                        credential = await IssueAsync(home, run.Cancellation);
                    }
                    var first = await Task.WhenAll(regions.Select(asking => probe.AskAsync(asking.NextPublic(), credential, run.Cancellation)));
                    // The same session again, now held in memory where it was asked: what every later lookup costs.
                    var second = await Task.WhenAll(regions.Select(asking => probe.AskAsync(asking.NextPublic(), credential, run.Cancellation)));
                    lock (samples)
                        for (var a = 0; a < regions.Count; a++) samples.Add((@case, home.Name, regions[a].Name, first[a], second[a]));
                }
        }));

        var order = regions.Select(r => r.Name).ToList();
        var figures = new List<FirstLookupFigures>();
        foreach (var pair in samples.GroupBy(s => (s.Case, s.Home, s.Asking))
                     .OrderBy(g => g.Key.Case == ExistingIdentity ? 0 : 1).ThenBy(g => order.IndexOf(g.Key.Home)).ThenBy(g => order.IndexOf(g.Key.Asking)))
        {
            var firstMs = pair.Select(p => p.First.Milliseconds).Order().ToList();
            var secondMs = pair.Select(p => p.Second.Milliseconds).Order().ToList();
            var statuses = pair.GroupBy(p => p.First.Kind).ToDictionary(g => g.Key, g => g.Count());
            figures.Add(new FirstLookupFigures(pair.Key.Case, pair.Key.Home, pair.Key.Asking, OneWayMs(links, pair.Key.Asking, pair.Key.Home), firstMs.Count,
                statuses.GetValueOrDefault("200"), statuses, Percentile(firstMs, 50), Percentile(firstMs, 99), Math.Round(firstMs[^1], 3),
                Percentile(secondMs, 50), Percentile(secondMs, 99)));
        }
        foreach (var f in figures.Where(f => f.Home != f.Asking))
            AnsiConsole.MarkupLineInterpolated($"[grey]{f.Case}, {f.Home} -> {f.Asking}: first lookup p50 {f.P50Ms:0.0} p99 {f.P99Ms:0.0} max {f.MaxMs:0.0} ms (one-way {f.OneWayMs:0.#} ms), {f.Ok}/{f.Count} answered 200[/]");
        var not200 = figures.Sum(f => f.Count - f.Ok);
        if (not200 > 0)
            run.Report.Notes.Add($"first lookups: {not200} fresh sessions did not answer 200 somewhere right after issuance (expected 200 everywhere)");
        return figures;
    }

    /// <summary>A new identity of <paramref name="home"/> with one token session, both issued through its admin API.</summary>
    private static async Task<Credential> IssueAsync(Region home, CancellationToken cancellation)
    {
        var admin = home.NextAdmin();
        var identity = await admin.CreateIdentityAsync($"regions-{Guid.NewGuid():N}@example.com", cancellation);
        var credential = await admin.IssueSessionAsync(identity, cookie: false, cancellation);
        home.CheckCode(credential);
        return credential;
    }

    // ------------------------------------------------------------------------------------------------------------
    // Part revoke: revocation visibility across regions under load.

    private static async Task<RevokeFigures> RevocationsAsync(BenchRun run, IReadOnlyList<Region> regions, WhoamiProbe probe, IReadOnlyList<LinkFigures> links)
    {
        var settings = run.Settings;
        var rounds = settings.RevokeRounds;
        var all = Interleave(regions.Select(r => r.Seeded));
        using var roundsOver = new CancellationTokenSource();
        // The window is an upper bound (each round is given the give-up time per region); the load stops with the last round.
        var window = TimeSpan.FromSeconds(rounds * (GiveUpAfter.TotalSeconds + 5) + 60);
        var loads = regions.Select(region => WhoamiLoad.RunAsync($"{region.Name}: open loop during the revocation rounds",
            run.Plan(region.Spec.Public) with { Rate = settings.RegionRate, Duration = window, Stop = roundsOver.Token, Quiet = true },
            Mixed(all), run.Cancellation)).ToList();
        AnsiConsole.MarkupLineInterpolated($"[blue]revocations: open loop of {settings.RegionRate:N0} req/s in each region; {rounds} rounds after {settings.Warmup} of warm-up[/]");
        await Task.Delay(settings.WarmupTime, run.Cancellation);

        var results = new List<RevokeRound>();
        try
        {
            for (var round = 0; round < rounds; round++)
            {
                // Every (home, revoking region) pair in turn: first each region revokes its own sessions, then its
                // neighbour's, and so on.
                var home = regions[round % regions.Count];
                var through = regions[(round % regions.Count + round / regions.Count) % regions.Count];
                var result = await RevokeRoundAsync(round + 1, home, through, regions, probe, links, run.Cancellation);
                results.Add(result);
                var worst = result.Regions.Where(r => r.Role != "acknowledging").Max(r => r.VisibleAfterMs ?? double.PositiveInfinity);
                AnsiConsole.MarkupLineInterpolated(
                    $"[grey]round {round + 1}: {home.Name} session revoked through {through.Name} ({result.Status}, {result.CallMs:0.0} ms); 401 everywhere {(double.IsInfinity(worst) ? "never (gave up)" : $"{worst:0.0} ms")} after the ack; 200 after the ack in {through.Name}: {result.Regions.Single(r => r.Role == "acknowledging").Answered200AfterAck}[/]");
                await Task.Delay(250, run.Cancellation);
            }
        }
        finally
        {
            await roundsOver.CancelAsync();
        }
        foreach (var load in loads) run.Report.Runs.Add(await load);

        var observed = results.SelectMany(r => r.Regions.Where(v => v.Role != "acknowledging").Select(v => (Round: r, View: v))).ToList();
        RevokeSummary Summarize(string label, IEnumerable<(RevokeRound Round, RegionVisibility View)> rows)
        {
            var list = rows.ToList();
            var visible = list.Where(x => x.View.VisibleAfterMs is not null).Select(x => x.View.VisibleAfterMs!.Value).Order().ToList();
            return new RevokeSummary(label, list.Count, visible.Count, Percentile(visible, 50), Percentile(visible, 99), visible.Count == 0 ? null : visible[^1],
                list.Count == 0 ? null : list.Max(x => x.View.BoundMs), list.Count(x => x.View.VisibleAfterMs is { } v && v > x.View.BoundMs),
                list.Sum(x => x.View.Answered200AfterBound));
        }
        var byRegion = regions.Select(region => Summarize(region.Name, observed.Where(x => x.View.Region == region.Name))).ToList();
        var byRole = new[]
        {
            Summarize("home region, revoked elsewhere", observed.Where(x => x.View.Role == "home")),
            Summarize("third region, revoked in the home region", observed.Where(x => x.View.Role == "other" && x.Round.Home == x.Round.RevokedThrough)),
            Summarize("third region, revoked in another region", observed.Where(x => x.View.Role == "other" && x.Round.Home != x.Round.RevokedThrough)),
        }.Where(s => s.Observations > 0).ToList();
        var overall = Summarize("overall", observed);
        var acknowledging = results.Sum(r => r.Regions.Single(v => v.Role == "acknowledging").Answered200AfterAck);
        var calls = results.Select(r => r.CallMs).Order().ToList();
        var homeCalls = results.Where(r => r.Home == r.RevokedThrough).Select(r => r.CallMs).Order().ToList();
        var awayCalls = results.Where(r => r.Home != r.RevokedThrough).Select(r => r.CallMs).Order().ToList();
        return new RevokeFigures(settings.RegionRate, results, byRegion, byRole, overall, acknowledging,
            Percentile(homeCalls, 50), Percentile(homeCalls, 99), Percentile(awayCalls, 50), Percentile(awayCalls, 99), calls.Count == 0 ? null : calls[^1]);
    }

    private static async Task<RevokeRound> RevokeRoundAsync(int number, Region home, Region through, IReadOnlyList<Region> regions, WhoamiProbe probe,
        IReadOnlyList<LinkFigures> links, CancellationToken cancellation)
    {
        var credential = await IssueAsync(home, cancellation);
        // Live everywhere first, so that every region holds it: the revocation has to reach what each region holds.
        var notLive = (await Task.WhenAll(regions.Select(r => UntilAsync(probe, r, credential, 200, TimeSpan.FromSeconds(5), cancellation))))
            .Count(answer => answer.Status != 200);

        var started = Stopwatch.GetTimestamp();
        var status = await through.NextAdmin().RevokeSessionAsync(credential.SessionId, cancellation);
        var acked = Stopwatch.GetTimestamp();
        credential.MarkRevoked(acked);
        var views = await Task.WhenAll(regions.Select(async region =>
        {
            var role = region == through ? "acknowledging" : region == home ? "home" : "other";
            // The target: the region that acknowledged at once; any other within the one-way delay from the home
            // region plus the margin (the home region itself reads the change from its own database).
            var bound = role == "acknowledging" ? 0 : (OneWayMs(links, region.Name, home.Name) ?? 0) + ApplyMargin.TotalMilliseconds;
            return await PollUntilRevokedAsync(probe, region, credential, acked, role, bound, cancellation);
        }));
        return new RevokeRound(number, home.Name, through.Name, (int)status, Math.Round(Stopwatch.GetElapsedTime(started, acked).TotalMilliseconds, 3), notLive, [.. views]);
    }

    /// <summary>Asks <paramref name="region"/> until it answers <paramref name="status"/> or <paramref name="limit"/> passes; the last answer.</summary>
    private static async Task<WhoamiProbe.Answer> UntilAsync(WhoamiProbe probe, Region region, Credential credential, int status, TimeSpan limit, CancellationToken cancellation)
    {
        var started = Stopwatch.GetTimestamp();
        while (true)
        {
            var answer = await probe.AskAsync(region.NextPublic(), credential, cancellation);
            if (answer.Status == status || Stopwatch.GetElapsedTime(started) > limit) return answer;
            await Task.Delay(PollGap, cancellation);
        }
    }

    private static async Task<RegionVisibility> PollUntilRevokedAsync(WhoamiProbe probe, Region region, Credential credential, long acked, string role,
        double boundMs, CancellationToken cancellation)
    {
        int polls = 0, ok = 0, okAfterBound = 0;
        var others = new Dictionary<string, int>();
        double? visible = null;
        while (Stopwatch.GetElapsedTime(acked) < GiveUpAfter)
        {
            var answer = await probe.AskAsync(region.NextPublic(), credential, cancellation);
            polls++;
            var after = (answer.AnsweredAt - acked) * 1000.0 / Stopwatch.Frequency;
            if (answer.Status == 401)
            {
                // The answer's arrival: an upper bound of when the region had it (the poll before said 200).
                visible = Math.Round(after, 3);
                break;
            }
            if (answer.Status == 200)
            {
                ok++;
                if (after > boundMs) okAfterBound++;
            }
            else others[answer.Kind] = others.GetValueOrDefault(answer.Kind) + 1;
            await Task.Delay(PollGap, cancellation);
        }
        return new RegionVisibility(region.Name, role, visible, Math.Round(boundMs, 1), polls, ok, role == "acknowledging" ? ok : okAfterBound, others);
    }

    // ------------------------------------------------------------------------------------------------------------
    // Part cut.

    private static async Task<CutFigures> CutAsync(BenchRun run, IReadOnlyList<Region> regions, IReadOnlyList<LinkSpec> links, LinkControl control, WhoamiProbe probe)
    {
        var settings = run.Settings;
        var (specA, specB) = settings.Cut is { } pair ? RegionSpec.ParsePair(pair, [.. regions.Select(r => r.Spec)]) : (regions[0].Spec, regions[1].Spec);
        var a = regions.Single(r => r.Spec == specA);
        var b = regions.Single(r => r.Spec == specB);
        var others = regions.Where(r => r != a && r != b).ToList();
        var cut = new[] { Link(links, a, b), Link(links, b, a) };
        var lease = settings.LeaseTime;
        var cutFor = lease + settings.CutExtraTime;
        if (a.Seeded.Count < settings.CutRevocations + 1 || b.Seeded.Count < 1)
            throw new InvalidOperationException($"cut: {a.Name} needs more seeded sessions than --cut-revocations ({settings.CutRevocations}): raise --sessions");

        // The sessions asked about: some of A's to revoke during the cut, some of A's and B's that stay live.
        var revoked = a.Seeded.Take(settings.CutRevocations).ToList();
        var aLive = a.Seeded.Skip(settings.CutRevocations).Take(LiveProbeSessions).ToList();
        var bLive = b.Seeded.Take(LiveProbeSessions).ToList();
        var streams = new List<ProbeStream>
        {
            new($"{b.Name} asks {a.Name}'s sessions", b, a, aLive, kind: "across the cut"),
            new($"{b.Name} asks {a.Name}'s sessions revoked in the cut", b, a, revoked, kind: "across the cut, revoked"),
            new($"{a.Name} asks {b.Name}'s sessions", a, b, bLive, kind: "across the cut"),
            new($"{a.Name} asks its sessions revoked in the cut", a, a, revoked, kind: "home, revoked"),
            new($"{a.Name} asks its own sessions", a, a, aLive, kind: "home"),
            new($"{b.Name} asks its own sessions", b, b, bLive, kind: "home"),
        };
        foreach (var other in others)
        {
            streams.Add(new($"{other.Name} asks {a.Name}'s sessions", other, a, aLive, kind: "third region"));
            streams.Add(new($"{other.Name} asks {b.Name}'s sessions", other, b, bLive, kind: "third region"));
            streams.Add(new($"{other.Name} asks {a.Name}'s sessions revoked in the cut", other, a, revoked, kind: "third region, revoked"));
        }
        // Every asked session is held where it is asked before the cut: the cut then shows serving from memory.
        var warm = await Task.WhenAll(streams.Select(s => LookUpAllAsync(probe, s.Asking, s.Credentials, run.Cancellation)));
        var notLive = warm.Sum(w => w.Where(kv => kv.Key != "200").Sum(kv => kv.Value));
        if (notLive > 0) run.Report.Notes.Add($"cut: {notLive} lookups before the cut did not answer 200 (expected 200)");

        AnsiConsole.MarkupLineInterpolated($"[blue]cut: {a.Name} <-> {b.Name} for {cutFor.TotalSeconds:0} s (lease {lease.TotalSeconds:0} s); {streams.Count} probe streams of {1000 / ProbeInterval.TotalMilliseconds:0}/s[/]");
        var origin = Stopwatch.GetTimestamp() + (long)(BeforeCut.TotalSeconds * Stopwatch.Frequency);
        double Since(long timestamp) => (timestamp - origin) / (double)Stopwatch.Frequency;
        using var stopProbes = CancellationTokenSource.CreateLinkedTokenSource(run.Cancellation);
        var probing = streams.Select(s => s.RunAsync(probe, ProbeInterval, stopProbes.Token)).ToList();
        using var stopScraping = CancellationTokenSource.CreateLinkedTokenSource(run.Cancellation);
        var heard = new List<HeardSample>();
        var scraping = ScrapeHeardAsync(run, [(b, a), (a, b), .. others.SelectMany(o => new[] { (o, a), (o, b) })], heard, Since, stopScraping.Token);

        var events = new List<CutEvent>();
        void Event(string what, long at)
        {
            lock (events) events.Add(new CutEvent(Math.Round(Since(at), 3), what));
            AnsiConsole.MarkupLineInterpolated($"[blue]{Since(at),7:0.00} s  {what}[/]");
        }
        var revocations = new List<CutRevocation>();
        long restoredAt = 0;
        var cutStarted = false;
        var completed = false;
        try
        {
            await Task.Delay(BeforeCut, run.Cancellation);
            // Set before the calls: if one of the two fails, the other may have cut its link, and both are restored below.
            cutStarted = true;
            await Task.WhenAll(cut.Select(link => control.CutAsync(link, run.Cancellation)));
            var cutAt = Stopwatch.GetTimestamp();
            Event($"links {cut[0].Name} and {cut[1].Name} cut", cutAt);

            await Task.Delay(RevokeAfterCut, run.Cancellation);
            await Parallel.ForEachAsync(revoked, new ParallelOptions { MaxDegreeOfParallelism = 4, CancellationToken = run.Cancellation }, async (credential, token) =>
            {
                var sent = Stopwatch.GetTimestamp();
                credential.MarkRevokeStarted(sent);
                var status = await a.NextAdmin().RevokeSessionAsync(credential.SessionId, token);
                var ack = Stopwatch.GetTimestamp();
                if (status == HttpStatusCode.NoContent) credential.MarkRevoked(ack);
                lock (revocations) revocations.Add(new CutRevocation(revoked.IndexOf(credential), (int)status, Math.Round(Since(sent), 3), Math.Round(Since(ack), 3)));
            });
            Event($"{revocations.Count(r => r.Status == 204)} of {revoked.Count} {a.Name} sessions revoked in {a.Name} (acknowledged {revocations.Min(r => r.AckedAt):0.00}–{revocations.Max(r => r.AckedAt):0.00} s)", Stopwatch.GetTimestamp());
            if (revocations.Any(r => r.Status != 204))
                run.Report.Notes.Add($"cut: {revocations.Count(r => r.Status != 204)} revocations in {a.Name} during the cut did not answer 204 ({string.Join(", ", revocations.Where(r => r.Status != 204).Select(r => r.Status).Distinct())})");

            var restoreDue = cutAt + (long)(cutFor.TotalSeconds * Stopwatch.Frequency);
            var wait = Stopwatch.GetElapsedTime(Stopwatch.GetTimestamp(), restoreDue);
            if (wait > TimeSpan.Zero) await Task.Delay(wait, run.Cancellation);
            completed = true;
        }
        finally
        {
            // Whatever happened above, the links are restored: a deployment left cut answers 503 for what the cut-off
            // regions own until someone notices.
            if (cutStarted)
            {
                foreach (var link in cut)
                {
                    try { await control.RestoreAsync(link, CancellationToken.None); }
                    catch (HttpRequestException exception) { AnsiConsole.MarkupLineInterpolated($"[red]could not restore {link.Name}: {exception.Message} (POST {link.Control}restore by hand)[/]"); }
                }
                restoredAt = Stopwatch.GetTimestamp();
            }
            if (!completed)
            {
                await stopProbes.CancelAsync();
                await stopScraping.CancelAsync();
            }
        }
        Event($"links restored", restoredAt);

        // Caught up: each revoked session answers 401 in B. Polled tightly, each session on its own, from the restore.
        var caughtUp = await Task.WhenAll(revoked.Select(async credential =>
        {
            var started = Stopwatch.GetTimestamp();
            while (Stopwatch.GetElapsedTime(started) < CatchUpLimit)
            {
                var answer = await probe.AskAsync(b.NextPublic(), credential, run.Cancellation);
                if (answer.Status == 401) return (double?)Math.Round(Since(answer.AnsweredAt), 3);
                await Task.Delay(PollGap * 5, run.Cancellation);
            }
            return null;
        }));
        var allCaughtUp = caughtUp.All(c => c is not null) ? caughtUp.Max() : null;
        Event(allCaughtUp is null ? $"{b.Name} still not 401 for every revoked session after {CatchUpLimit.TotalSeconds:0} s" : $"{b.Name} answers 401 for every revoked session", allCaughtUp is { } t ? origin + (long)(t * Stopwatch.Frequency) : Stopwatch.GetTimestamp());
        await Task.Delay(AfterCatchUp, run.Cancellation);
        var probesStopped = Stopwatch.GetTimestamp();
        await stopProbes.CancelAsync();
        await Task.WhenAll(probing);
        await stopScraping.CancelAsync();
        await scraping;

        return Analyze(streams, events, revocations, heard, a.Name, b.Name, lease, Since(restoredAt), caughtUp, origin, cutFor, Since(probesStopped));
    }

    private static LinkSpec Link(IReadOnlyList<LinkSpec> links, Region from, Region to) =>
        links.FirstOrDefault(l => l.From == from.Name && l.To == to.Name)
        ?? throw new InvalidOperationException($"cut: no link {from.Name} -> {to.Name} among --link (needed to cut {from.Name} off {to.Name})");

    /// <summary>Every half second, how stale each asking region's silos find the peer (orleans_sessions_region_heard_age_seconds).</summary>
    private static async Task ScrapeHeardAsync(BenchRun run, IReadOnlyList<(Region Asking, Region Peer)> pairs, List<HeardSample> samples, Func<long, double> since,
        CancellationToken cancellation)
    {
        using var http = new HttpClient(new SocketsHttpHandler { UseCookies = false, UseProxy = false }) { Timeout = TimeSpan.FromSeconds(2) };
        if (run.Settings.EffectiveAdminKey is { } key) http.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", key);
        using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(500));
        try
        {
            do
            {
                var at = Math.Round(since(Stopwatch.GetTimestamp()), 2);
                await Task.WhenAll(pairs.Select(async pair =>
                {
                    try
                    {
                        var text = await http.GetStringAsync(new Uri(pair.Asking.Spec.Admin[0], "/admin/metrics"), cancellation);
                        if (HeardAge(text, pair.Peer.Name) is { } age)
                            lock (samples) samples.Add(new HeardSample(at, pair.Asking.Name, pair.Peer.Name, double.IsInfinity(age) ? null : Math.Round(age, 3)));
                    }
                    catch (Exception exception) when (exception is HttpRequestException or TaskCanceledException && !cancellation.IsCancellationRequested) { }
                }));
            }
            while (await timer.WaitForNextTickAsync(cancellation));
        }
        catch (OperationCanceledException) { }
    }

    /// <summary>The largest heard age of <paramref name="peer"/> over the node's silos (one here); null when the metric is absent.</summary>
    public static double? HeardAge(string metrics, string peer)
    {
        double? oldest = null;
        foreach (var raw in metrics.AsSpan().EnumerateLines())
        {
            if (!raw.StartsWith("orleans_sessions_region_heard_age")) continue;
            var line = raw.ToString();
            if (!line.Contains($"peer=\"{peer}\"", StringComparison.Ordinal)) continue;
            var value = line[(line.LastIndexOf(' ') + 1)..];
            var age = value switch
            {
                "+Inf" or "Inf" => double.PositiveInfinity,
                _ => double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var parsed) ? parsed : double.NaN,
            };
            if (!double.IsNaN(age)) oldest = Math.Max(oldest ?? double.NegativeInfinity, age);
        }
        return oldest;
    }

    private static CutFigures Analyze(List<ProbeStream> streams, List<CutEvent> events, List<CutRevocation> revocations, List<HeardSample> heard,
        string a, string b, TimeSpan lease, double restoredAt, double?[] caughtUp, long origin, TimeSpan cutFor, double stoppedAt)
    {
        double Since(long timestamp) => (timestamp - origin) / (double)Stopwatch.Frequency;
        var summaries = new List<StreamSummary>();
        var timelines = new List<StreamTimeline>();
        var violations = new List<string>();
        var first = (int)Math.Floor(-BeforeCut.TotalSeconds);
        foreach (var stream in streams)
        {
            var answers = stream.Answers;
            var seconds = new SortedDictionary<int, int[]>();
            foreach (var x in answers)
            {
                var second = (int)Math.Floor(Since(x.SentAt));
                if (!seconds.TryGetValue(second, out var counts)) seconds[second] = counts = new int[4];
                counts[x.Status switch { 200 => 0, 503 => 1, 401 => 2, _ => 3 }]++;
            }
            // The second in which the probes stopped is partial: the per-second view ends before it.
            var last = (int)Math.Floor(stoppedAt) - 1;
            var range = Enumerable.Range(first, last - first + 1).ToList();
            int[] Of(int s) => seconds.TryGetValue(s, out var c) ? c : new int[4];
            timelines.Add(new StreamTimeline(stream.Name, range, [.. range.Select(s => Of(s)[0])], [.. range.Select(s => Of(s)[1])], [.. range.Select(s => Of(s)[2])], [.. range.Select(s => Of(s)[3])]));

            // The invariant: once a revocation was acknowledged more than a lease ago, no region answers 200 for it.
            var afterLease = answers.Count(x => x.Status == 200 && x.Credential.RevokedAt is var ack and > 0
                && x.SentAt > ack + (long)(lease.TotalSeconds * Stopwatch.Frequency));
            // In the region that took it (the home region here), at once.
            var afterAck = stream.Asking.Name == a && stream.Home.Name == a
                ? answers.Count(x => x.Status == 200 && x.Credential.RevokedAt is var ack2 and > 0 && x.SentAt > ack2) : 0;
            if (afterLease > 0) violations.Add($"{stream.Name}: {afterLease} answers 200 more than the lease after the revocation's acknowledgement");
            if (afterAck > 0) violations.Add($"{stream.Name}: {afterAck} answers 200 after the acknowledgement in the region that took the revocation");

            var during = answers.Where(x => Since(x.SentAt) is var t && t >= 0 && t < restoredAt).ToList();
            var firstRefusal = during.Where(x => x.Status == 503).Select(x => (double?)Since(x.SentAt)).Min();
            var lastOk = during.Where(x => x.Status == 200).Select(x => (double?)Since(x.SentAt)).Max();
            var afterRestore = answers.Where(x => Since(x.SentAt) >= restoredAt).ToList();
            var firstOkAgain = afterRestore.Where(x => x.Status == 200).Select(x => (double?)(Since(x.SentAt) - restoredAt)).Min();
            var lastRefusal = afterRestore.Where(x => x.Status == 503).Select(x => (double?)(Since(x.SentAt) - restoredAt)).Max();
            var kinds = answers.GroupBy(x => x.Kind).OrderBy(g => g.Key, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.Count());
            summaries.Add(new StreamSummary(stream.Name, stream.Kind, stream.Asking.Name, stream.Home.Name, answers.Count,
                kinds.GetValueOrDefault("200"), kinds.GetValueOrDefault("503"), kinds.GetValueOrDefault("401"), answers.Count - kinds.GetValueOrDefault("200") - kinds.GetValueOrDefault("503") - kinds.GetValueOrDefault("401"),
                kinds, Round(lastOk), Round(firstRefusal), Round(firstOkAgain), Round(lastRefusal), afterLease, afterAck));
        }
        var caught = caughtUp.Where(c => c is not null).Select(c => c!.Value - restoredAt).Order().ToList();
        return new CutFigures(a, b, lease.TotalSeconds, cutFor.TotalSeconds, Math.Round(restoredAt, 3), events, revocations.OrderBy(r => r.Index).ToList(), summaries, timelines,
            caught.Count == caughtUp.Length && caught.Count > 0 ? Math.Round(caught[^1], 3) : null, Round(Percentile(caught, 50)),
            caughtUp.Length - caught.Count, violations, [.. heard.OrderBy(h => h.At)]);
    }

    private static double? Round(double? value) => value is { } v ? Math.Round(v, 3) : null;

    /// <summary>Nearest rank of a sorted list (with fewer than 100 values the p99 is the largest); NaN for none.</summary>
    public static double? Percentile(IReadOnlyList<double> sorted, double percentile) =>
        sorted.Count == 0 ? null : sorted[Math.Clamp((int)Math.Ceiling(percentile / 100 * sorted.Count) - 1, 0, sorted.Count - 1)];

    /// <summary>
    /// One kind of question asked again and again during the cut: one region asking about one set of sessions, at a
    /// fixed pace (a slow answer does not hold the next question back, up to 32 in flight), every answer kept with its
    /// send time.
    /// </summary>
    public sealed class ProbeStream(string name, Region asking, Region home, IReadOnlyList<Credential> credentials, string kind)
    {
        private readonly List<Probed> _answers = [];

        public string Name { get; } = name;
        public string Kind { get; } = kind;
        public Region Asking { get; } = asking;
        public Region Home { get; } = home;
        public IReadOnlyList<Credential> Credentials { get; } = credentials;

        public List<Probed> Answers
        {
            get { lock (_answers) return [.. _answers]; }
        }

        public async Task RunAsync(WhoamiProbe probe, TimeSpan interval, CancellationToken cancellation)
        {
            using var slots = new SemaphoreSlim(32);
            using var timer = new PeriodicTimer(interval);
            var inFlight = new List<Task>();
            var next = 0;
            try
            {
                while (await timer.WaitForNextTickAsync(cancellation))
                {
                    await slots.WaitAsync(cancellation);
                    var credential = Credentials[next++ % Credentials.Count];
                    inFlight.Add(Task.Run(async () =>
                    {
                        try
                        {
                            var answer = await probe.AskAsync(Asking.NextPublic(), credential, CancellationToken.None);
                            lock (_answers) _answers.Add(new Probed(answer.SentAt, answer.AnsweredAt, answer.Status, answer.Kind, credential));
                        }
                        finally
                        {
                            slots.Release();
                        }
                    }, CancellationToken.None));
                    inFlight.RemoveAll(t => t.IsCompleted);
                }
            }
            catch (OperationCanceledException) { }
            await Task.WhenAll(inFlight);
        }
    }

    public readonly record struct Probed(long SentAt, long AnsweredAt, int Status, string Kind, Credential Credential);

    // ------------------------------------------------------------------------------------------------------------
    // What the report and the JSON carry (no credential: counts, times, region names, statuses).

    public sealed class Details(double leaseSeconds)
    {
        public double LeaseSeconds { get; } = leaseSeconds;
        public Dictionary<string, string> Codes { get; set; } = [];
        public List<LinkFigures> Links { get; set; } = [];
        public SteadyFigures? Steady { get; set; }
        public List<FirstLookupFigures>? First { get; set; }
        public List<LinkConnections>? FirstLookupConnections { get; set; }
        public RevokeFigures? Revoke { get; set; }
        public CutFigures? Cut { get; set; }
        public string? Chart { get; set; }
    }

    public sealed record LinkFigures(string From, string To, double DelayMs);

    public sealed record LinkConnections(string From, string To, long Opened);

    public sealed record SteadyRegion(string Region, double RequestsPerSecond, Latencies All, long Errors,
        double HomeRequestsPerSecond, Latencies Home, double AwayRequestsPerSecond, Latencies Away);

    public sealed record OwnOnlyRegion(string Region, double RequestsPerSecond, Latencies Latency, long Errors);

    public sealed record SteadyFigures(int HomeWorkers, int AwayWorkers, List<SteadyRegion> Regions, double TotalRequestsPerSecond,
        List<OwnOnlyRegion> OwnOnly, double OwnOnlyTotalRequestsPerSecond, string AloneRegion,
        int AloneConcurrency, double AloneRequestsPerSecond, Latencies Alone, long AloneErrors, List<WindowUsageFigures> Usage);

    /// <summary>
    /// What every node given (all regions) did in one measured window: CPU time (the nodes' own
    /// dotnet_process_cpu_time_seconds_total, user and system) and reads of sessions and identities from a store.
    /// </summary>
    public sealed record WindowUsageFigures(string Run, double Seconds, double RequestsPerSecond, Dictionary<string, double> CpuCoresByRegion, double CpuCores,
        double? CpuMicrosecondsPerRequest, Dictionary<string, double> StoreReadsByRegion, double? RemoteCallShare);

    public sealed record NodeCounters(double CpuSeconds, double StoreReads, double RemoteCalls, double WhoamiServed);

    public sealed record WindowCounters(double Seconds, Dictionary<string, NodeCounters> Before, Dictionary<string, NodeCounters> After)
    {
        public WindowUsageFigures For(string run, double requestsPerSecond)
        {
            var cpu = Before.Keys.Where(After.ContainsKey).ToDictionary(k => k, k => Math.Round((After[k].CpuSeconds - Before[k].CpuSeconds) / Seconds, 3));
            var reads = Before.Keys.Where(After.ContainsKey).ToDictionary(k => k, k => After[k].StoreReads - Before[k].StoreReads);
            var cores = cpu.Values.Sum();
            var remote = Before.Keys.Where(After.ContainsKey).Sum(k => After[k].RemoteCalls - Before[k].RemoteCalls);
            var served = Before.Keys.Where(After.ContainsKey).Sum(k => After[k].WhoamiServed - Before[k].WhoamiServed);
            return new WindowUsageFigures(run, Math.Round(Seconds, 3), requestsPerSecond, cpu, Math.Round(cores, 3),
                requestsPerSecond > 0 && cpu.Count > 0 ? Math.Round(cores * 1e6 / requestsPerSecond, 1) : null, reads,
                served > 0 ? Math.Round(remote / served, 3) : null);
        }
    }

    public sealed record FirstLookupFigures(string Case, string Home, string Asking, double? OneWayMs, int Count, int Ok, Dictionary<string, int> Statuses,
        double? P50Ms, double? P99Ms, double MaxMs, double? SecondP50Ms, double? SecondP99Ms);

    public sealed record RegionVisibility(string Region, string Role, double? VisibleAfterMs, double BoundMs, int Polls, int Answered200AfterAck,
        int Answered200AfterBound, Dictionary<string, int> OtherAnswers);

    public sealed record RevokeRound(int Round, string Home, string RevokedThrough, int Status, double CallMs, int NotLiveBefore, List<RegionVisibility> Regions);

    public sealed record RevokeSummary(string Label, int Observations, int Visible, double? P50Ms, double? P99Ms, double? MaxMs, double? BoundMs, int OverBound,
        int Answered200AfterBound);

    public sealed record RevokeFigures(double RatePerRegion, List<RevokeRound> Rounds, List<RevokeSummary> ByRegion, List<RevokeSummary> ByRole, RevokeSummary Overall,
        int Answered200AfterAckInAcknowledgingRegion, double? HomeCallP50Ms, double? HomeCallP99Ms, double? AwayCallP50Ms, double? AwayCallP99Ms, double? CallMaxMs);

    public sealed record CutEvent(double At, string What);

    public sealed record CutRevocation(int Index, int Status, double SentAt, double AckedAt);

    /// <summary>AgeSeconds null: never heard since the node started.</summary>
    public sealed record HeardSample(double At, string Region, string Peer, double? AgeSeconds);

    public sealed record StreamSummary(string Stream, string Kind, string Asking, string Home, int Answers, int Ok, int Refused, int Unauthorized, int Other,
        Dictionary<string, int> Statuses, double? LastOkDuringCut, double? FirstRefusalDuringCut, double? FirstOkAfterRestore, double? LastRefusalAfterRestore,
        int Answered200AfterLease, int Answered200AfterAckInAcknowledgingRegion);

    public sealed record StreamTimeline(string Stream, List<int> Seconds, List<int> Ok, List<int> Refused, List<int> Unauthorized, List<int> Other);

    public sealed record CutFigures(string A, string B, double LeaseSeconds, double CutSeconds, double RestoredAt, List<CutEvent> Events, List<CutRevocation> Revocations,
        List<StreamSummary> Streams, List<StreamTimeline> Timelines, double? AllCaughtUpAfterRestore, double? MedianCaughtUpAfterRestore, int NeverCaughtUp,
        List<string> Violations, List<HeardSample> Heard);
}
