using System.Diagnostics;
using System.Globalization;
using Spectre.Console;

namespace OrleansSessions.Bench;

/// <summary>How the nodes of a local cluster are made up.</summary>
public enum ClusterMode
{
    /// <summary>Every node is a silo that also serves HTTP (<c>role=all</c>): the load is spread over all of them.</summary>
    Cohosted,

    /// <summary>Silos hold the grains (<c>role=silo</c>), API nodes serve HTTP as Orleans clients (<c>role=api</c>).</summary>
    Split,
}

/// <summary>One process of the cluster.</summary>
public sealed class ClusterNode(string name, string role, SpawnedProcess process, CpuGroup? group, double? share, Uri? publicUrl, Uri adminUrl)
{
    public string Name { get; } = name;
    /// <summary>all, silo or api.</summary>
    public string Role { get; } = role;
    public SpawnedProcess Process { get; } = process;
    public CpuGroup? Group { get; } = group;
    /// <summary>The CPU cap this node runs under once <see cref="LocalCluster.Cap"/> was called (null: none).</summary>
    public double? Share { get; } = share;
    public Uri? Public { get; } = publicUrl;
    /// <summary>The admin listener: the whole admin API (all, api) or health and metrics only (silo).</summary>
    public Uri Admin { get; } = adminUrl;
    public int Pid => Process.Id;
    public bool HostsGrains => Role != "api";
}

/// <summary>
/// The cluster the scale-out scenarios run, started by the tool itself (so that each process gets its own CPU group
/// and silos can be added and stopped while the load runs): a PostgreSQL server of its own (or <c>PG_CONNECTION</c>),
/// the schema migrated once, then nodes of <c>OrleansSessions.Silo.dll</c> on free ports with PostgreSQL membership,
/// the same settings deploy/local-cluster.sh gives its nodes.
/// </summary>
public sealed class LocalCluster : IAsyncDisposable
{
    private readonly BenchRun _run;
    private readonly string _siloDll;
    private readonly string _connection;
    private readonly string _clusterId;
    private readonly string _name;
    private readonly CpuGroups? _groups;
    private readonly List<ClusterNode> _nodes = [];
    private int _silos, _apis;

    public ClusterMode Mode { get; }
    public IReadOnlyList<ClusterNode> Nodes { get { lock (_nodes) return [.. _nodes]; } }

    private LocalCluster(BenchRun run, ClusterMode mode, string siloDll, string connection, string name, CpuGroups? groups)
    {
        _name = name;
        _run = run;
        Mode = mode;
        _siloDll = siloDll;
        _connection = connection;
        _clusterId = $"bench-{run.Report.StartedAt.UtcDateTime:HHmmss}-{name}";
        _groups = groups;
    }

    /// <summary>
    /// A cluster on <paramref name="connection"/> (a database of <see cref="PostgresServer"/> or <c>PG_CONNECTION</c>):
    /// the schema migrated, no node yet. <paramref name="name"/> makes its cluster id, so clusters of one run that
    /// share a database do not meet.
    /// </summary>
    public static async Task<LocalCluster> StartAsync(BenchRun run, ClusterMode mode, string siloDll, string name, CpuGroups? groups, string connection)
    {
        var cluster = new LocalCluster(run, mode, siloDll, connection, name, groups);
        AnsiConsole.MarkupLine("[grey]migrating the schema[/]");
        await Exec.RunAsync("dotnet", [siloDll, "migrate", "--store:provider=postgres", $"--store:connection_string={connection}"],
            Path.GetDirectoryName(siloDll), run.Cancellation);
        return cluster;
    }

    /// <summary>The database: <c>PG_CONNECTION</c> when set, else a PostgreSQL server of the run's own (tracked by the run) in a group capped at the --pg-cpu-quota.</summary>
    public static async Task<(string Connection, PostgresServer? Server)> DatabaseAsync(BenchRun run, CpuGroups? groups)
    {
        if (Environment.GetEnvironmentVariable("PG_CONNECTION") is { Length: > 0 } given)
        {
            run.Report.Notes.Add("PostgreSQL: PG_CONNECTION (not started by the tool, not capped)");
            return (given, null);
        }
        var server = run.Track(await PostgresServer.StartAsync(Path.Combine(run.WorkDirectory, "postgres"), groups?.Add("postgres", run.Settings.PgShare),
            run.Settings.ServerCpus, run.Cancellation));
        run.Report.Notes.Add($"PostgreSQL: started by the tool in the run's folder, {CpuGroups.Describe(groups is null ? null : run.Settings.PgShare)}, synchronous_commit=off (seeding only: whoami does not touch it)");
        return (server.ConnectionString, server);
    }

    /// <summary>The default node binary: Silo/bin/Release/net10.0 of the repository.</summary>
    public static string SiloDll(BenchSettings settings)
    {
        var dll = settings.SpawnService is { } given ? Path.GetFullPath(given)
            : Bench.Nodes.RepositoryRoot() is { } root ? Path.Combine(root, "Silo", "bin", "Release", "net10.0", "OrleansSessions.Silo.dll") : "OrleansSessions.Silo.dll";
        if (!File.Exists(dll)) throw new FileNotFoundException($"{dll} not found: dotnet build Silo/Silo.csproj -c Release, or --spawn-service <Silo.dll>");
        return dll;
    }

    /// <summary>A silo (split) or a co-hosted node; it starts capped at <paramref name="share"/> when <paramref name="capNow"/>.</summary>
    public Task<ClusterNode> AddSiloAsync(double? share, bool capNow) =>
        AddNodeAsync(Mode == ClusterMode.Cohosted ? "all" : "silo", $"{(Mode == ClusterMode.Cohosted ? "node" : "silo")}{Interlocked.Increment(ref _silos)}", share, capNow);

    public Task<ClusterNode> AddApiNodeAsync(double? share, bool capNow) => AddNodeAsync("api", $"api{Interlocked.Increment(ref _apis)}", share, capNow);

    private async Task<ClusterNode> AddNodeAsync(string role, string name, double? share, bool capNow)
    {
        var settings = _run.Settings;
        int publicPort = SpawnedProcess.FreePort(), adminPort = SpawnedProcess.FreePort();
        var arguments = new List<string>
        {
            _siloDll, $"--role={role}",
            "--store:provider=postgres", $"--store:connection_string={_connection}", "--store:migrate_on_start=false",
            "--orleans:membership=postgres", "--orleans:advertised_ip=127.0.0.1",
            $"--orleans:cluster_id={_clusterId}", $"--orleans:service_id={_clusterId}",
            $"--dev={(settings.EffectiveAdminKey is null ? "true" : "false")}",
            "--serve:admin:host=127.0.0.1", $"--serve:admin:port={adminPort}",
        };
        if (role != "api")
            arguments.AddRange([$"--orleans:silo_port={SpawnedProcess.FreePort()}", $"--orleans:gateway_port={SpawnedProcess.FreePort()}"]);
        if (role != "silo")
            arguments.AddRange(["--serve:public:host=127.0.0.1", $"--serve:public:port={publicPort}"]);
        // The key reaches the node in its environment, not its command line (ps shows that).
        var environment = new Dictionary<string, string>();
        if (settings.EffectiveAdminKey is { } key) environment["serve__admin__api_keys__0"] = key;
        // Under a quota, thread-pool threads that spin (sched_yield) before they sleep burn the budget that a core of
        // the node's own would have had idle: an idle capped silo spent half of a 10 % quota so. Not spinning
        // leaves the simulation with the work alone.
        if (_groups is not null) environment["DOTNET_ThreadPool_UnfairSemaphoreSpinLimit"] = "0";
        // Tiered compilation re-compiles hot methods in the background (twice, with dynamic PGO's instrumented tier);
        // under a 10 % quota that went on for minutes after start-up and took a quarter of the silos' CPU in the
        // measured window (perf). Without tiering every method is compiled optimized once, while the node starts
        // and is pre-warmed uncapped, and the window measures steady-state code (without dynamic PGO).
        if (_groups is not null) environment["DOTNET_TieredCompilation"] = "0";

        var group = _groups?.Add($"{_name}-{name}", capNow ? share : null);
        var (program, args) = group is null ? ("dotnet", (IReadOnlyList<string>)arguments) : group.Wrap("dotnet", arguments);
        var process = await SpawnedProcess.StartAsync(name, program, args, Path.GetDirectoryName(_siloDll), environment, settings.ServerCpus,
            "OrleansSessions ready:", TimeSpan.FromMinutes(5), _run.WorkDirectory, settings.StopGraceTime);
        var node = new ClusterNode(name, role, process, group, share, role == "silo" ? null : new Uri($"http://127.0.0.1:{publicPort}/"),
            new Uri($"http://127.0.0.1:{adminPort}/"));
        lock (_nodes) _nodes.Add(node);
        try
        {
            using var admin = new AdminApi(node.Admin, settings.EffectiveAdminKey, 1);
            await admin.WaitReadyAsync(TimeSpan.FromMinutes(2), _run.Cancellation);
        }
        catch
        {
            await StopAsync(node);
            throw;
        }
        return node;
    }

    /// <summary>Every node under its cap (nodes start uncapped when the scenario wants a quick start-up).</summary>
    public void Cap()
    {
        foreach (var node in Nodes) node.Group?.SetQuota(node.Share);
    }

    /// <summary>SIGTERM, and waits until the node exited (then 30 s, then SIGKILL).</summary>
    public async Task StopAsync(ClusterNode node)
    {
        lock (_nodes) _nodes.Remove(node);
        await node.Process.DisposeAsync();
    }

    /// <summary>The admin API of a node that serves it (an API node, or any co-hosted node).</summary>
    public Uri AdminApi => Nodes.First(n => n.Role != "silo").Admin;

    public async ValueTask DisposeAsync()
    {
        foreach (var node in Enumerable.Reverse(Nodes)) await StopAsync(node);
    }
}

/// <summary>
/// A PostgreSQL server of the run's own in its work folder: initdb, pg_ctl start on a free port (as user postgres
/// when the tool runs as root: initdb refuses root), one database, stopped (fast) at the end. It starts inside its CPU
/// group, so the postmaster and every backend it forks stay there.
/// </summary>
public sealed class PostgresServer : IAsyncDisposable
{
    private readonly string _bin;
    private readonly string _data;

    public string ConnectionString { get; }
    public CpuGroup? Group { get; }

    private PostgresServer(string bin, string data, string connection, CpuGroup? group)
    {
        _bin = bin;
        _data = data;
        ConnectionString = connection;
        Group = group;
    }

    public static async Task<PostgresServer> StartAsync(string root, CpuGroup? group, string? cpus, CancellationToken cancellation)
    {
        var bin = Directory.Exists("/usr/lib/postgresql")
            ? Directory.GetDirectories("/usr/lib/postgresql").Select(d => Path.Combine(d, "bin")).Where(d => File.Exists(Path.Combine(d, "initdb")))
                .OrderByDescending(d => d, StringComparer.Ordinal).FirstOrDefault()
            : null;
        if (bin is null) throw new FileNotFoundException("PostgreSQL server binaries not found under /usr/lib/postgresql (apt-get install postgresql-15), or set PG_CONNECTION");
        Directory.CreateDirectory(root);
        if (Environment.UserName == "root") await Exec.RunAsync("chown", ["postgres:", root], null, cancellation);
        var data = Path.Combine(root, "data");
        var port = SpawnedProcess.FreePort();
        AnsiConsole.MarkupLineInterpolated($"[grey]PostgreSQL: initdb in {data}, port {port}[/]");
        await Exec.RunAsync(AsPostgres(Path.Combine(bin, "initdb"), ["-D", data, "-U", "postgres", "--auth=trust", "--encoding=UTF8", "--locale=C"]), null, cancellation);
        // synchronous_commit off: seeding goes faster; the measured whoami path does not touch the database.
        var start = AsPostgres(Path.Combine(bin, "pg_ctl"), ["-D", data, "-l", Path.Combine(root, "server.log"), "-w", "-t", "60", "start",
            "-o", $"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c synchronous_commit=off -c max_connections=300"]);
        if (group is not null) start = group.Wrap(start.Program, start.Arguments);
        if (cpus is not null) start = ("taskset", ["-c", cpus, start.Program, .. start.Arguments]);
        await Exec.RunAsync(start, null, cancellation);
        var server = new PostgresServer(bin, data, $"Host=127.0.0.1;Port={port};Username=postgres;Database=orleans_sessions;Maximum Pool Size=50", group);
        await Exec.RunAsync(AsPostgres(Path.Combine(bin, "psql"), ["-h", "127.0.0.1", "-p", port.ToString(CultureInfo.InvariantCulture), "-U", "postgres", "-d", "postgres",
            "-qc", "CREATE DATABASE orleans_sessions"]), null, cancellation);
        return server;
    }

    private static (string Program, IReadOnlyList<string> Arguments) AsPostgres(string program, IReadOnlyList<string> arguments) =>
        Environment.UserName == "root" ? ("runuser", ["-u", "postgres", "--", program, .. arguments]) : (program, arguments);

    public async ValueTask DisposeAsync()
    {
        try
        {
            await Exec.RunAsync(AsPostgres(Path.Combine(_bin, "pg_ctl"), ["-D", _data, "-m", "fast", "-w", "stop"]), null, CancellationToken.None);
            AnsiConsole.MarkupLine("[grey]stopped PostgreSQL[/]");
        }
        catch (InvalidOperationException exception)
        {
            AnsiConsole.MarkupLineInterpolated($"[yellow]PostgreSQL did not stop: {exception.Message}[/]");
        }
    }
}

/// <summary>Runs a command to its end; its output is kept for the error when it fails.</summary>
public static class Exec
{
    public static Task RunAsync((string Program, IReadOnlyList<string> Arguments) command, string? workingDirectory, CancellationToken cancellation) =>
        RunAsync(command.Program, command.Arguments, workingDirectory, cancellation);

    public static async Task RunAsync(string program, IEnumerable<string> arguments, string? workingDirectory, CancellationToken cancellation)
    {
        var start = new ProcessStartInfo(program)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory ?? Environment.CurrentDirectory,
        };
        foreach (var argument in arguments) start.ArgumentList.Add(argument);
        using var process = Process.Start(start) ?? throw new InvalidOperationException($"could not start {program}");
        // pg_ctl's server keeps the pipes open: read what is there, not to the end.
        var stdout = process.StandardOutput.ReadToEndAsync(CancellationToken.None);
        var stderr = process.StandardError.ReadToEndAsync(CancellationToken.None);
        await process.WaitForExitAsync(cancellation);
        if (process.ExitCode != 0)
        {
            await Task.WhenAny(Task.WhenAll(stdout, stderr), Task.Delay(1000));
            var output = (stderr.IsCompleted ? stderr.Result : "") + (stdout.IsCompleted ? stdout.Result : "");
            throw new InvalidOperationException($"{Path.GetFileName(program)} {string.Join(' ', start.ArgumentList.Take(4))}… exited with {process.ExitCode}: {output.Trim()}");
        }
    }
}
