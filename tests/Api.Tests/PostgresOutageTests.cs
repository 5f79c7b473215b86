using System.Net;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;
using Npgsql;
using OrleansSessions.Api.Tests.Infrastructure;
using OrleansSessions.Sessions;

namespace OrleansSessions.Api.Tests;

/// <summary>
/// PostgreSQL restarts while a node serves (issue 5 c). While it is down, whoami answers from memory and every
/// write answers 503 in Kratos's envelope; once it is back the same writes work with no help, and nothing that
/// was acknowledged before is lost. The server is one this test owns (<see cref="OwnPostgres"/>), stopped and
/// started on the same port.
/// </summary>
public sealed class PostgresOutageTests
{
    private static readonly TimeSpan LastSeenInterval = TimeSpan.FromMinutes(1);

    [Fact]
    public async Task While_PostgreSQL_is_down_whoami_answers_from_memory_and_writes_answer_503_then_all_works_again_and_nothing_is_lost()
    {
        await using var postgres = await OwnPostgres.StartAsync();
        var log = new LogCapture();
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        NodeOptions Options() => new()
        {
            Clock = clock,
            ConfigureServices = log.AddTo,
            ExtraArgs =
            [
                "--store:provider=postgres", $"--store:connection_string={postgres.ConnectionString}",
                // With an idle timeout, whoami hands last-seen times to the background writer.
                "--session:idle_timeout=1h", "--session:last_seen_write_interval=1m",
                // Everything the product logs, for the check that no credential reaches a log.
                "--Logging:LogLevel:OrleansSessions=Trace",
            ],
        };
        var node = await ServiceNode.StartAsync(Options());
        ServiceNode? fresh = null;
        try
        {
            // ---- acknowledged before the outage
            var alice = await node.CreatePasswordIdentityAsync();
            var bob = await node.CreatePasswordIdentityAsync();
            var token = await node.IssueApiSessionAsync(alice.Id);
            var browser = await node.IssueBrowserSessionAsync(alice.Id);
            var bobs = await node.IssueApiSessionAsync(bob.Id);
            var doomed = await node.IssueApiSessionAsync(bob.Id);
            var login = await node.LoginNativeAsync(alice);
            var flow = await node.NewNativeFlowAsync();
            var warm = new Dictionary<string, (string Name, string Value)>
            {
                ["token"] = token.TokenHeader, ["cookie"] = browser.CookieHeader, ["bob"] = bobs.TokenHeader, ["login"] = login.TokenHeader,
            };
            var bodies = new Dictionary<string, string>();
            foreach (var (name, credential) in warm)
                bodies[name] = (await AssertWhoamiAsync(node, credential, HttpStatusCode.OK, name)).Body;
            var revoke = await node.SendForAnswerAsync(HttpMethod.Delete, node.Admin($"/admin/sessions/{doomed.SessionId}"));
            Assert.True(revoke.Status == HttpStatusCode.NoContent, $"revoke before the outage: {revoke}");
            await AssertWhoamiAsync(node, doomed.TokenHeader, HttpStatusCode.Unauthorized, "revoked");

            // ---- PostgreSQL down
            await postgres.StopAsync();
            clock.Advance(LastSeenInterval);
            var seenDuringOutage = clock.GetUtcNow();

            foreach (var (name, credential) in warm)
                Assert.Equal(bodies[name], (await AssertWhoamiAsync(node, credential, HttpStatusCode.OK, $"{name} during the outage")).Body);
            await AssertWhoamiAsync(node, doomed.TokenHeader, HttpStatusCode.Unauthorized, "revoked, during the outage");

            AssertStoreUnavailable(await node.SendForAnswerAsync(HttpMethod.Post, node.Admin($"/admin/identities/{alice.Id}/sessions"), """{"channel":"api"}"""),
                "issue a session", postgres);
            AssertStoreUnavailable(await node.SendForAnswerAsync(HttpMethod.Delete, node.Admin($"/admin/sessions/{bobs.SessionId}")),
                "revoke a session", postgres);
            // Login flows are stored (grain storage on PostgreSQL): none starts, and a started one cannot complete.
            AssertStoreUnavailable(await node.CreateNativeFlowAsync(), "start a login flow", postgres);
            AssertStoreUnavailable(await node.SubmitAsync(LoginHelpers.FlowId(flow), LoginHelpers.AsJson(LoginHelpers.PasswordBody(alice.Email, alice.Password))),
                "log in", postgres);
            AssertStoreUnavailable(await node.PostIdentityAsync(IdentityAdmin.Body(IdentityAdmin.NewEmail("outage"))), "create an identity", postgres);
            var ready = await node.SendForAnswerAsync(HttpMethod.Get, node.Admin("/health/ready"));
            Assert.True(ready.Status == HttpStatusCode.ServiceUnavailable, $"ready during the outage: {ready}");

            // The last-seen times whoami recorded cannot be written now: kept, with a warning, and whoami does not notice.
            var writer = node.Service<LastSeenWriter>();
            await writer.FlushAsync();
            Assert.Contains(log.Entries, e => e.Level == LogLevel.Warning && e.Category == typeof(LastSeenWriter).FullName);
            Assert.Equal(bodies["token"], (await AssertWhoamiAsync(node, token.TokenHeader, HttpStatusCode.OK, "after a failed last-seen write")).Body);

            // ---- PostgreSQL back, on the same port; the node recovers by itself (no pool clearing here)
            await postgres.StartAgainAsync();

            var issuedAfter = await node.IssueApiSessionAsync(alice.Id);
            var revokeAfter = await node.SendForAnswerAsync(HttpMethod.Delete, node.Admin($"/admin/sessions/{bobs.SessionId}"));
            Assert.True(revokeAfter.Status == HttpStatusCode.NoContent, $"revoke after the outage: {revokeAfter}");
            warm.Remove("bob");
            var loginAfter = await node.LoginNativeAsync(alice);
            // The login refused during the outage did not use its flow up.
            Assert.Equal("choose_method", (await node.GetFlowAsync(LoginHelpers.FlowId(flow))).Json.GetProperty("state").GetString());
            var created = await node.PostIdentityAsync(IdentityAdmin.Body(IdentityAdmin.NewEmail("after-outage")));
            Assert.True(created.Status == HttpStatusCode.Created, $"create an identity after the outage: {created}");
            ready = await node.SendForAnswerAsync(HttpMethod.Get, node.Admin("/health/ready"));
            Assert.True(ready.Status == HttpStatusCode.OK, $"ready after the outage: {ready}");

            foreach (var (name, credential) in warm)
                Assert.Equal(bodies[name], (await AssertWhoamiAsync(node, credential, HttpStatusCode.OK, $"{name} after the outage")).Body);
            await AssertWhoamiAsync(node, bobs.TokenHeader, HttpStatusCode.Unauthorized, "revoked after the outage");
            await AssertWhoamiAsync(node, issuedAfter.TokenHeader, HttpStatusCode.OK, "issued after the outage");
            await AssertWhoamiAsync(node, loginAfter.TokenHeader, HttpStatusCode.OK, "logged in after the outage");

            // The last-seen times kept through the outage reach the store.
            await writer.FlushAsync();
            var expectedSeen = (seenDuringOutage.UtcTicks - DateTimeOffset.UnixEpoch.UtcTicks) / 10;
            foreach (var id in new[] { token.SessionId, browser.SessionId, login.SessionId })
                Assert.Equal(expectedSeen, await ScalarAsync<long>(postgres, "SELECT last_seen_at FROM sessions WHERE id = @id", id));

            // The store holds exactly the acknowledged sessions: none of the refused writes half-happened.
            var expected = new Dictionary<Guid, long>
            {
                [token.SessionId] = 1, [browser.SessionId] = 1, [login.SessionId] = 1, [issuedAfter.SessionId] = 1, [loginAfter.SessionId] = 1,
                [bobs.SessionId] = 0, [doomed.SessionId] = 0,
            };
            Assert.Equal(expected.OrderBy(p => p.Key), (await SessionRowsAsync(postgres)).OrderBy(p => p.Key));
            Assert.Equal(3L, await ScalarAsync<long>(postgres, "SELECT COUNT(*) FROM identities"));

            Assert.DoesNotContain(log.Entries, e => e.Message.Contains(postgres.Password) || e.Exception?.ToString().Contains(postgres.Password) == true);
            Assert.DoesNotContain(log.Entries, e => e.Level >= LogLevel.Error && e.Category == "OrleansSessions.Api");

            // ---- a fresh node, nothing in memory anywhere: what was acknowledged answers from the store as before
            await node.DisposeAsync();
            fresh = await ServiceNode.StartAsync(Options());
            foreach (var (name, credential) in new Dictionary<string, (string, string)>
                     {
                         ["token"] = token.TokenHeader, ["cookie"] = browser.CookieHeader, ["login"] = login.TokenHeader,
                     })
                Assert.Equal(bodies[name], (await AssertWhoamiAsync(fresh, credential, HttpStatusCode.OK, $"{name} on a fresh node")).Body);
            await AssertWhoamiAsync(fresh, bobs.TokenHeader, HttpStatusCode.Unauthorized, "revoked during recovery, on a fresh node");
            await AssertWhoamiAsync(fresh, doomed.TokenHeader, HttpStatusCode.Unauthorized, "revoked before the outage, on a fresh node");
        }
        finally
        {
            await node.DisposeAsync();
            if (fresh is not null)
                await fresh.DisposeAsync();
        }
    }

    /// <summary>
    /// A restart nobody noticed (no request while the server was down): the node's pool still holds connections
    /// to the old server process. The first request that draws one is answered 503 and drops them all; every
    /// request after it works, however many connections the pool held.
    /// </summary>
    [Fact]
    public async Task After_a_restart_nobody_noticed_at_most_one_request_fails_and_it_fails_as_503()
    {
        await using var postgres = await OwnPostgres.StartAsync();
        await using var node = await ServiceNode.StartAsync(new NodeOptions
        {
            ExtraArgs = ["--store:provider=postgres", $"--store:connection_string={postgres.ConnectionString}"],
        });
        var identity = await node.CreateIdentityAsync();
        // Issuances for different identities run in parallel: the pool grows to several connections.
        await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => node.IssueApiSessionAsync()));
        var acknowledged = await node.IssueApiSessionAsync(identity);

        var connected = await ScalarAsync<long>(postgres, "SELECT COUNT(*) FROM pg_stat_activity WHERE backend_type = 'client backend'");
        await postgres.StopAsync();
        await postgres.StartAgainAsync();

        var refused = 0;
        for (var attempt = 0; attempt < 8; attempt++)
        {
            var answer = await node.SendForAnswerAsync(HttpMethod.Post, node.Admin($"/admin/identities/{identity}/sessions"), """{"channel":"api"}""");
            if (answer.Status == HttpStatusCode.ServiceUnavailable)
            {
                AssertStoreUnavailable(answer, "issue a session just after the restart", postgres);
                refused++;
            }
            else
            {
                Assert.True(answer.Status == HttpStatusCode.Created, $"issue a session after the restart (attempt {attempt + 1}): {answer}");
            }
        }
        Assert.True(refused <= 1, $"{refused} requests failed after the restart ({connected} connections were open before it); the pool should be dropped on the first");
        await AssertWhoamiAsync(node, acknowledged.TokenHeader, HttpStatusCode.OK, "issued before the restart");
    }

    private static async Task<Answer> AssertWhoamiAsync(ServiceNode node, (string Name, string Value) credential, HttpStatusCode expected, string what)
    {
        var answer = await node.WhoamiAsync(credential);
        Assert.True(answer.Status == expected, $"whoami ({what}) answered {answer}, expected {(int)expected}");
        return answer;
    }

    /// <summary>503 in Kratos's envelope, asking to retry, naming neither the server, the password nor any SQL.</summary>
    private static void AssertStoreUnavailable(Answer answer, string what, OwnPostgres postgres)
    {
        Assert.True(answer.Status == HttpStatusCode.ServiceUnavailable, $"{what} during the outage answered {answer}");
        var error = answer.Json.GetProperty("error");
        Assert.Equal(503, error.GetProperty("code").GetInt32());
        Assert.Equal("Service Unavailable", error.GetProperty("status").GetString());
        Assert.Contains("store", error.GetProperty("reason").GetString());
        Assert.False(string.IsNullOrEmpty(error.GetProperty("message").GetString()));
        Assert.Equal("application/json", answer.Header("Content-Type"));
        Assert.NotNull(answer.Header("Retry-After"));
        foreach (var secret in new[] { postgres.Password, postgres.Port.ToString(), "Host=", "127.0.0.1", "SELECT", "INSERT", "UPDATE", "Npgsql" })
            Assert.DoesNotContain(secret, answer.Body);
    }

    private static async Task<T> ScalarAsync<T>(OwnPostgres postgres, string sql, Guid? id = null)
    {
        await using var connection = new NpgsqlConnection(postgres.ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        if (id is { } value)
            command.Parameters.AddWithValue("id", value.ToString());
        return (T)(await command.ExecuteScalarAsync())!;
    }

    private static async Task<Dictionary<Guid, long>> SessionRowsAsync(OwnPostgres postgres)
    {
        await using var connection = new NpgsqlConnection(postgres.ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("SELECT id, active FROM sessions", connection);
        await using var reader = await command.ExecuteReaderAsync();
        var rows = new Dictionary<Guid, long>();
        while (await reader.ReadAsync())
            rows[Guid.Parse(reader.GetString(0))] = Convert.ToInt64(reader.GetValue(1));
        return rows;
    }
}
