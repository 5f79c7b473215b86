using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry;
using OpenTelemetry.Trace;
using OrleansSessions.Api.Tests.Infrastructure;

namespace OrleansSessions.Api.Tests;

/// <summary>
/// What operators watch: Prometheus metrics and the Orleans Dashboard on the admin port behind the admin key,
/// traces that follow a whoami from Kestrel through the grain call to the store, and logs without credentials.
/// </summary>
public sealed class ObservabilityTests
{
    [Fact]
    public async Task Metrics_are_scraped_on_the_admin_port_with_the_admin_key_and_count_what_happened()
    {
        await using var node = await ServiceNode.StartAsync(new NodeOptions { Dev = false });
        var issued = await node.IssueApiSessionAsync();
        Assert.Equal(HttpStatusCode.OK, (await node.WhoamiAsync(issued.TokenHeader)).Status);
        Assert.Equal(HttpStatusCode.NoContent, (await node.SendForAnswerAsync(HttpMethod.Delete, node.Admin($"/admin/sessions/{issued.SessionId}"))).Status);
        Assert.Equal(HttpStatusCode.Unauthorized, (await node.WhoamiAsync(issued.TokenHeader)).Status);

        var withoutKey = await Answer.ReadAsync(await node.HttpWithoutAdminKey.GetAsync(node.Admin("/metrics")));
        Assert.Equal(HttpStatusCode.Unauthorized, withoutKey.Status);
        Assert.Equal(HttpStatusCode.NotFound, (await node.SendForAnswerAsync(HttpMethod.Get, node.Public("/metrics"))).Status);

        var scrape = await node.SendForAnswerAsync(HttpMethod.Get, node.Admin("/metrics"));
        Assert.Equal(HttpStatusCode.OK, scrape.Status);
        var lines = scrape.Body.Split('\n');
        // The meters are per process; tests run in parallel, so these are lower bounds.
        Assert.True(Value(lines, "orleans_sessions_whoami_duration_seconds_count", "outcome=\"active\"") >= 1, scrape.Body);
        Assert.True(Value(lines, "orleans_sessions_whoami_duration_seconds_count", "outcome=\"unauthorized\"") >= 1);
        Assert.True(Value(lines, "orleans_sessions_sessions_issued_total", "channel=\"api\"") >= 1);
        Assert.True(Value(lines, "orleans_sessions_sessions_revoked_total", "scope=\"session\"") >= 1);
        Assert.True(Value(lines, "orleans_sessions_store_duration_seconds_count", "operation=\"RevokeSession\"") >= 1);
        Assert.Contains(lines, l => l.StartsWith("orleans_sessions_sessions_resident", StringComparison.Ordinal));
        // Orleans' own meter and ASP.NET Core's.
        Assert.Contains(lines, l => l.StartsWith("orleans_", StringComparison.Ordinal) && !l.StartsWith("orleans_sessions_", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.StartsWith("http_server_request_duration_seconds", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Dashboard_is_on_the_admin_port_behind_the_admin_key_also_as_basic_authentication_for_browsers()
    {
        await using var node = await ServiceNode.StartAsync(new NodeOptions { Dev = false, ExtraArgs = ["--orleans:dashboard=true"] });
        var refused = await Answer.ReadAsync(await node.HttpWithoutAdminKey.GetAsync(node.Admin("/admin/dashboard/")));
        Assert.Equal(HttpStatusCode.Unauthorized, refused.Status);
        Assert.StartsWith("Basic realm=", refused.Header("WWW-Authenticate"));

        var bearer = await node.SendForAnswerAsync(HttpMethod.Get, node.Admin("/admin/dashboard/"));
        Assert.Equal(HttpStatusCode.OK, bearer.Status);
        Assert.Contains("<title>Orleans Dashboard</title>", bearer.Body);

        using var basic = new HttpRequestMessage(HttpMethod.Get, node.Admin("/dashboard/"));
        basic.Headers.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"admin:{node.AdminKey}")));
        var viaBasic = await Answer.ReadAsync(await node.HttpWithoutAdminKey.SendAsync(basic));
        Assert.Equal(HttpStatusCode.OK, viaBasic.Status);

        using var wrong = new HttpRequestMessage(HttpMethod.Get, node.Admin("/dashboard/"));
        wrong.Headers.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes("admin:not-the-key")));
        Assert.Equal(HttpStatusCode.Unauthorized, (await node.HttpWithoutAdminKey.SendAsync(wrong)).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await node.SendForAnswerAsync(HttpMethod.Get, node.Public("/admin/dashboard/"))).Status);
    }

    [Fact]
    public async Task Dashboard_is_off_unless_configured()
    {
        await using var node = await ServiceNode.StartAsync(new NodeOptions { Dev = false });
        Assert.Equal(HttpStatusCode.NotFound, (await node.SendForAnswerAsync(HttpMethod.Get, node.Admin("/admin/dashboard/"))).Status);
    }

    [Fact]
    public async Task A_whoami_is_one_trace_from_kestrel_through_the_grain_call_to_the_store()
    {
        var spans = new SpanCollector();
        await using var node = await ServiceNode.StartAsync(new NodeOptions
        {
            // Tracing is on with an OTLP endpoint (nothing listens there; export failures are the exporter's business).
            ExtraArgs = [$"--telemetry:otlp:endpoint=http://127.0.0.1:{FreePorts.Next()}"],
            ConfigureServices = services => services.ConfigureOpenTelemetryTracerProvider(b => b.AddProcessor(spans)),
        });
        var issued = await node.IssueApiSessionAsync();
        // A fresh node for the session: evict it so that this whoami reads the store.
        await node.Service<IGrainFactory>().GetGrain<IManagementGrain>(0).ForceActivationCollection(TimeSpan.Zero);
        spans.Reset();
        Assert.Equal(HttpStatusCode.OK, (await node.WhoamiAsync(issued.TokenHeader)).Status);

        // Activity sources are process-wide: other tests' nodes serve whoamis too, so pick this node's by its port.
        var server = await spans.WaitAsync(a => a.Kind == ActivityKind.Server && a.GetTagItem("url.path") as string == "/sessions/whoami"
            && Convert.ToInt32(a.GetTagItem("server.port"), CultureInfo.InvariantCulture) == node.PublicUrl.Port);
        var trace = spans.Completed.Where(a => a.TraceId == server.TraceId).ToList();
        Assert.Contains(trace, a => a.Source.Name.StartsWith("Microsoft.Orleans", StringComparison.Ordinal));
        Assert.Contains(trace, a => a.Source.Name == "OrleansSessions" && a.DisplayName == "store.FindSessionByLookupKey");
        // No credential in any span.
        foreach (var span in trace)
        {
            foreach (var (_, value) in span.EnumerateTagObjects())
                Assert.DoesNotContain(issued.Token, value?.ToString() ?? "");
        }
    }

    [Fact]
    public async Task Logs_of_a_full_run_at_trace_level_never_hold_a_token_a_cookie_a_password_or_the_admin_key()
    {
        var log = new LogCapture();
        await using var node = await ServiceNode.StartAsync(new NodeOptions
        {
            Dev = false,
            ExtraArgs = ["--Logging:LogLevel:Default=Trace", "--Logging:LogLevel:Orleans=Trace", "--Logging:LogLevel:Microsoft=Trace",
                "--session:whoami:tokenizer:templates:jwt:ttl=1m"],
            ConfigureServices = log.AddTo,
        });
        var secrets = new List<string> { node.AdminKey! };

        var user = await node.CreatePasswordIdentityAsync();
        secrets.Add(user.Password);
        var native = await node.LoginNativeAsync(user);
        secrets.Add(native.Token);
        var browserCookie = await node.LoginBrowserAsync(user);
        secrets.Add(browserCookie[(browserCookie.IndexOf('=') + 1)..]);
        var issued = await node.IssueBrowserSessionAsync(user.Id);
        secrets.Add(issued.CookieValue);
        var token = await node.IssueApiSessionAsync(user.Id);
        secrets.Add(token.Token);
        var wrongPassword = await node.SubmitAsync(LoginHelpers.FlowId(await node.NewNativeFlowAsync()),
            LoginHelpers.AsJson(LoginHelpers.PasswordBody(user.Email, "not-the-password-" + Guid.NewGuid().ToString("N"))));
        Assert.Equal(HttpStatusCode.BadRequest, wrongPassword.Status);

        Assert.Equal(HttpStatusCode.OK, (await node.WhoamiAsync(native.TokenHeader)).Status);
        Assert.Equal(HttpStatusCode.OK, (await node.WhoamiAsync(("Authorization", "Bearer " + token.Token))).Status);
        Assert.Equal(HttpStatusCode.OK, (await node.WhoamiAsync(("Cookie", browserCookie))).Status);
        Assert.Equal(HttpStatusCode.OK, (await node.WhoamiAsync(issued.CookieHeader)).Status);
        var tokenized = await Answer.ReadAsync(await node.Http.SendAsync(new HttpRequestMessage(HttpMethod.Get, node.Public("/sessions/whoami?tokenize_as=jwt"))
        {
            Headers = { { "X-Session-Token", token.Token } },
        }));
        Assert.Equal(HttpStatusCode.OK, tokenized.Status);
        secrets.Add(tokenized.Json.GetProperty("tokenized").GetString()!);
        var logoutFlow = await node.SendAsync(HttpMethod.Get, node.Public("/self-service/logout/browser"), null, ("Cookie", browserCookie), ("Accept", "application/json"));
        Assert.Equal(HttpStatusCode.OK, logoutFlow.Status);
        secrets.Add(logoutFlow.Json.GetProperty("logout_token").GetString()!);
        var logout = await node.SendAsync(HttpMethod.Delete, node.Public("/self-service/logout/api"),
            LoginHelpers.AsJson(new JsonObject { ["session_token"] = native.Token }));
        Assert.Equal(HttpStatusCode.NoContent, logout.Status);
        Assert.Equal(HttpStatusCode.Unauthorized, (await node.WhoamiAsync(native.TokenHeader)).Status);
        Assert.Equal(HttpStatusCode.Unauthorized, (await node.WhoamiAsync(("X-Session-Token", "ory_st_" + new string('x', 32)))).Status);
        using var badKey = new HttpRequestMessage(HttpMethod.Get, node.Admin("/admin/sessions"));
        badKey.Headers.Authorization = new AuthenticationHeaderValue("Bearer", "wrong-admin-key-" + Guid.NewGuid().ToString("N"));
        secrets.Add(badKey.Headers.Authorization.Parameter!);
        Assert.Equal(HttpStatusCode.Unauthorized, (await node.HttpWithoutAdminKey.SendAsync(badKey)).StatusCode);

        var entries = log.Entries.ToList();
        Assert.True(entries.Count > 100, $"a trace-level run logs plenty; captured {entries.Count}");
        var text = string.Join('\n', entries.Select(e => $"{e.Category} {e.Message} {e.Exception}"));
        foreach (var secret in secrets)
            Assert.False(text.Contains(secret, StringComparison.Ordinal), $"a credential ({secret.Length} characters) reached the log");
    }

    private static double Value(string[] lines, string metric, string label)
    {
        var matching = lines.Where(l => l.StartsWith(metric + "{", StringComparison.Ordinal) && l.Contains(label, StringComparison.Ordinal)).ToList();
        Assert.True(matching.Count > 0, $"no {metric} with {label}");
        return matching.Sum(l => double.Parse(l[(l.LastIndexOf(' ') + 1)..], System.Globalization.CultureInfo.InvariantCulture));
    }

    /// <summary>Keeps finished spans and signals the one a test waits for.</summary>
    private sealed class SpanCollector : BaseProcessor<Activity>
    {
        private readonly Lock _gate = new();
        private readonly List<Activity> _completed = [];
        private readonly List<(Func<Activity, bool> Match, TaskCompletionSource<Activity> Done)> _waiters = [];

        public IReadOnlyList<Activity> Completed
        {
            get
            {
                lock (_gate)
                    return [.. _completed];
            }
        }

        public void Reset()
        {
            lock (_gate)
                _completed.Clear();
        }

        public override void OnEnd(Activity data)
        {
            lock (_gate)
            {
                _completed.Add(data);
                foreach (var waiter in _waiters.Where(w => w.Match(data)).ToList())
                {
                    _waiters.Remove(waiter);
                    waiter.Done.TrySetResult(data);
                }
            }
        }

        public async Task<Activity> WaitAsync(Func<Activity, bool> match)
        {
            var done = new TaskCompletionSource<Activity>(TaskCreationOptions.RunContinuationsAsynchronously);
            lock (_gate)
            {
                if (_completed.FirstOrDefault(match) is { } already)
                    return already;
                _waiters.Add((match, done));
            }
            return await done.Task.WaitAsync(TimeSpan.FromSeconds(30));
        }
    }
}
