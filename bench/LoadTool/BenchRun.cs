using System.Diagnostics;
using System.Globalization;
using Spectre.Console;

namespace OrleansSessions.Bench;

/// <summary>
/// What every scenario shares: the settings, the nodes under test (given, or spawned and stopped at the end),
/// the admin client, the output folder and the report.
/// </summary>
public sealed class BenchRun : IAsyncDisposable
{
    private readonly List<SpawnedProcess> _spawned = [];
    private readonly List<IAsyncDisposable> _resources = [];
    private CpuGroups? _cpuGroups;
    private readonly string _loadAtStart = MachineInfo.LoadAverage();

    public BenchSettings Settings { get; }
    public Report Report { get; }
    public CancellationToken Cancellation { get; }
    /// <summary>Logs and data of spawned processes (never the results folder: logs are not reports).</summary>
    public string WorkDirectory { get; }
    public string OutDirectory { get; }
    public IReadOnlyList<Uri> Targets { get; private set; } = [];
    public Uri Admin { get; private set; } = new("http://127.0.0.1:4434/");

    public BenchRun(string scenario, BenchSettings settings, CancellationToken cancellation)
    {
        Settings = settings;
        Cancellation = cancellation;
        var started = DateTimeOffset.UtcNow;
        Report = new Report(scenario, started, DescribeSettings(scenario, settings));
        WorkDirectory = Path.Combine(Path.GetTempPath(), $"orleans-sessions-bench-{started.UtcDateTime:yyyyMMdd-HHmmss}-{scenario}");
        Directory.CreateDirectory(WorkDirectory);
        OutDirectory = settings.Out ?? Path.Combine(Nodes.RepositoryRoot() ?? Environment.CurrentDirectory, "bench", "results");
        if (settings.ClientCpus is { } cpus && CpuList.TryParse(cpus, out var mask) && (OperatingSystem.IsLinux() || OperatingSystem.IsWindows()))
        {
            Process.GetCurrentProcess().ProcessorAffinity = (nint)mask;
            // The affinity reaches the threads started from now on; taskset -a moves the runtime's existing ones too.
            if (OperatingSystem.IsLinux())
                using (var taskset = Process.Start(new ProcessStartInfo("taskset", ["-a", "-p", "-c", cpus, Environment.ProcessId.ToString(CultureInfo.InvariantCulture)])
                       { UseShellExecute = false, RedirectStandardOutput = true }))
                    taskset?.WaitForExit();
            Report.Notes.Add($"load tool pinned to CPUs {cpus}");
        }
        if ((settings.Baseline is not null || settings.SpawnBaseline) && scenario is not ("whoami" or "whoami-cookie"))
            Report.Notes.Add("the baseline is compared in whoami and whoami-cookie only: ignored here");
        if (settings.ServerCpus is { } serverCpus) Report.Notes.Add($"spawned processes pinned to CPUs {serverCpus} (taskset -c)");
    }

    public LoadPlan Plan(IReadOnlyList<Uri> targets) =>
        new(targets, Settings.Concurrency, Settings.Rate, Settings.WarmupTime, Settings.DurationTime);

    /// <summary>The service under test: spawned (--spawn-service), else --target/--admin, else the README's ports.</summary>
    public async Task UseServiceAsync()
    {
        if (Settings.SpawnService is { } dll)
        {
            var (process, publicUrl, adminUrl) = await Nodes.SpawnServiceAsync(dll, Settings.ServerCpus, WorkDirectory);
            _spawned.Add(process);
            Targets = [publicUrl];
            Admin = adminUrl;
            Report.Notes.Add("service spawned in dev mode with a fresh SQLite folder");
            return;
        }
        Targets = Settings.Targets.Length > 0 ? [.. Settings.Targets.Select(t => new Uri(t))] : [new Uri("http://127.0.0.1:4433/")];
        if (Settings.Admin is { } admin) Admin = new Uri(admin);
    }

    public AdminApi CreateAdmin(Uri? admin = null) => new(admin ?? Admin, Settings.EffectiveAdminKey, Settings.SeedParallelism);

    /// <summary>Stopped (SIGTERM) when the run ends, whatever happens.</summary>
    public void Track(SpawnedProcess process) => _spawned.Add(process);

    /// <summary>Disposed when the run ends (after the spawned processes), whatever happens; last tracked first.</summary>
    public T Track<T>(T resource) where T : IAsyncDisposable
    {
        lock (_resources) _resources.Add(resource);
        return resource;
    }

    public async Task ReleaseAsync(IAsyncDisposable resource)
    {
        lock (_resources) _resources.Remove(resource);
        await resource.DisposeAsync();
    }

    /// <summary>
    /// The run's CPU groups (created on first use, removed at the end). The tool itself moves into a group of its own
    /// without a cap, so that it shares the parent's weight (cpu.shares) against other work on the machine.
    /// </summary>
    public CpuGroups UseCpuGroups()
    {
        if (_cpuGroups is not null) return _cpuGroups;
        _cpuGroups = Track(CpuGroups.Create($"{Report.StartedAt.UtcDateTime:yyyyMMdd-HHmmss}-{Environment.ProcessId}", Settings.CpuPeriodTime, shares: 8192));
        _cpuGroups.Add("loadtool", null).Enter(Environment.ProcessId);
        Report.Notes.Add($"CPU groups under {_cpuGroups.Path} (cgroup v1 cpu controller, period {Settings.CpuPeriod}, parent cpu.shares 8192); the load tool in one without a cap");
        return _cpuGroups;
    }

    public async Task StopAsync(SpawnedProcess process)
    {
        _spawned.Remove(process);
        await process.DisposeAsync();
    }

    public void Finish()
    {
        Report.Show();
        var (markdown, json) = Report.Write(OutDirectory, _loadAtStart);
        AnsiConsole.MarkupLineInterpolated($"report: [bold]{markdown}[/]");
        AnsiConsole.MarkupLineInterpolated($"data:   [bold]{json}[/]");
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var process in Enumerable.Reverse(_spawned)) await process.DisposeAsync();
        _spawned.Clear();
        List<IAsyncDisposable> resources;
        lock (_resources) resources = [.. _resources];
        _resources.Clear();
        foreach (var resource in Enumerable.Reverse(resources)) await resource.DisposeAsync();
    }

    /// <summary>The tool's arguments, the admin key's value masked.</summary>
    private static string CommandLine()
    {
        var arguments = Environment.GetCommandLineArgs().Skip(1).ToArray();
        for (var i = 0; i < arguments.Length; i++)
        {
            if (arguments[i] == "--admin-key" && i + 1 < arguments.Length) arguments[i + 1] = "***";
            else if (arguments[i].StartsWith("--admin-key=", StringComparison.Ordinal)) arguments[i] = "--admin-key=***";
        }
        return "loadtool " + string.Join(' ', arguments);
    }

    /// <summary>The settings as the report shows them: never the admin key, only whether one was given.</summary>
    private static Dictionary<string, string> DescribeSettings(string scenario, BenchSettings s)
    {
        var described = new Dictionary<string, string>
        {
            ["scenario"] = scenario,
            ["command"] = CommandLine(),
            ["targets"] = s.SpawnService is not null ? "spawned service" : s.Targets.Length > 0 ? string.Join(", ", s.Targets) : "http://127.0.0.1:4433 (default)",
            ["admin"] = s.SpawnService is not null ? "spawned service" : s.Admin ?? "http://127.0.0.1:4434 (default)",
            ["admin key"] = s.EffectiveAdminKey is null ? "none (dev mode)" : "given (not shown)",
            ["sessions"] = s.Sessions.ToString(CultureInfo.InvariantCulture),
            ["sessions per identity"] = (s.SessionsPerIdentity ?? (scenario == "revoke-visibility" ? 10 : 1)).ToString(CultureInfo.InvariantCulture),
            ["concurrency"] = s.Concurrency.ToString(CultureInfo.InvariantCulture),
            ["rate"] = s.Rate > 0 ? $"{s.Rate}/s (open loop)" : "closed loop",
            ["warm-up"] = s.Warmup,
            ["duration"] = s.Duration,
        };
        if (s.Baseline is not null || s.SpawnBaseline) described["baseline"] = s.Baseline ?? "spawned";
        if (s.SpawnService is not null) described["service dll"] = s.SpawnService;
        if (s.ServerCpus is not null) described["server cpus"] = s.ServerCpus;
        if (s.ClientCpus is not null) described["client cpus"] = s.ClientCpus;
        if (scenario == "mixed")
        {
            described["churn rate"] = $"{s.ChurnRate}/s";
            described["revoked share"] = s.RevokedShare.ToString(CultureInfo.InvariantCulture);
        }
        if (scenario == "revoke-visibility") described["revoked identities"] = s.RevokeIdentities.ToString(CultureInfo.InvariantCulture);
        if (scenario is "scale-out" or "live-scale-out")
        {
            if (scenario == "scale-out")
            {
                described["silos"] = s.Silos;
                described["modes"] = s.Modes;
                if (s.RatePerSilo > 0) described["open loop rate per silo"] = $"{s.RatePerSilo}/s";
            }
            else
            {
                described["mode"] = s.Mode;
                described["steps"] = $"{s.Steps}, {s.StepTime} each";
                described["scrape interval"] = s.ScrapeInterval;
            }
            described["silo cpu quota"] = CpuGroups.Describe(s.SiloShare);
            described["api node cpu quota"] = CpuGroups.Describe(s.ApiShare);
            described["postgresql cpu quota"] = CpuGroups.Describe(s.PgShare);
            described["cpu period"] = s.CpuPeriod;
            if (s.ApiNodes is { } apis) described["api nodes"] = apis.ToString(CultureInfo.InvariantCulture);
        }
        if (scenario == "split") described["rounds"] = s.Rounds.ToString(CultureInfo.InvariantCulture);
        if (scenario == "regions")
        {
            // Each region has its own nodes: --target and --admin mean nothing here, and "closed loop" would hide the open
            // loop of part 3. A new dictionary rather than removals, so that the rows keep the order they are added in.
            described = described.Where(kv => kv.Key is not ("targets" or "admin" or "rate" or "sessions" or "concurrency" or "warm-up" or "duration"))
                .ToDictionary(kv => kv.Key, kv => kv.Value);
            var regions = RegionSpec.ParseAll(s.Regions);
            foreach (var region in regions)
                described[$"region {region.Name}"] = $"public {string.Join(", ", region.Public)}; admin {string.Join(", ", region.Admin)}{(region.Code is { } code ? $"; code {code}" : "")}"
                    + (s.Regions.Length == 0 ? " (default: deploy/local-regions.sh)" : "");
            described["links"] = s.Links.Length == 0 ? "control ports 6100+10x+y on 127.0.0.1 (default: deploy/local-regions.sh)" : string.Join(", ", s.Links);
            described["lease"] = s.Lease;
            described["parts"] = s.Parts;
            described["sessions"] = $"{s.Sessions} per region";
            described["concurrency"] = $"{s.Concurrency} per region (part steady; the region alone: {s.Concurrency * regions.Count})";
            described["warm-up"] = s.Warmup;
            described["duration"] = $"{s.Duration} per steady run";
            described["first lookups"] = $"{s.FirstLookups} per region";
            described["revocation rounds"] = $"{s.RevokeRounds}, under {s.RegionRate}/s per region (open loop)";
            described["cut"] = $"{s.Cut ?? $"{regions[0].Name}-{regions[1].Name}"} for the lease + {s.CutExtra}, {s.CutRevocations} revocations during it";
        }
        return described;
    }
}
