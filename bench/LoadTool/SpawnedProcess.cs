using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Spectre.Console;

namespace OrleansSessions.Bench;

/// <summary>
/// A process the tool starts (the service, the baseline, the cluster script): optionally pinned with taskset, its
/// output in a log file, ready once a line contains the marker, stopped with SIGTERM (then killed after 30 s).
/// </summary>
public sealed class SpawnedProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StreamWriter _log;
    private readonly TaskCompletionSource _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly string _marker;

    public string Name { get; }
    /// <summary>How long a SIGTERM is given before SIGKILL.</summary>
    public TimeSpan StopGrace { get; init; } = TimeSpan.FromSeconds(30);
    public string LogPath { get; }
    public int Id => _process.Id;

    private SpawnedProcess(string name, ProcessStartInfo start, string marker, string logPath)
    {
        Name = name;
        LogPath = logPath;
        _marker = marker;
        _log = new StreamWriter(logPath) { AutoFlush = true };
        _process = new Process { StartInfo = start, EnableRaisingEvents = true };
        _process.OutputDataReceived += (_, e) => OnLine(e.Data);
        _process.ErrorDataReceived += (_, e) => OnLine(e.Data);
        _process.Exited += (_, _) => _ready.TrySetException(new InvalidOperationException($"{name} exited (code {_process.ExitCode}) before it was ready; see {logPath}"));
    }

    public static async Task<SpawnedProcess> StartAsync(string name, string program, IEnumerable<string> arguments, string? workingDirectory,
        IReadOnlyDictionary<string, string>? environment, string? cpus, string readyMarker, TimeSpan timeout, string logDirectory, TimeSpan? stopGrace = null)
    {
        var start = new ProcessStartInfo
        {
            FileName = cpus is null ? program : "taskset",
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory ?? Environment.CurrentDirectory,
        };
        if (cpus is not null)
        {
            // taskset execs the program: the process id stays the one we signal.
            start.ArgumentList.Add("-c");
            start.ArgumentList.Add(cpus);
            start.ArgumentList.Add(program);
        }
        foreach (var argument in arguments) start.ArgumentList.Add(argument);
        foreach (var (key, value) in environment ?? new Dictionary<string, string>()) start.Environment[key] = value;

        Directory.CreateDirectory(logDirectory);
        var spawned = new SpawnedProcess(name, start, readyMarker, Path.Combine(logDirectory, $"{name}.log")) { StopGrace = stopGrace ?? TimeSpan.FromSeconds(30) };
        spawned._process.Start();
        spawned._process.BeginOutputReadLine();
        spawned._process.BeginErrorReadLine();
        AnsiConsole.MarkupLineInterpolated($"[grey]started {name} (pid {spawned.Id}{(cpus is null ? "" : $", cpus {cpus}")}), log {spawned.LogPath}[/]");
        try
        {
            await spawned._ready.Task.WaitAsync(timeout);
        }
        catch
        {
            await spawned.DisposeAsync();
            throw;
        }
        return spawned;
    }

    private void OnLine(string? line)
    {
        if (line is null) return;
        lock (_log) _log.WriteLine(line);
        if (line.Contains(_marker, StringComparison.Ordinal)) _ready.TrySetResult();
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            using (var kill = Process.Start(new ProcessStartInfo("kill", ["-TERM", _process.Id.ToString()]) { UseShellExecute = false }))
                if (kill is not null) await kill.WaitForExitAsync();
            using var grace = new CancellationTokenSource(StopGrace);
            try { await _process.WaitForExitAsync(grace.Token); }
            catch (OperationCanceledException)
            {
                AnsiConsole.MarkupLineInterpolated($"[yellow]{Name} did not stop within {StopGrace.TotalSeconds:0} s of SIGTERM: killing it[/]");
                _process.Kill(entireProcessTree: true);
                await _process.WaitForExitAsync();
            }
        }
        AnsiConsole.MarkupLineInterpolated($"[grey]stopped {Name}[/]");
        _process.Dispose();
        lock (_log) _log.Dispose();
    }

    /// <summary>A TCP port nobody listens on now (the usual race with whoever binds it next is accepted).</summary>
    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>The first of <paramref name="count"/> consecutive free ports (silos of the cluster use base + i).</summary>
    public static int FreePortRange(int count)
    {
        for (var attempt = 0; attempt < 50; attempt++)
        {
            var first = FreePort();
            if (first + count > 65535) continue;
            if (Enumerable.Range(first + 1, count - 1).All(IsFree)) return first;
        }
        throw new InvalidOperationException($"found no {count} consecutive free ports");
    }

    private static bool IsFree(int port)
    {
        try
        {
            using var listener = new TcpListener(IPAddress.Loopback, port);
            listener.Start();
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }
}
