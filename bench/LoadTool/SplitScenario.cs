using System.Diagnostics;
using System.Globalization;
using Spectre.Console;

namespace OrleansSessions.Bench;

/// <summary>
/// split: the two deploy modes side by side in one run, on the same CPUs. deploy/local-cluster.sh starts PostgreSQL,
/// one silo (role=silo) and one API node (role=api); a co-hosted node (role=all, its own localhost cluster) runs on the
/// same PostgreSQL database. Both are seeded alike; then, for each of --rounds rounds, token whoami is measured against
/// the co-hosted node and then through the API node, and the report gives split ÷ co-hosted for requests per second and
/// the server CPU time per request (the nodes' own user + system time, read from /proc, which a busy machine changes
/// less than it changes throughput).
/// </summary>
public static class SplitScenario
{
    public sealed record Round(int Number, double CohostedRequestsPerSecond, double SplitRequestsPerSecond,
        double CohostedCpuMicrosecondsPerRequest, double SplitCpuMicrosecondsPerRequest)
    {
        public double Ratio => CohostedRequestsPerSecond > 0 ? SplitRequestsPerSecond / CohostedRequestsPerSecond : 0;
        public double CpuRatio => SplitCpuMicrosecondsPerRequest > 0 ? CohostedCpuMicrosecondsPerRequest / SplitCpuMicrosecondsPerRequest : 0;
    }

    public static async Task RunAsync(BenchRun run)
    {
        var settings = run.Settings;
        var root = Nodes.RepositoryRoot();
        var script = settings.ClusterScript ?? (root is null ? null : Path.Combine(root, "deploy", "local-cluster.sh"));
        if (script is null || !File.Exists(script))
            throw new FileNotFoundException("deploy/local-cluster.sh not found: run from the repository or give --cluster-script");
        var siloDll = settings.SpawnService ?? (root is null ? null : Path.Combine(root, "Silo", "bin", "Release", "net10.0", "OrleansSessions.Silo.dll"));
        if (siloDll is null || !File.Exists(siloDll))
            throw new FileNotFoundException("the Silo is not built: dotnet build Silo/Silo.csproj -c Release, or give --spawn-service <SILO_DLL>");
        siloDll = Path.GetFullPath(siloDll);

        // The split pair, with its own PostgreSQL (the script's), ports and state folder; a variable set in the tool's
        // environment wins, as for scale-out.
        var pgPort = SpawnedProcess.FreePort();
        var environment = new Dictionary<string, string>
        {
            ["SILOS"] = "1",
            ["STATE_DIR"] = Path.Combine(run.WorkDirectory, "cluster"),
            ["PG_PORT"] = pgPort.ToString(CultureInfo.InvariantCulture),
            ["PUBLIC_PORT"] = SpawnedProcess.FreePort().ToString(CultureInfo.InvariantCulture),
            ["ADMIN_PORT"] = SpawnedProcess.FreePort().ToString(CultureInfo.InvariantCulture),
            ["SILO_HEALTH_PORT"] = SpawnedProcess.FreePort().ToString(CultureInfo.InvariantCulture),
            ["SILO_PORT"] = SpawnedProcess.FreePort().ToString(CultureInfo.InvariantCulture),
            ["GATEWAY_PORT"] = SpawnedProcess.FreePort().ToString(CultureInfo.InvariantCulture),
            ["CLUSTER_ID"] = $"bench-{run.Report.StartedAt.UtcDateTime:HHmmss}-split",
            ["DEV"] = settings.EffectiveAdminKey is null ? "true" : "false",
            ["SILO_DLL"] = siloDll,
        };
        if (settings.EffectiveAdminKey is { } key) environment["ADMIN_KEY"] = key;
        foreach (var name in environment.Keys.ToList())
            if (Environment.GetEnvironmentVariable(name) is { Length: > 0 } own) environment[name] = own;
        var pgConnection = Environment.GetEnvironmentVariable("PG_CONNECTION") is { Length: > 0 } given
            ? given
            : $"Host=127.0.0.1;Port={environment["PG_PORT"]};Username=postgres;Database=orleans_sessions";

        var cluster = await SpawnedProcess.StartAsync("cluster-split", "bash", [script], root, environment, settings.ServerCpus,
            "Ctrl-C stops them all", TimeSpan.FromMinutes(10), run.WorkDirectory);
        run.Track(cluster);
        var splitPublic = new Uri($"http://127.0.0.1:{environment["PUBLIC_PORT"]}/");
        var splitAdmin = new Uri($"http://127.0.0.1:{environment["ADMIN_PORT"]}/");
        // The script runs the nodes as its children: their CPU time is what the split pair costs (PostgreSQL is not counted
        // for either mode; both use it alike).
        var splitNodes = SplitProcesses.DotnetDescendants(cluster.Id);

        string[] cohostedStore =
        [
            "--store:provider=postgres", $"--store:connection_string={pgConnection}", "--store:migrate_on_start=false",
            $"--orleans:cluster_id=bench-{run.Report.StartedAt.UtcDateTime:HHmmss}-cohosted",
            $"--orleans:service_id=bench-{run.Report.StartedAt.UtcDateTime:HHmmss}-cohosted",
        ];
        var (cohosted, cohostedPublic, cohostedAdmin) = await Nodes.SpawnServiceAsync(siloDll, settings.ServerCpus, run.WorkDirectory, cohostedStore,
            settings.EffectiveAdminKey);
        run.Track(cohosted);
        run.Report.Notes.Add("co-hosted: one role=all node; split: deploy/local-cluster.sh with SILOS=1 (one role=silo node, one role=api node); both on the script's PostgreSQL");

        List<Credential> cohostedCredentials, splitCredentials;
        using (var admin = run.CreateAdmin(cohostedAdmin))
        {
            await admin.WaitReadyAsync(TimeSpan.FromMinutes(1), run.Cancellation);
            cohostedCredentials = [.. (await Seeding.SeedAsync(admin, settings.Sessions, settings.SessionsPerIdentity ?? 1, cookies: false,
                settings.SeedParallelism, run.Cancellation)).SelectMany(i => i.Sessions)];
        }
        using (var admin = run.CreateAdmin(splitAdmin))
        {
            await admin.WaitReadyAsync(TimeSpan.FromMinutes(1), run.Cancellation);
            splitCredentials = [.. (await Seeding.SeedAsync(admin, settings.Sessions, settings.SessionsPerIdentity ?? 1, cookies: false,
                settings.SeedParallelism, run.Cancellation)).SelectMany(i => i.Sessions)];
        }

        var rounds = new List<Round>();
        for (var round = 1; round <= settings.Rounds; round++)
        {
            var (cohostedResult, cohostedCpu) = await MeasureAsync(run, $"co-hosted, round {round}", cohostedPublic, cohostedCredentials, [cohosted.Id]);
            var (splitResult, splitCpu) = await MeasureAsync(run, $"split, round {round}", splitPublic, splitCredentials, splitNodes);
            rounds.Add(new Round(round, cohostedResult.RequestsPerSecond, splitResult.RequestsPerSecond, cohostedCpu, splitCpu));
            AnsiConsole.MarkupLineInterpolated(CultureInfo.InvariantCulture,
                $"[bold]round {round}: split ÷ co-hosted = {rounds[^1].Ratio:0.00}[/] (req/s {splitResult.RequestsPerSecond:N0} / {cohostedResult.RequestsPerSecond:N0}; server CPU per request {splitCpu:0} / {cohostedCpu:0} µs)");
        }

        var ratios = rounds.Select(r => r.Ratio).Order().ToList();
        var median = ratios.Count % 2 == 1 ? ratios[ratios.Count / 2] : (ratios[ratios.Count / 2 - 1] + ratios[ratios.Count / 2]) / 2;
        run.Report.Details = new { rounds, median_split_over_cohosted_requests_per_second = median };
        var s = run.Report.Sections;
        s.AppendLine("## Split against co-hosted");
        s.AppendLine();
        s.AppendLine("Server CPU: user + system time of the node processes during the measured load (warm-up excluded), per answered request.");
        s.AppendLine();
        s.AppendLine("| round | co-hosted req/s | split req/s | split ÷ co-hosted | co-hosted CPU µs/req | split CPU µs/req | co-hosted ÷ split CPU per request |");
        s.AppendLine("| ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
        foreach (var r in rounds)
            s.AppendLine(CultureInfo.InvariantCulture,
                $"| {r.Number} | {r.CohostedRequestsPerSecond:0} | {r.SplitRequestsPerSecond:0} | **{r.Ratio:0.00}** | {r.CohostedCpuMicrosecondsPerRequest:0} | {r.SplitCpuMicrosecondsPerRequest:0} | {r.CpuRatio:0.00} |");
        s.AppendLine();
        s.AppendLine(CultureInfo.InvariantCulture, $"Median split ÷ co-hosted (req/s): **{median:0.00}**.");
        s.AppendLine();
        AnsiConsole.MarkupLineInterpolated(CultureInfo.InvariantCulture, $"[bold]median split ÷ co-hosted: {median:0.00}[/]");
        run.Finish();
    }

    /// <summary>One whoami load against <paramref name="target"/>; the CPU time the given node processes spent in its measured window.</summary>
    private static async Task<(LoadResult Result, double CpuMicrosecondsPerRequest)> MeasureAsync(BenchRun run, string label, Uri target,
        IReadOnlyList<Credential> credentials, IReadOnlyList<int> nodes)
    {
        var plan = run.Plan([target]);
        var window = SplitProcesses.Window(nodes, plan.Warmup, plan.Duration, run.Cancellation);
        var result = await WhoamiLoad.RunAsync(label, plan, new FixedCredentials(credentials), run.Cancellation);
        var cpu = await window;
        run.Report.Runs.Add(result);
        var answered = result.RequestsPerSecond * result.DurationSeconds;
        return (result, answered > 0 ? cpu.TotalMicroseconds / answered : 0);
    }
}

/// <summary>The split pair's processes and their CPU time over a window (read by <see cref="ProcessCpu"/>), from /proc (Linux).</summary>
public static class SplitProcesses
{
    /// <summary>The dotnet processes below <paramref name="root"/> (the cluster script's nodes).</summary>
    public static IReadOnlyList<int> DotnetDescendants(int root)
    {
        var parents = new Dictionary<int, int>();
        foreach (var directory in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(directory), out var pid)) continue;
            try
            {
                // /proc/<pid>/stat: "pid (comm) state ppid ..."; comm may hold spaces, so read after the last ')'.
                var stat = File.ReadAllText(Path.Combine(directory, "stat"));
                var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
                parents[pid] = int.Parse(fields[1], CultureInfo.InvariantCulture);
            }
            catch (IOException) { }
            catch (UnauthorizedAccessException) { }
        }
        var found = new List<int>();
        var queue = new Queue<int>([root]);
        while (queue.TryDequeue(out var parent))
            foreach (var (pid, ppid) in parents)
                if (ppid == parent)
                {
                    queue.Enqueue(pid);
                    if (Comm(pid) == "dotnet") found.Add(pid);
                }
        return found;
    }

    /// <summary>Waits out the warm-up, then answers the CPU time the processes used during the measured duration.</summary>
    public static async Task<TimeSpan> Window(IReadOnlyList<int> pids, TimeSpan warmup, TimeSpan duration, CancellationToken cancellation)
    {
        await Task.Delay(warmup, cancellation);
        var before = ProcessCpu.Sum(pids);
        var started = Stopwatch.GetTimestamp();
        await Task.Delay(duration, cancellation);
        var after = ProcessCpu.Sum(pids);
        // Scaled to the exact duration (the delay overshoots by a timer tick or so).
        var elapsed = Stopwatch.GetElapsedTime(started);
        return (after - before) * (duration / elapsed);
    }

    private static string Comm(int pid)
    {
        try { return File.ReadAllText($"/proc/{pid}/comm").Trim(); }
        catch (IOException) { return ""; }
    }
}
