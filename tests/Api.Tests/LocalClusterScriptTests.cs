using System.Diagnostics;
using System.Net;
using System.Text.RegularExpressions;
using OrleansSessions.Api.Tests.Infrastructure;
using OrleansSessions.Tests.Store;
using Xunit.Abstractions;

namespace OrleansSessions.Api.Tests;

/// <summary>
/// <c>deploy/local-cluster.sh</c> as an operator runs it: 3 silos and 1 API node in the split mode on one
/// PostgreSQL database, the endpoints printed, a silo killed under it (reported, the rest carrying on, every
/// session answering again) and started again on request, and everything it started gone when it is told to stop.
/// </summary>
public sealed partial class LocalClusterScriptTests(ITestOutputHelper output)
{
    private static readonly TimeSpan StartLimit = TimeSpan.FromMinutes(3);

    [Fact]
    public async Task Script_runs_a_cluster_that_survives_a_killed_silo_restarts_it_on_request_and_stops_them_all()
    {
        var database = await PostgresServer.CreateDatabaseAsync();
        var state = ServiceNode.NewDataDirectory();
        var publicPort = FreePorts.Next();
        var adminPort = FreePorts.Next();
        var healthPort = FreePorts.NextRange(3);
        var start = new ProcessStartInfo("bash", [Path.Combine(RepoPaths.Root, "deploy", "local-cluster.sh")])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            Environment =
            {
                ["PG_CONNECTION"] = database,
                ["STATE_DIR"] = state,
                ["SILO_DLL"] = RepoPaths.SiloDll,
                ["PUBLIC_PORT"] = publicPort.ToString(),
                ["ADMIN_PORT"] = adminPort.ToString(),
                ["SILO_HEALTH_PORT"] = healthPort.ToString(),
                ["SILO_PORT"] = FreePorts.NextRange(3).ToString(),
                ["GATEWAY_PORT"] = FreePorts.NextRange(3).ToString(),
                ["CLUSTER_ID"] = $"script-{Guid.NewGuid():N}",
            },
        };
        var up = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        // Node lines come on stderr, the summary on stdout: two pipes, read on two threads, in no fixed order.
        var allReady = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var stdout = new List<string>();
        var stderr = new List<string>();
        using var script = new Process { StartInfo = start };
        script.OutputDataReceived += (_, e) =>
        {
            if (e.Data is null)
                return;
            lock (stdout)
                stdout.Add(e.Data);
            if (e.Data.StartsWith("Ctrl-C stops them all", StringComparison.Ordinal))
                up.TrySetResult();
        };
        script.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is null)
                return;
            lock (stderr)
            {
                stderr.Add(e.Data);
                OnLine(e.Data);
            }
            if (NodePids(stderr).Count >= 4)
                allReady.TrySetResult();
        };
        script.Start();
        script.BeginOutputReadLine();
        script.BeginErrorReadLine();
        try
        {
            await Task.WhenAny(Task.WhenAll(up.Task, allReady.Task), script.WaitForExitAsync(), Task.Delay(StartLimit));
            Assert.True(up.Task.IsCompleted && allReady.Task.IsCompleted, $"the script did not report the cluster up.\nstdout:\n{Join(stdout)}\nstderr:\n{Join(stderr)}");

            string printed;
            lock (stdout)
                printed = Join(stdout);
            Assert.Contains($"public API   http://127.0.0.1:{publicPort}", printed);
            Assert.Contains($"admin API    http://127.0.0.1:{adminPort}", printed);
            for (var i = 0; i < 3; i++)
                Assert.Contains($"http://127.0.0.1:{healthPort + i}/health/ready", printed);
            var pids = NodePids(stderr);
            Assert.Equal(4, pids.Count);

            using var http = new HttpClient();
            for (var i = 0; i < 3; i++)
                Assert.Equal(HttpStatusCode.OK, (await http.GetAsync($"http://127.0.0.1:{healthPort + i}/health/ready")).StatusCode);
            var identity = await PostAsync(http, $"http://127.0.0.1:{adminPort}/admin/identities",
                """{"schema_id":"default","traits":{"email":"script@example.com"}}""");
            // Enough sessions that some live on every silo.
            var tokens = new List<string>();
            for (var i = 0; i < 24; i++)
                tokens.Add((await PostAsync(http, $"http://127.0.0.1:{adminPort}/admin/identities/{identity.GetProperty("id").GetGuid()}/sessions",
                    """{"channel":"api"}""")).GetProperty("session_token").GetString()!);
            Assert.Equal(tokens.Count, await AnsweringAsync(http, publicPort, tokens));

            // ---- kill -9 of a silo: the script says which, the others carry on, every session answers again
            //      within the failure detector's time (about 15 s by default; a minute allowed on a busy machine)
            var silo2 = pids[1];
            var reported = ExitReported(stderr, "silo2", silo2);
            Signal(silo2, "KILL");
            await reported.WaitAsync(TimeSpan.FromMinutes(1));
            Assert.True(IsRunning(script.Id), "the script stopped when a silo exited");
            var carriedOn = Stopwatch.StartNew();
            while (await AnsweringAsync(http, publicPort, tokens) < tokens.Count
                || (await http.GetAsync($"http://127.0.0.1:{adminPort}/health/ready")).StatusCode != HttpStatusCode.OK)
                Assert.True(carriedOn.Elapsed < TimeSpan.FromMinutes(1), "sessions did not all answer again within a minute of the kill");
            output.WriteLine($"every session answered again {carriedOn.ElapsedMilliseconds} ms after silo2 was reported dead");

            // ---- started again on request
            var back = ReadyAgain(stderr, "silo2");
            await File.AppendAllTextAsync(Path.Combine(state, "control"), "restart silo2\n");
            await back.WaitAsync(TimeSpan.FromMinutes(2));
            Assert.Equal(HttpStatusCode.OK, (await http.GetAsync($"http://127.0.0.1:{healthPort + 1}/health/ready")).StatusCode);
            Assert.Equal(tokens.Count, await AnsweringAsync(http, publicPort, tokens));
            pids = NodePids(stderr).Where(IsRunning).ToList();

            // What an operator's Ctrl-C becomes for a script that is not in a terminal's foreground.
            Signal(script.Id, "TERM");
            await script.WaitForExitAsync().WaitAsync(TimeSpan.FromMinutes(1));
            foreach (var pid in pids)
                Assert.False(IsRunning(pid), $"node process {pid} still runs after the script stopped");
            output.WriteLine(Join(stderr));
        }
        finally
        {
            if (!script.HasExited)
                script.Kill(entireProcessTree: true);
            foreach (var pid in NodePids(stderr).Where(IsRunning))
                Signal(pid, "KILL");
            await PostgresServer.DropDatabaseAsync(database);
            Directory.Delete(state, recursive: true);
        }
    }

    private static async Task<System.Text.Json.JsonElement> PostAsync(HttpClient http, string url, string json)
    {
        using var response = await http.PostAsync(url, new StringContent(json, System.Text.Encoding.UTF8, "application/json"));
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.Created, $"POST {url}: {(int)response.StatusCode} {text}");
        return System.Text.Json.JsonDocument.Parse(text).RootElement.Clone();
    }

    /// <summary>How many of the tokens whoami answers 200 through the API node.</summary>
    private static async Task<int> AnsweringAsync(HttpClient http, int publicPort, List<string> tokens)
    {
        var answering = 0;
        foreach (var token in tokens)
        {
            using var whoami = new HttpRequestMessage(HttpMethod.Get, $"http://127.0.0.1:{publicPort}/sessions/whoami");
            whoami.Headers.Add("X-Session-Token", token);
            using var answer = await http.SendAsync(whoami);
            answering += answer.StatusCode == HttpStatusCode.OK ? 1 : 0;
        }
        return answering;
    }

    // Lines of the script's stderr that tests wait for, completed as the lines arrive.
    private readonly List<(Func<string, bool> Matches, TaskCompletionSource Seen)> _waits = [];

    private Task ExitReported(List<string> stderr, string name, int pid) =>
        WaitForLine(stderr, line => line.Contains($"{name} (pid {pid}) exited with code", StringComparison.Ordinal));

    private Task ReadyAgain(List<string> stderr, string name)
    {
        int before;
        lock (stderr)
            before = stderr.Count;
        return WaitForLine(stderr, line => line.Contains($"{name} ready (pid", StringComparison.Ordinal), after: before);
    }

    private Task WaitForLine(List<string> stderr, Func<string, bool> matches, int after = 0)
    {
        var seen = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (stderr)
        {
            if (stderr.Skip(after).Any(matches))
                seen.TrySetResult();
            else
                _waits.Add((matches, seen));
        }
        return seen.Task;
    }

    private void OnLine(string line)
    {
        foreach (var (matches, seen) in _waits.ToList())
            if (matches(line))
                seen.TrySetResult();
    }

    private static List<int> NodePids(List<string> stderr)
    {
        lock (stderr)
            return stderr.Select(line => ReadyPid().Match(line)).Where(m => m.Success).Select(m => int.Parse(m.Groups[1].Value)).ToList();
    }

    private static bool IsRunning(int pid)
    {
        try
        {
            using var process = Process.GetProcessById(pid);
            return !process.HasExited;
        }
        catch (ArgumentException)
        {
            return false;
        }
    }

    private static void Signal(int pid, string signal)
    {
        using var kill = Process.Start("kill", [$"-{signal}", pid.ToString()]);
        kill.WaitForExit();
    }

    private static string Join(List<string> lines)
    {
        lock (lines)
            return string.Join('\n', lines);
    }

    [GeneratedRegex(@"ready \(pid (\d+)\)")]
    private static partial Regex ReadyPid();
}
