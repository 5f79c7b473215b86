using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Time.Testing;
using OrleansSessions.Api.Tests.Infrastructure;
using OrleansSessions.Sessions;
using OrleansSessions.Storage;
using OrleansSessions.Tests.Store;
using static OrleansSessions.Api.Tests.Infrastructure.LoginHelpers;

namespace OrleansSessions.Api.Tests;

/// <summary>
/// Login flows (and spent TOTP codes) on PostgreSQL are kept in Orleans' ADO.NET grain storage (migration 0008): a flow started before its
/// silo restarts, or is killed, is submitted after as if nothing happened, in whatever state it was left.
/// </summary>
public sealed class LoginFlowRestartTests
{
    private static async Task<int> StoredAsync(string database, string state = "login-flow") =>
        int.Parse((await PostgresServer.ColumnAsync(database, $"SELECT count(*) FROM orleans_grain_state WHERE grain_type = '{state}'"))[0]);

    [Fact]
    public async Task Flows_started_before_a_restart_are_submitted_after_it_in_the_state_they_were_left()
    {
        var database = await PostgresServer.CreateDatabaseAsync();
        var clusterId = $"pg-flows-{Guid.NewGuid():N}";
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        NodeOptions Options() => NodeOptions.PostgresCluster(database, clusterId, clock);
        try
        {
            await using (var store = new PostgresStore(database))
                await store.MigrateAsync();
            PasswordIdentity identity, second;
            string spentCode;
            Guid fresh, failed, used;
            BrowserFlow browser;
            string failedBefore;
            await using (var before = await ServiceNode.StartAsync(Options()))
            {
                identity = await before.CreatePasswordIdentityAsync();
                fresh = FlowId(await before.NewNativeFlowAsync());
                browser = await before.NewBrowserFlowAsync();
                failed = FlowId(await before.NewNativeFlowAsync());
                Assert.Equal(HttpStatusCode.BadRequest, (await before.SubmitAsync(failed, AsJson(PasswordBody(identity.Email, "not the password")))).Status);
                failedBefore = (await before.GetFlowAsync(failed)).Body;
                used = FlowId(await before.NewNativeFlowAsync());
                Assert.Equal(HttpStatusCode.OK, (await before.SubmitAsync(used, AsJson(PasswordBody(identity.Email, identity.Password)))).Status);
                Assert.Equal(4, await StoredAsync(database));
                // A TOTP code spent just before the restart …
                second = await before.CreatePasswordIdentityAsync();
                spentCode = before.TotpCodeNow(await before.EnableTotpAsync(second.Id));
                Assert.Equal(HttpStatusCode.OK, (await before.SecondFactorAsync(second, spentCode)).Status);
            }

            await using var after = await ServiceNode.StartAsync(Options());
            // Untouched: signs in.
            var signedIn = await after.SubmitAsync(fresh, AsJson(PasswordBody(identity.Email, identity.Password)));
            Assert.True(signedIn.Status == HttpStatusCode.OK, $"fresh flow after the restart: {signedIn}");
            Assert.Equal(HttpStatusCode.OK, (await after.WhoamiAsync(("X-Session-Token", signedIn.Json.GetProperty("session_token").GetString()!))).Status);
            // A browser flow: its CSRF cookie and token still match it, and the form post signs in.
            var posted = await after.SubmitBrowserFormAsync(browser, identity.Email, identity.Password);
            Assert.True(posted.Status == HttpStatusCode.SeeOther, $"browser flow after the restart: {posted}");
            Assert.Equal(HttpStatusCode.OK, (await after.WhoamiAsync(("Cookie", SessionCookiePair(posted)))).Status);
            // A failed one: the same flow, its message and filled-in identifier kept, and still usable.
            var failedAfter = await after.GetFlowAsync(failed);
            Assert.Equal(failedBefore.Replace(PublicHost(failedBefore), "", StringComparison.Ordinal),
                failedAfter.Body.Replace(PublicHost(failedAfter.Body), "", StringComparison.Ordinal));
            Assert.Equal(identity.Email, UiNode(failedAfter.Json, "identifier").GetProperty("attributes").GetProperty("value").GetString());
            Assert.Equal(HttpStatusCode.OK, (await after.SubmitAsync(failed, AsJson(PasswordBody(identity.Email, identity.Password)))).Status);
            // A used one stays used: Kratos's answer for a completed flow, no second session.
            var again = await after.SubmitAsync(used, AsJson(PasswordBody(identity.Email, identity.Password)));
            Assert.Equal(HttpStatusCode.BadRequest, again.Status);
            Assert.Equal(4010002, again.Json.GetProperty("ui").GetProperty("messages")[0].GetProperty("id").GetInt32());
            Assert.Equal(4, (await after.ListIdentitySessionsAsync(identity.Id)).Json.GetArrayLength());
            // … is still spent after it, within its window: the identity grain that took it is gone, its record is not.
            var replayed = await after.SecondFactorAsync(second, spentCode);
            Assert.Equal(HttpStatusCode.BadRequest, replayed.Status);
            Assert.Equal(4000008, TotpMessageId(replayed));

            // The cleanup forgets stored flows once they expired and their 410 time is over, and spent steps once their
            // code is over, not before.
            var stored = await StoredAsync(database);
            Assert.Equal(4 + 2 + 2, stored); // the four above, and two for each sign-in with a second factor
            Assert.Equal(0, await after.Service<IGrainFactory>().GetGrain<ISessionCleanupGrain>(0).RunAsync());
            Assert.Equal(stored, await StoredAsync(database));
            Assert.Equal(1, await StoredAsync(database, "totp-step"));
            clock.Advance(TimeSpan.FromHours(1) + TimeSpan.FromMinutes(11));
            await after.Service<IGrainFactory>().GetGrain<ISessionCleanupGrain>(0).RunAsync();
            Assert.Equal(0, await StoredAsync(database));
            Assert.Equal(0, await StoredAsync(database, "totp-step"));
        }
        finally
        {
            await PostgresServer.DropDatabaseAsync(database);
        }
    }

    /// <summary>The public base URL a flow body names (its request_url and action), which the restarted node changes.</summary>
    private static string PublicHost(string body)
    {
        var url = new Uri(JsonDocument.Parse(body).RootElement.GetProperty("request_url").GetString()!);
        return url.GetLeftPart(UriPartial.Authority);
    }

    /// <summary>
    /// A rolling restart done the hard way: two real node processes of one cluster on PostgreSQL, flows created through
    /// both, then each silo in turn killed (SIGKILL: no shutdown of any kind) and replaced by a new one. Whichever silo
    /// held a flow, none of those holding them is left, and every flow signs in through the last one.
    /// </summary>
    [Fact]
    public async Task Flows_started_before_a_rolling_restart_by_kill_sign_in_after_it()
    {
        const int Flows = 8;
        var database = await PostgresServer.CreateDatabaseAsync();
        var clusterId = $"pg-flow-kill-{Guid.NewGuid():N}";
        var silos = new List<SiloProcess>();
        SiloProcess Start(string name)
        {
            var silo = SiloProcess.Start(name,
            [
                "--serve:public:host=127.0.0.1", "--serve:public:port=0", "--serve:admin:host=127.0.0.1", "--serve:admin:port=0",
                "--orleans:membership=postgres", "--orleans:advertised_ip=127.0.0.1",
                $"--orleans:cluster_id={clusterId}", $"--orleans:service_id={clusterId}",
                $"--orleans:silo_port={FreePorts.Next()}", $"--orleans:gateway_port={FreePorts.Next()}",
                "--store:provider=postgres", "--store:migrate_on_start=false", "--dev=true",
                "--hashers:argon2:memory_kib=1024", "--hashers:argon2:iterations=1", "--hashers:argon2:parallelism=1",
                "--orleans:probe_timeout=250ms", "--orleans:missed_probes_limit=2", "--orleans:votes_for_death=1",
                "--Logging:LogLevel:Default=Warning", "--Logging:LogLevel:Orleans=Error", "--Logging:LogLevel:OrleansSessions=Information",
            ], new Dictionary<string, string> { ["store__connection_string"] = database });
            silos.Add(silo);
            return silo;
        }
        static Task SeesAsync(SiloProcess silo, int active) =>
            silo.LineAsync(l => l.Contains("Cluster membership: ", StringComparison.Ordinal) && l.EndsWith($"({active} active)", StringComparison.Ordinal))
                .WaitAsync(SiloProcess.StartTimeout);
        async Task KillAsync(SiloProcess doomed, SiloProcess survivor)
        {
            doomed.Kill();
            await doomed.WaitExitAsync(SiloProcess.StartTimeout);
            await SeesAsync(survivor, 1);
        }
        try
        {
            await using (var store = new PostgresStore(database))
                await store.MigrateAsync();
            SiloProcess first = Start("first"), second = Start("second");
            var (firstPublic, firstAdmin) = await first.WaitReadyAsync();
            var (secondPublic, _) = await second.WaitReadyAsync();
            await SeesAsync(first, 2);
            await SeesAsync(second, 2);

            using var http = new HttpClient();
            const string email = "killed-silo@example.test", password = "a flow outlives its silo";
            var identity = new JsonObject
            {
                ["schema_id"] = "default",
                ["traits"] = new JsonObject { ["email"] = email },
                ["credentials"] = new JsonObject { ["password"] = new JsonObject { ["config"] = new JsonObject { ["password"] = password } } },
            };
            using (var created = await http.PostAsJsonAsync(new Uri(firstAdmin, "/admin/identities"), identity))
                Assert.Equal(HttpStatusCode.Created, created.StatusCode);
            var flowIds = new List<Guid>();
            for (var i = 0; i < Flows; i++)
            {
                var through = i % 2 == 0 ? firstPublic : secondPublic;
                flowIds.Add((await http.GetFromJsonAsync<JsonElement>(new Uri(through, "/self-service/login/api"))).GetProperty("id").GetGuid());
            }

            await KillAsync(first, second);
            var third = Start("third");
            var (thirdPublic, _) = await third.WaitReadyAsync();
            await SeesAsync(third, 2);
            await KillAsync(second, third);

            foreach (var flowId in flowIds)
            {
                using var submitted = await http.PostAsJsonAsync(new Uri(thirdPublic, $"/self-service/login?flow={flowId}"),
                    new JsonObject { ["method"] = "password", ["identifier"] = email, ["password"] = password });
                var body = await submitted.Content.ReadAsStringAsync();
                Assert.True(submitted.StatusCode == HttpStatusCode.OK, $"flow {flowId} after the kill answered {(int)submitted.StatusCode}: {body}");
                Assert.StartsWith("ory_st_", JsonDocument.Parse(body).RootElement.GetProperty("session_token").GetString());
            }
        }
        finally
        {
            foreach (var silo in silos)
                await silo.DisposeAsync();
            await PostgresServer.DropDatabaseAsync(database);
        }
    }
}
