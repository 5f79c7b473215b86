using System.Diagnostics;
using Npgsql;

namespace OrleansSessions.Api.Tests.Infrastructure;

/// <summary>
/// A PostgreSQL server that belongs to one test, which stops it and starts it again (the shared server of
/// <c>ORLEANS_SESSIONS_TEST_POSTGRES</c> serves tests running in parallel and is never stopped). A throwaway
/// cluster made by <c>initdb</c> under /tmp, listening on one free loopback port for its whole life, removed on
/// dispose. As root, PostgreSQL's tools run as the <c>postgres</c> OS user, as test.sh does. Without the server
/// binaries the test fails; it never skips.
/// </summary>
public sealed class OwnPostgres : IAsyncDisposable
{
    private static readonly TimeSpan ToolTimeout = TimeSpan.FromMinutes(2);

    private readonly string _bin;
    private readonly string _folder;

    private readonly string[] _settings;

    private OwnPostgres(string bin, string folder, int port, string[] settings)
    {
        _settings = settings;
        _bin = bin;
        _folder = folder;
        Port = port;
        // Trust authentication asks for no password: this one is never sent, and so must never show up in a log.
        Password = $"never-logged-{Guid.NewGuid():N}";
    }

    public int Port { get; }

    public string Password { get; }

    public bool IsRunning { get; private set; }

    public string ConnectionString => new NpgsqlConnectionStringBuilder
    {
        Host = "127.0.0.1", Port = Port, Username = "postgres", Password = Password, Database = "postgres",
    }.ToString();

    private string DataDirectory => Path.Combine(_folder, "data");

    private string ServerLog => Path.Combine(_folder, "server.log");

    private static bool IsRoot => Environment.UserName == "root";

    /// <summary>Creates the cluster and starts it, with more server <paramref name="settings"/> (<c>wal_level=logical</c>, say); fails with what went wrong.</summary>
    public static async Task<OwnPostgres> StartAsync(params string[] settings)
    {
        var bin = FindBinaries();
        var folder = Path.Combine(IsRoot ? "/tmp" : Path.GetTempPath(), $"orleans-sessions-own-pg-{Guid.NewGuid():N}");
        Directory.CreateDirectory(folder);
        var server = new OwnPostgres(bin, folder, FreePorts.Next(), settings);
        try
        {
            if (IsRoot)
                await RunAsync("chown", ["postgres:", folder], folder);
            await server.RunToolAsync("initdb", "-D", server.DataDirectory, "-U", "postgres", "--auth=trust", "--encoding=UTF8", "--locale=C", "--no-sync");
            await server.StartAgainAsync();
            return server;
        }
        catch
        {
            await server.DisposeAsync();
            throw;
        }
    }

    /// <summary>Starts the server on <see cref="Port"/>; returns once it accepts connections (<c>pg_ctl -w</c>).</summary>
    public async Task StartAgainAsync()
    {
        await RunToolAsync("pg_ctl", "-D", DataDirectory, "-l", ServerLog, "-t", "60", "-w", "start",
            "-o", $"-p {Port} -k {_folder} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off{string.Concat(_settings.Select(s => $" -c {s}"))}");
        IsRunning = true;
    }

    /// <summary>
    /// Stops the server as an administrator would restart it (fast: open sessions are told and closed, a
    /// shutdown checkpoint is written); returns once the server process has exited (<c>pg_ctl -w</c>).
    /// </summary>
    public async Task StopAsync()
    {
        await RunToolAsync("pg_ctl", "-D", DataDirectory, "-m", "fast", "-t", "60", "-w", "stop");
        IsRunning = false;
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (IsRunning)
                await RunToolAsync("pg_ctl", "-D", DataDirectory, "-m", "immediate", "-t", "60", "-w", "stop");
        }
        finally
        {
            ServiceNode.DeleteDirectory(_folder);
        }
    }

    /// <summary>The newest server binaries: Debian's layout first, then the PATH.</summary>
    private static string FindBinaries()
    {
        static bool Has(string dir) => File.Exists(Path.Combine(dir, "initdb")) && File.Exists(Path.Combine(dir, "pg_ctl"));
        var debian = Directory.Exists("/usr/lib/postgresql")
            ? Directory.GetDirectories("/usr/lib/postgresql")
                .Select(version => Path.Combine(version, "bin"))
                .Where(Has)
                .OrderByDescending(dir => int.TryParse(Path.GetFileName(Path.GetDirectoryName(dir)), out var major) ? major : 0)
                .FirstOrDefault()
            : null;
        var onPath = (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries).FirstOrDefault(Has);
        return debian ?? onPath ?? throw new InvalidOperationException(
            "The PostgreSQL server binaries (initdb, pg_ctl) were not found under /usr/lib/postgresql/*/bin or on the PATH: "
            + "this test runs a PostgreSQL server of its own and cannot run without them. Install them (apt-get install postgresql-15).");
    }

    /// <summary>Runs a PostgreSQL tool, as the postgres OS user when we are root (initdb and the server refuse root).</summary>
    private Task RunToolAsync(string tool, params string[] args) =>
        IsRoot
            ? RunAsync("runuser", ["-u", "postgres", "--", Path.Combine(_bin, tool), .. args], _folder, ServerLog)
            : RunAsync(Path.Combine(_bin, tool), args, _folder, ServerLog);

    private static async Task RunAsync(string file, IReadOnlyList<string> args, string workingDirectory, string? serverLog = null)
    {
        var start = new ProcessStartInfo(file)
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in args)
            start.ArgumentList.Add(arg);
        using var process = Process.Start(start) ?? throw new InvalidOperationException($"Could not start {file}.");
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(ToolTimeout);
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{file} {string.Join(' ', args)} did not finish within {ToolTimeout}.");
        }
        if (process.ExitCode != 0)
        {
            var log = serverLog is not null && File.Exists(serverLog) ? await File.ReadAllTextAsync(serverLog) : "";
            throw new InvalidOperationException(
                $"{file} {string.Join(' ', args)} exited with {process.ExitCode}:\n{await output}\n{await error}\nserver log:\n{log}");
        }
    }
}
