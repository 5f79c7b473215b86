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
        if (scenario == "scale-out") described["silos"] = s.Silos;
        if (scenario == "split") described["rounds"] = s.Rounds.ToString(CultureInfo.InvariantCulture);
        return described;
    }
}
