using System.Diagnostics;
using System.Text.RegularExpressions;

namespace OrleansSessions.Api.Tests.Infrastructure;

/// <summary>
/// The built Silo (<c>dotnet OrleansSessions.Silo.dll</c>) run as a real process, for what an in-process node
/// cannot show: the exit code and output of a node that refuses to start, or a node killed with SIGKILL. Its
/// stdout and stderr are collected line by line; tests wait on lines (the ready line above all), never on time.
/// Disposing kills the process if it still runs, whatever happened in the test.
/// </summary>
public sealed partial class SiloProcess : IAsyncDisposable
{
    public static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(90);

    private readonly Process _process;
    private readonly Lock _gate = new();
    private readonly List<string> _lines = [];
    private readonly List<(Func<string, bool> Match, TaskCompletionSource<string> Seen)> _waiters = [];
    private readonly TaskCompletionSource<(Uri Public, Uri Admin)> _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource<int> _exited = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _openStreams = 2;

    private SiloProcess(Process process, string name)
    {
        _process = process;
        Name = name;
    }

    /// <summary>A name for messages (the test's own, e.g. "node 2").</summary>
    public string Name { get; }

    public int Id => _process.Id;

    /// <summary>Completes with the bound public and admin URLs once the node printed its ready line; fails if it exits first.</summary>
    public Task<(Uri Public, Uri Admin)> Ready => _ready.Task;

    /// <summary>Completes with the exit code once the process has exited and its output is fully read.</summary>
    public Task<int> Exited => _exited.Task;

    /// <summary>Every line written so far, stdout and stderr interleaved as received; stderr lines start with "stderr: ".</summary>
    public string Output
    {
        get
        {
            lock (_gate)
                return string.Join('\n', _lines);
        }
    }

    /// <summary>The Silo assembly of the same configuration (Debug/Release) as this test assembly.</summary>
    public static string SiloDll => RepoPaths.SiloDll;

    /// <summary>
    /// Starts <c>dotnet OrleansSessions.Silo.dll <paramref name="args"/></c> in the Silo's folder (its appsettings.json
    /// is the base configuration, as in production). <paramref name="environment"/> adds variables (secrets belong
    /// there rather than on a command line every process listing shows). <paramref name="workingDirectory"/> starts it
    /// from another folder, as an operator may.
    /// </summary>
    public static SiloProcess Start(string name, IEnumerable<string> args, IReadOnlyDictionary<string, string>? environment = null,
        string? workingDirectory = null)
    {
        var dll = SiloDll;
        var info = new ProcessStartInfo("dotnet")
        {
            WorkingDirectory = workingDirectory ?? Path.GetDirectoryName(dll)!,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = false,
            UseShellExecute = false,
        };
        info.ArgumentList.Add(dll);
        foreach (var arg in args)
            info.ArgumentList.Add(arg);
        info.Environment["DOTNET_NOLOGO"] = "1";
        info.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        foreach (var (key, value) in environment ?? new Dictionary<string, string>())
            info.Environment[key] = value;

        var process = new Process { StartInfo = info, EnableRaisingEvents = true };
        var silo = new SiloProcess(process, name);
        process.OutputDataReceived += (_, e) => silo.OnLine(e.Data, stderr: false);
        process.ErrorDataReceived += (_, e) => silo.OnLine(e.Data, stderr: true);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return silo;
    }

    /// <summary>
    /// Four free ports (public, admin, silo, gateway) and the arguments that put a single node on them, on 127.0.0.1.
    /// </summary>
    public static (int[] Ports, string[] Args) OnFreePorts()
    {
        int[] ports = [FreePorts.Next(), FreePorts.Next(), FreePorts.Next(), FreePorts.Next()];
        return (ports,
        [
            "--serve:public:host=127.0.0.1", $"--serve:public:port={ports[0]}",
            "--serve:admin:host=127.0.0.1", $"--serve:admin:port={ports[1]}",
            $"--orleans:silo_port={ports[2]}", $"--orleans:gateway_port={ports[3]}",
        ]);
    }

    /// <summary>Waits for the ready line; fails with the output so far when the node exits first or takes too long.</summary>
    public async Task<(Uri Public, Uri Admin)> WaitReadyAsync()
    {
        try
        {
            return await Ready.WaitAsync(StartTimeout);
        }
        catch (TimeoutException)
        {
            throw new TimeoutException($"{Name} printed no ready line within {StartTimeout}. Output:\n{Output}");
        }
    }

    /// <summary>Waits for the process to exit on its own; its exit code.</summary>
    public async Task<int> WaitExitAsync(TimeSpan timeout)
    {
        try
        {
            return await Exited.WaitAsync(timeout);
        }
        catch (TimeoutException)
        {
            throw new TimeoutException($"{Name} did not exit within {timeout}. Output:\n{Output}");
        }
    }

    /// <summary>Completes with the first line (already written or to come) that <paramref name="match"/> accepts.</summary>
    public Task<string> LineAsync(Func<string, bool> match)
    {
        var seen = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_gate)
        {
            var line = _lines.FirstOrDefault(match);
            if (line is not null)
                seen.SetResult(line);
            else
                _waiters.Add((match, seen));
        }
        return seen.Task;
    }

    /// <summary>SIGKILL: the process ends at once, without any shutdown of its own.</summary>
    public void Kill() => _process.Kill(entireProcessTree: true);

    private void OnLine(string? line, bool stderr)
    {
        if (line is null)
        {
            // End of one stream; the exit is reported once both are drained (off this reader's callback).
            if (Interlocked.Decrement(ref _openStreams) == 0)
                _ = Task.Run(ReportExitAsync);
            return;
        }
        if (stderr)
            line = "stderr: " + line;
        List<TaskCompletionSource<string>> matched = [];
        lock (_gate)
        {
            _lines.Add(line);
            for (var i = _waiters.Count - 1; i >= 0; i--)
            {
                if (_waiters[i].Match(line))
                {
                    matched.Add(_waiters[i].Seen);
                    _waiters.RemoveAt(i);
                }
            }
        }
        foreach (var seen in matched)
            seen.TrySetResult(line);
        if (!stderr && ReadyLine().Match(line) is { Success: true } ready)
            _ready.TrySetResult((new Uri(ready.Groups["public"].Value), new Uri(ready.Groups["admin"].Value)));
    }

    private async Task ReportExitAsync()
    {
        await _process.WaitForExitAsync();
        var code = _process.ExitCode;
        _ready.TrySetException(new InvalidOperationException($"{Name} exited with code {code} before it was ready. Output:\n{Output}"));
        List<TaskCompletionSource<string>> waiting;
        lock (_gate)
        {
            waiting = [.. _waiters.Select(w => w.Seen)];
            _waiters.Clear();
        }
        foreach (var seen in waiting)
            seen.TrySetException(new InvalidOperationException($"{Name} exited (code {code}) before the awaited line. Output:\n{Output}"));
        _exited.TrySetResult(code);
    }

    [GeneratedRegex(@"^OrleansSessions ready: public API (?<public>https?://[^\s,]+), admin API (?<admin>https?://[^\s,]+)")]
    private static partial Regex ReadyLine();

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (!_process.HasExited)
                _process.Kill(entireProcessTree: true);
            await _exited.Task.WaitAsync(TimeSpan.FromSeconds(30));
        }
        catch (InvalidOperationException)
        {
            // Never started, or already gone.
        }
        finally
        {
            _process.Dispose();
        }
    }
}
