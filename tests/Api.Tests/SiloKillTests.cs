using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using OrleansSessions.Api.Tests.Infrastructure;
using OrleansSessions.Storage;
using OrleansSessions.Tests.Store;
using Xunit.Abstractions;

namespace OrleansSessions.Api.Tests;

/// <summary>
/// <c>kill -9</c> of one of three real silo processes (PostgreSQL membership and store) while several loops ask
/// whoami of every session through the two others. Sessions live in the store, so none may be lost: once the
/// survivors have declared the killed silo dead, every live session answers 200 with the body it had before. A
/// revoked session must never answer 200, not even while a grain is re-activated on another silo. Requests may
/// fail only while membership converges; the test prints how many, with which statuses, and for how long.
/// </summary>
[Collection(TimedCollection.Name)]
public sealed class SiloKillTests(ITestOutputHelper output)
{
    private const int Silos = 3;
    private const int Identities = 20;
    private const int SessionsPerIdentity = 10;
    private const int Loops = 4;

    /// <summary>Tight failure detection, for loopback (the defaults take ~15 s; see OrleansSettings).</summary>
    private static readonly string[] FailureDetection =
        ["--orleans:probe_timeout=250ms", "--orleans:missed_probes_limit=2", "--orleans:votes_for_death=2", "--orleans:death_vote_expiration=30s"];

    /// <summary>A generous bound; the figure itself is printed, not asserted (a 2-core box is noisy).</summary>
    private static readonly TimeSpan FailuresMustStopWithin = TimeSpan.FromSeconds(30);

    private static readonly TimeSpan WaitTimeout = TimeSpan.FromSeconds(120);

    [Fact]
    public async Task A_silo_killed_under_whoami_load_loses_no_session_and_never_revives_a_revoked_one()
    {
        var database = await PostgresServer.CreateDatabaseAsync();
        var silos = new List<SiloProcess>();
        using var http = new HttpClient(new SocketsHttpHandler { UseCookies = false, AllowAutoRedirect = false }) { Timeout = TimeSpan.FromSeconds(60) };
        try
        {
            await using (var store = new PostgresStore(database))
                await store.MigrateAsync();

            // ---- three silos, one cluster ---------------------------------------------------------------
            var (siloPorts, urls) = await StartClusterAsync(database, silos);

            // ---- sessions issued through every node; some revoked -----------------------------------------
            var sessions = new List<Tracked>();
            var identities = new List<Guid>();
            for (var i = 0; i < Identities; i++)
            {
                var admin = urls[i % Silos].Admin;
                var identity = await CreateIdentityAsync(http, admin);
                identities.Add(identity);
                for (var j = 0; j < SessionsPerIdentity; j++)
                {
                    var channel = j % 2 == 0 ? "api" : "browser";
                    var issued = await IssueAsync(http, urls[(i + j) % Silos].Admin, identity, channel);
                    sessions.Add(new Tracked(sessions.Count, identity, issued.SessionId, channel == "api" ? issued.TokenHeader : issued.CookieHeader));
                }
            }
            // One session in seven revoked on its own, through a node other than the one that issued it …
            foreach (var session in sessions.Where(s => s.Index % 7 == 3))
            {
                await AssertStatusAsync(http, HttpMethod.Delete, new Uri(urls[(session.Index + 1) % Silos].Admin, $"/admin/sessions/{session.SessionId}"), HttpStatusCode.NoContent);
                session.Revoked = true;
            }
            // … and every session of two identities at once.
            foreach (var identity in identities.Take(2))
            {
                await AssertStatusAsync(http, HttpMethod.Delete, new Uri(urls[2].Admin, $"/admin/identities/{identity}/sessions"), HttpStatusCode.NoContent);
                foreach (var session in sessions.Where(s => s.Identity == identity))
                    session.Revoked = true;
            }
            // The answer of every live session before the kill: the one it must give after.
            foreach (var session in sessions)
            {
                var (status, body) = await WhoamiAsync(http, urls[session.Index % Silos].Public, session.Credential);
                Assert.True(status == (session.Revoked ? 401 : 200), $"session {session.Index} (revoked: {session.Revoked}) answered {status} before the kill: {body}");
                if (!session.Revoked)
                    session.Body = body;
            }

            // ---- load through silos 0 and 1, then kill -9 of silo 2 -------------------------------------------
            var samples = new ConcurrentQueue<Sample>();
            var violations = new ConcurrentQueue<string>();
            using var stop = new CancellationTokenSource();
            var loops = Enumerable.Range(0, Loops).Select(i => new LoadLoop()).ToArray();
            var running = loops.Select((loop, i) => Task.Run(() => loop.RunAsync(http, urls[i % 2].Public, i % 2, sessions, i * sessions.Count / Loops, samples, violations, stop.Token))).ToArray();

            await Task.WhenAll(loops.Select(l => l.PassesFromNowAsync(1))).WaitAsync(WaitTimeout);
            var killed = silos[2];
            var deadLine = (string l) => l.Contains($"Cluster membership: silo S127.0.0.1:{siloPorts[2]}:", StringComparison.Ordinal) && l.Contains(" is Dead ", StringComparison.Ordinal);
            var declaredDead = silos.Take(2).Select(async s =>
            {
                await s.LineAsync(deadLine);
                return Stopwatch.GetTimestamp();
            }).ToArray();
            var killedAt = Stopwatch.GetTimestamp();
            killed.Kill();
            Assert.NotEqual(0, await killed.WaitExitAsync(WaitTimeout));

            // Convergence: both survivors have declared it dead. Then two more full passes of every loop.
            var deadAt = await Task.WhenAll(declaredDead).WaitAsync(WaitTimeout);
            await Task.WhenAll(loops.Select(l => l.PassesFromNowAsync(2))).WaitAsync(WaitTimeout);
            await stop.CancelAsync();
            await Task.WhenAll(running);

            // ---- after convergence: every live session answers as before, every revoked one 401, on both survivors
            foreach (var session in sessions)
            {
                foreach (var url in urls.Take(2))
                {
                    var (status, body) = await WhoamiAsync(http, url.Public, session.Credential);
                    if (session.Revoked)
                        Assert.True(status == 401, $"revoked session {session.Index} answered {status} on {url.Public} after the kill: {body}");
                    else
                    {
                        Assert.True(status == 200, $"session {session.Index} answered {status} on {url.Public} after the kill: {body}");
                        Assert.Equal(session.Body, body);
                    }
                }
            }

            // ---- figures ------------------------------------------------------------------------------------
            var all = samples.ToArray();
            var failures = all.Where(s => s.Failed).ToArray();
            double Ms(long timestamp) => Stopwatch.GetElapsedTime(killedAt, timestamp).TotalMilliseconds;
            var report = new StringBuilder();
            report.AppendLine($"settings: {string.Join(' ', FailureDetection)}; {Silos} silos, {sessions.Count} sessions ({sessions.Count(s => s.Revoked)} revoked), {Loops} loops through 2 survivors");
            report.AppendLine($"requests: {all.Length} ({all.Count(s => s.Start >= killedAt)} after the kill), failed: {failures.Length}");
            report.AppendLine($"failure statuses: {string.Join(", ", failures.GroupBy(f => f.Outcome).OrderBy(g => g.Key).Select(g => $"{g.Key} × {g.Count()}"))}");
            report.AppendLine($"sessions with a failure: {failures.Select(f => f.Session).Distinct().Count()}");
            var afterKill = all.Where(s => s.End >= killedAt).ToArray();
            report.AppendLine($"slowest whoami answered after the kill: {afterKill.Max(s => Stopwatch.GetElapsedTime(s.Start, s.End).TotalMilliseconds):F0} ms");
            report.AppendLine($"declared dead by the survivors: {string.Join(", ", deadAt.Select(t => $"{Ms(t):F0} ms"))} after the kill");
            if (failures.Length > 0)
            {
                report.AppendLine($"first failure answered {Ms(failures.Min(f => f.End)):F0} ms after the kill, last failure {Ms(failures.Max(f => f.End)):F0} ms after the kill");
                report.AppendLine($"a failure's body: {failures.Last().Body}");
            }
            output.WriteLine(report.ToString());

            Assert.True(violations.IsEmpty, $"{violations.Count} wrong answers, e.g.: {string.Join(" | ", violations.Take(5))}\n{report}");
            // Every failure was an answer of the service while a silo was unreachable: 503 in the envelope, nothing else.
            Assert.All(failures, f => Assert.True(f.Outcome is "503" && f.Body.Contains("\"code\":503", StringComparison.Ordinal),
                $"unexpected failure {f.Outcome}: {f.Body}"));
            Assert.All(failures, f => Assert.True(f.End >= killedAt, $"a request failed before the kill: {f.Outcome} {f.Body}"));
            if (failures.Length > 0)
                Assert.True(Stopwatch.GetElapsedTime(killedAt, failures.Max(f => f.End)) < FailuresMustStopWithin, report.ToString());
        }
        finally
        {
            foreach (var silo in silos)
                await silo.DisposeAsync();
            foreach (var silo in silos)
                output.WriteLine($"---- {silo.Name} output (last lines) ----\n{string.Join('\n', silo.Output.Split('\n').TakeLast(15))}");
            await PostgresServer.DropDatabaseAsync(database);
        }
    }

    /// <summary>
    /// SIGTERM of one of three silos while loops ask whoami of every session through the two others (how an operator
    /// scales in): not one request fails, and the survivors keep their own sessions in memory; only the leaving silo's
    /// sessions move (read again from the store). Orleans' default grain directory also deactivated every session,
    /// wherever it lived, whose directory entry the leaving silo held (a third of them here).
    /// </summary>
    [Fact]
    public async Task A_silo_that_leaves_gracefully_under_whoami_load_fails_no_request_and_takes_only_its_own_sessions()
    {
        var database = await PostgresServer.CreateDatabaseAsync();
        var silos = new List<SiloProcess>();
        using var http = new HttpClient(new SocketsHttpHandler { UseCookies = false, AllowAutoRedirect = false }) { Timeout = TimeSpan.FromSeconds(60) };
        try
        {
            await using (var store = new PostgresStore(database))
                await store.MigrateAsync();
            var (siloPorts, urls) = await StartClusterAsync(database, silos);

            var sessions = new List<Tracked>();
            for (var i = 0; i < Identities; i++)
            {
                var identity = await CreateIdentityAsync(http, urls[i % Silos].Admin);
                for (var j = 0; j < SessionsPerIdentity; j++)
                {
                    var issued = await IssueAsync(http, urls[(i + j) % Silos].Admin, identity, "api");
                    sessions.Add(new Tracked(sessions.Count, identity, issued.SessionId, issued.TokenHeader));
                }
            }
            foreach (var session in sessions)
            {
                var (status, body) = await WhoamiAsync(http, urls[session.Index % Silos].Public, session.Credential);
                Assert.True(status == 200, $"session {session.Index} answered {status} before the leave: {body}");
                session.Body = body;
            }
            var resident = new long[Silos];
            var loadsBefore = new long[Silos];
            for (var i = 0; i < Silos; i++)
                (resident[i], loadsBefore[i]) = await ResidentAndLoadsAsync(http, urls[i].Admin);
            Assert.Equal(sessions.Count, resident.Sum());
            Assert.True(resident[2] < sessions.Count, $"silo 2 holds all {resident[2]} sessions: nothing would show what the others keep");

            var samples = new ConcurrentQueue<Sample>();
            var violations = new ConcurrentQueue<string>();
            using var stop = new CancellationTokenSource();
            var loops = Enumerable.Range(0, Loops).Select(_ => new LoadLoop()).ToArray();
            var running = loops.Select((loop, i) => Task.Run(() => loop.RunAsync(http, urls[i % 2].Public, i % 2, sessions, i * sessions.Count / Loops, samples, violations, stop.Token))).ToArray();
            await Task.WhenAll(loops.Select(l => l.PassesFromNowAsync(1))).WaitAsync(WaitTimeout);

            var leaving = silos[2];
            var seenGone = silos.Take(2).Select(s => s.LineAsync(l =>
                l.Contains($"Cluster membership: silo S127.0.0.1:{siloPorts[2]}:", StringComparison.Ordinal) && l.Contains(" is Dead ", StringComparison.Ordinal))).ToArray();
            using (var term = Process.Start(new ProcessStartInfo("kill", ["-TERM", leaving.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]) { UseShellExecute = false })!)
                await term.WaitForExitAsync();
            Assert.Equal(0, await leaving.WaitExitAsync(WaitTimeout));
            await Task.WhenAll(seenGone).WaitAsync(WaitTimeout);
            await Task.WhenAll(loops.Select(l => l.PassesFromNowAsync(2))).WaitAsync(WaitTimeout);
            await stop.CancelAsync();
            await Task.WhenAll(running);

            var failures = samples.Where(s => s.Failed).ToArray();
            output.WriteLine($"requests: {samples.Count}, failed: {failures.Length}; resident before the leave: {string.Join(", ", resident)}");
            Assert.True(violations.IsEmpty, $"{violations.Count} wrong answers, e.g.: {string.Join(" | ", violations.Take(5))}");
            Assert.True(failures.Length == 0, $"{failures.Length} failed requests: {string.Join(", ", failures.GroupBy(f => f.Outcome).Select(g => $"{g.Key} × {g.Count()}"))}; e.g. {failures.FirstOrDefault()?.Body}");
            var reloaded = 0L;
            var residentAfter = new long[2];
            for (var i = 0; i < 2; i++)
            {
                var (held, loads) = await ResidentAndLoadsAsync(http, urls[i].Admin);
                reloaded += loads - loadsBefore[i];
                residentAfter[i] = held;
            }
            output.WriteLine($"sessions read again by the survivors: {reloaded} (the leaving silo held {resident[2]}); held after: {string.Join(", ", residentAfter)}");
            Assert.Equal(sessions.Count, residentAfter.Sum());
            // Only the leaving silo's sessions moved: each survivor still holds every session it held before. (Two
            // survivors asked for one moving session at once may both read it, and Orleans keeps one activation:
            // the reads can exceed the moved sessions by such races, the activations cannot.)
            for (var i = 0; i < 2; i++)
                Assert.True(residentAfter[i] >= resident[i], $"silo {i} held {resident[i]} sessions before the leave and {residentAfter[i]} after: it lost some of its own");
            Assert.True(reloaded >= resident[2], $"the survivors read {reloaded} sessions; the leaving silo's {resident[2]} must have been read again");
        }
        finally
        {
            foreach (var silo in silos)
                await silo.DisposeAsync();
            foreach (var silo in silos)
                output.WriteLine($"---- {silo.Name} output (last lines) ----\n{string.Join('\n', silo.Output.Split('\n').TakeLast(15))}");
            await PostgresServer.DropDatabaseAsync(database);
        }
    }

    /// <summary>A node's resident session grains and how many sessions it has read from the store by lookup key (session loads), from its metrics.</summary>
    private static async Task<(long Resident, long Loads)> ResidentAndLoadsAsync(HttpClient http, Uri admin)
    {
        var lines = (await http.GetStringAsync(new Uri(admin, "/metrics"))).Split('\n');
        static long Sum(IEnumerable<string> found) => found.Sum(l => (long)double.Parse(l[(l.LastIndexOf(' ') + 1)..], System.Globalization.CultureInfo.InvariantCulture));
        return (Sum(lines.Where(l => l.StartsWith("orleans_sessions_sessions_resident", StringComparison.Ordinal))),
            Sum(lines.Where(l => l.StartsWith("orleans_sessions_store_duration_seconds_count{", StringComparison.Ordinal) && l.Contains("operation=\"FindSessionByLookupKey\"", StringComparison.Ordinal))));
    }

    /// <summary>Starts <see cref="Silos"/> silo processes of one cluster on <paramref name="database"/> and waits until each sees all of them active.</summary>
    private static async Task<(int[] SiloPorts, List<(Uri Public, Uri Admin)> Urls)> StartClusterAsync(string database, List<SiloProcess> silos)
    {
        var clusterId = $"pg-kill-{Guid.NewGuid():N}";
        var siloPorts = new int[Silos];
        for (var i = 0; i < Silos; i++)
        {
            siloPorts[i] = FreePorts.Next();
            silos.Add(SiloProcess.Start($"silo {i}",
            [
                "--serve:public:host=127.0.0.1", "--serve:public:port=0", "--serve:admin:host=127.0.0.1", "--serve:admin:port=0",
                "--orleans:membership=postgres", "--orleans:advertised_ip=127.0.0.1",
                $"--orleans:cluster_id={clusterId}", $"--orleans:service_id={clusterId}",
                $"--orleans:silo_port={siloPorts[i]}", $"--orleans:gateway_port={FreePorts.Next()}",
                "--store:provider=postgres", "--store:migrate_on_start=false", "--dev=true",
                "--hashers:argon2:memory_kib=1024", "--hashers:argon2:iterations=1", "--hashers:argon2:parallelism=1",
                "--Logging:LogLevel:Default=Warning", "--Logging:LogLevel:Microsoft=Warning", "--Logging:LogLevel:Orleans=Error",
                "--Logging:LogLevel:OrleansSessions=Information",
                .. FailureDetection,
            ], new Dictionary<string, string> { ["store__connection_string"] = database }));
        }
        var urls = new List<(Uri Public, Uri Admin)>();
        foreach (var silo in silos)
            urls.Add(await silo.WaitReadyAsync());
        // Each node logs the membership it sees (ClusterMembershipLog): all three active, on every node.
        foreach (var silo in silos)
            await silo.LineAsync(l => l.Contains("Cluster membership: ", StringComparison.Ordinal) && l.EndsWith($"({Silos} active)", StringComparison.Ordinal)).WaitAsync(WaitTimeout);
        return (siloPorts, urls);
    }

    /// <summary>A session under test: its credential, whether it was revoked, and its whoami body before the kill.</summary>
    private sealed record Tracked(int Index, Guid Identity, Guid SessionId, (string Name, string Value) Credential)
    {
        public bool Revoked { get; set; }
        public string? Body { get; set; }
    }

    /// <summary>One whoami: which session, through which survivor, when, and what came back (status, or the exception's type).</summary>
    private sealed record Sample(int Session, int Node, long Start, long End, string Outcome, bool Failed, string Body);

    /// <summary>Asks whoami of every session, one after another, round and round, and checks every answer.</summary>
    private sealed class LoadLoop
    {
        private readonly Lock _gate = new();
        private int _passes;
        private (int Target, TaskCompletionSource Reached)? _waiter;

        /// <summary>Completes once this loop has finished <paramref name="count"/> more full passes over the sessions.</summary>
        public Task PassesFromNowAsync(int count)
        {
            var reached = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            lock (_gate)
                _waiter = (_passes + count, reached);
            return reached.Task;
        }

        public async Task RunAsync(HttpClient http, Uri node, int nodeIndex, IReadOnlyList<Tracked> sessions, int offset,
            ConcurrentQueue<Sample> samples, ConcurrentQueue<string> violations, CancellationToken stop)
        {
            while (!stop.IsCancellationRequested)
            {
                for (var k = 0; k < sessions.Count; k++)
                {
                    var session = sessions[(offset + k) % sessions.Count];
                    var start = Stopwatch.GetTimestamp();
                    string outcome, body;
                    try
                    {
                        var (status, text) = await WhoamiAsync(http, node, session.Credential);
                        (outcome, body) = (status.ToString(System.Globalization.CultureInfo.InvariantCulture), text);
                    }
                    catch (HttpRequestException e)
                    {
                        (outcome, body) = (e.GetType().Name, e.Message);
                    }
                    var ok = session.Revoked ? outcome == "401" : outcome == "200" && body == session.Body;
                    // A wrong answer is never a matter of convergence: a revoked session that answers 200, a live
                    // one that answers 401 or a different body.
                    if ((session.Revoked && outcome == "200") || (!session.Revoked && outcome is "200" or "401" or "403" && !ok))
                        violations.Enqueue($"session {session.Index} (revoked: {session.Revoked}) answered {outcome} on node {nodeIndex}: {body}");
                    samples.Enqueue(new Sample(session.Index, nodeIndex, start, Stopwatch.GetTimestamp(), outcome, !ok, body));
                }
                TaskCompletionSource? reached = null;
                lock (_gate)
                {
                    _passes++;
                    if (_waiter is { } waiter && _passes >= waiter.Target)
                    {
                        reached = waiter.Reached;
                        _waiter = null;
                    }
                }
                reached?.TrySetResult();
            }
        }
    }

    // ---- HTTP ----------------------------------------------------------------------------------------------

    private static async Task<(int Status, string Body)> WhoamiAsync(HttpClient http, Uri publicUrl, (string Name, string Value) credential)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(publicUrl, "/sessions/whoami"));
        request.Headers.TryAddWithoutValidation(credential.Name, credential.Value);
        using var response = await http.SendAsync(request);
        return ((int)response.StatusCode, await response.Content.ReadAsStringAsync());
    }

    private static async Task<Guid> CreateIdentityAsync(HttpClient http, Uri admin)
    {
        var body = new JsonObject { ["schema_id"] = "default", ["traits"] = new JsonObject { ["email"] = $"{Guid.NewGuid():N}@example.com" } };
        var text = await PostAsync(http, new Uri(admin, "/admin/identities"), body, HttpStatusCode.Created);
        return JsonDocument.Parse(text).RootElement.GetProperty("id").GetGuid();
    }

    private static async Task<IssuedSession> IssueAsync(HttpClient http, Uri admin, Guid identity, string channel)
    {
        var text = await PostAsync(http, new Uri(admin, $"/admin/identities/{identity}/sessions"), new JsonObject { ["channel"] = channel }, HttpStatusCode.Created);
        return new IssuedSession(JsonDocument.Parse(text).RootElement.Clone(), []);
    }

    private static async Task<string> PostAsync(HttpClient http, Uri url, JsonObject body, HttpStatusCode expected)
    {
        using var response = await http.PostAsync(url, new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json"));
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == expected, $"POST {url.AbsolutePath} answered {(int)response.StatusCode}: {text}");
        return text;
    }

    private static async Task AssertStatusAsync(HttpClient http, HttpMethod method, Uri url, HttpStatusCode expected)
    {
        using var response = await http.SendAsync(new HttpRequestMessage(method, url));
        Assert.True(response.StatusCode == expected, $"{method} {url.AbsolutePath} answered {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
    }
}
