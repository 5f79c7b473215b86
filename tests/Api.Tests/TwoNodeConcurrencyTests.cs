using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Time.Testing;
using OrleansSessions.Api.Credentials;
using OrleansSessions.Api.Tests.Infrastructure;
using OrleansSessions.Json;
using OrleansSessions.Storage;
using OrleansSessions.Tests.Store;
using static OrleansSessions.Api.Tests.Infrastructure.LoginHelpers;

namespace OrleansSessions.Api.Tests;

/// <summary>Two real nodes on one PostgreSQL database (<c>orleans:membership=postgres</c>), forming one cluster.</summary>
public class TwoPostgresNodesFixture : IAsyncLifetime
{
    private string? _database;

    /// <summary>The database both nodes use (a third node may join it).</summary>
    public string Database => _database!;

    /// <summary>The cluster both nodes are members of.</summary>
    public string ClusterId { get; } = $"pg-concurrency-{Guid.NewGuid():N}";

    /// <summary>Arguments both nodes get besides the cluster's.</summary>
    protected virtual Task<string[]> MoreArgsAsync() => Task.FromResult<string[]>([]);

    public ServiceNode A { get; private set; } = null!;

    public ServiceNode B { get; private set; } = null!;

    /// <summary>The nodes' shared clock.</summary>
    public FakeTimeProvider Clock { get; } = new(DateTimeOffset.UtcNow);

    /// <summary>The store as a third party sees it: straight on the database.</summary>
    public PostgresStore Store { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        _database = await PostgresServer.CreateDatabaseAsync();
        Store = new PostgresStore(_database);
        await Store.MigrateAsync();
        var more = await MoreArgsAsync();
        NodeOptions Options() => NodeOptions.PostgresCluster(_database, ClusterId, Clock, more);
        A = await ServiceNode.StartAsync(Options());
        B = await ServiceNode.StartAsync(Options());
        await A.WaitForActiveSilosAsync(2);
        await B.WaitForActiveSilosAsync(2);
    }

    public virtual async Task DisposeAsync()
    {
        if (B is not null)
            await B.DisposeAsync();
        if (A is not null)
            await A.DisposeAsync();
        if (Store is not null)
            await Store.DisposeAsync();
        if (_database is not null)
            await PostgresServer.DropDatabaseAsync(_database);
    }
}

/// <summary>
/// Concurrent writes to one identity and one session through two nodes of one cluster on PostgreSQL: logins of
/// one identity with a password rehash on both nodes, PATCHes and PUTs of one identity, extends racing revokes.
/// Whatever the order, nothing acknowledged is lost.
/// </summary>
public sealed class TwoNodeConcurrencyTests(TwoPostgresNodesFixture fixture) : IClassFixture<TwoPostgresNodesFixture>
{
    private ServiceNode A => fixture.A;

    private ServiceNode B => fixture.B;

    /// <summary>
    /// Six logins at once, three on each node, of an identity whose imported bcrypt hash every one of them wants to
    /// rehash. All succeed, each with its own session, listed on both nodes and stored; exactly one rehash is
    /// written (the others find the hash already replaced), and the identity is intact: the new hash is of the
    /// password, logins after it do not rehash, and nothing else of the identity changed.
    /// </summary>
    [Fact]
    public async Task Concurrent_logins_of_one_identity_on_two_nodes_all_succeed_and_the_rehash_is_not_lost()
    {
        const string password = "imported from the old system, twice";
        var bcrypt = BCrypt.Net.BCrypt.HashPassword(password, workFactor: 4);
        var identity = await A.CreatePasswordIdentityAsync(password, passwordConfig: new JsonObject { ["hashed_password"] = bcrypt });
        var before = (await A.GetIdentityAsync(identity.Id)).Json;
        var nodes = new[] { A, B, A, B, A, B };
        var flows = await Task.WhenAll(nodes.Select(node => node.NewNativeFlowAsync()));

        var answers = await Task.WhenAll(nodes.Select((node, i) => node.SubmitAsync(FlowId(flows[i]), AsJson(PasswordBody(identity.Email, password)))));

        Assert.All(answers, answer => Assert.True(answer.Status == HttpStatusCode.OK, $"login answered {answer}"));
        var logins = answers.Select(answer => new NativeLogin(answer.Json)).ToList();
        var sessionIds = logins.Select(login => login.SessionId).ToHashSet();
        Assert.Equal(nodes.Length, sessionIds.Count);
        foreach (var node in new[] { A, B })
        {
            var listed = await node.ListIdentitySessionsAsync(identity.Id);
            Assert.True(listed.Status == HttpStatusCode.OK, $"listIdentitySessions answered {listed}");
            Assert.Equal(sessionIds.Order(), SessionLists.Ids(listed).Order());
        }
        foreach (var (login, i) in logins.Select((login, i) => (login, i)))
        {
            Assert.NotNull(await fixture.Store.FindLookupKeyAsync(login.SessionId));
            var whoami = await (nodes[i] == A ? B : A).WhoamiAsync(login.TokenHeader);
            Assert.True(whoami.Status == HttpStatusCode.OK, $"whoami on the other node answered {whoami}");
        }

        var stored = await fixture.Store.FindIdentityAsync(identity.Id);
        Assert.Equal(before.GetProperty("traits").GetRawText(), JsonDocument.Parse(stored!.Traits).RootElement.GetRawText());
        Assert.Equal(2, stored.Version);
        var rehashed = (await fixture.Store.FindCredentialsAsync(identity.Id))!.PasswordHash!;
        Assert.StartsWith("$argon2id$", rehashed);
        Assert.Equal(new PasswordCheck(Matches: true, NeedsRehash: false), A.Service<PasswordHasher>().Verify(password, rehashed));
        Assert.Equal(rehashed, (await B.CredentialsAsync(identity.Id))!.PasswordHash);

        await A.LoginNativeAsync(identity);
        await B.LoginNativeAsync(identity);
        Assert.Equal(2, (await fixture.Store.FindIdentityAsync(identity.Id))!.Version);
        Assert.Equal(rehashed, (await fixture.Store.FindCredentialsAsync(identity.Id))!.PasswordHash);
        Assert.Equal(before.GetProperty("traits").GetRawText(), (await B.GetIdentityAsync(identity.Id)).Json.GetProperty("traits").GetRawText());
    }

    /// <summary>
    /// Five PATCHes at once through both nodes, each touching a different field: every one answers 200 and every
    /// change is in the identity afterwards (a PATCH that read a version another one replaced is applied again).
    /// </summary>
    [Fact]
    public async Task Concurrent_patches_of_different_fields_on_two_nodes_all_land()
    {
        var id = await A.CreateIdentityAsync();
        string[] patches =
        [
            """[{"op":"add","path":"/metadata_public/a","value":"from A"}]""",
            """[{"op":"add","path":"/metadata_public/b","value":"from B"}]""",
            """[{"op":"add","path":"/metadata_admin/c","value":"from A"}]""",
            """[{"op":"replace","path":"/metadata_admin/secret_note","value":"replaced from B"}]""",
            $$"""[{"op":"add","path":"/external_id","value":"crm-{{id:N}}"}]""",
        ];

        var answers = await Task.WhenAll(patches.Select((patch, i) => (i % 2 == 0 ? A : B).PatchIdentityAsync(id, patch)));

        Assert.All(answers, answer => Assert.True(answer.Status == HttpStatusCode.OK, $"patchIdentity answered {answer}"));
        foreach (var node in new[] { A, B })
        {
            var identity = (await node.GetIdentityAsync(id)).Json;
            Assert.Equal("free", identity.GetProperty("metadata_public").GetProperty("plan").GetString());
            Assert.Equal("from A", identity.GetProperty("metadata_public").GetProperty("a").GetString());
            Assert.Equal("from B", identity.GetProperty("metadata_public").GetProperty("b").GetString());
            Assert.Equal("from A", identity.GetProperty("metadata_admin").GetProperty("c").GetString());
            Assert.Equal("replaced from B", identity.GetProperty("metadata_admin").GetProperty("secret_note").GetString());
            Assert.Equal($"crm-{id:N}", identity.GetProperty("external_id").GetString());
        }
        Assert.Equal(1 + patches.Length, (await fixture.Store.FindIdentityAsync(id))!.Version);
    }

    /// <summary>PUTs at once through both nodes: each answers 200, and the identity is one of them whole, never a mix of two.</summary>
    [Fact]
    public async Task Concurrent_puts_on_two_nodes_leave_one_whole_body()
    {
        var id = await A.CreateIdentityAsync();
        var email = (await A.GetIdentityAsync(id)).Json.GetProperty("traits").GetProperty("email").GetString()!;
        JsonObject Body(int n) => new()
        {
            ["schema_id"] = "default",
            ["state"] = "active",
            ["traits"] = new JsonObject { ["email"] = email },
            ["metadata_public"] = new JsonObject { ["writer"] = n },
            ["metadata_admin"] = new JsonObject { ["writer"] = n },
            ["external_id"] = $"writer-{n}-{id:N}",
        };

        var answers = await Task.WhenAll(Enumerable.Range(0, 6).Select(n => (n % 2 == 0 ? A : B).PutIdentityAsync(id, Body(n))));

        Assert.All(answers, answer => Assert.True(answer.Status == HttpStatusCode.OK, $"updateIdentity answered {answer}"));
        var identity = (await B.GetIdentityAsync(id)).Json;
        var writer = identity.GetProperty("metadata_public").GetProperty("writer").GetInt32();
        Assert.Equal(writer, identity.GetProperty("metadata_admin").GetProperty("writer").GetInt32());
        Assert.Equal($"writer-{writer}-{id:N}", identity.GetProperty("external_id").GetString());
        Assert.Equal(7, (await fixture.Store.FindIdentityAsync(id))!.Version);
    }

    /// <summary>
    /// Extends on one node racing revokes on the other: a revoke of each session for two identities, delete-all of
    /// the sessions of two more. Every revoke is acknowledged; afterwards every session answers 401 on both nodes,
    /// a revoked one is listed inactive with the expiry that is stored, and a deleted one is gone.
    /// </summary>
    [Fact]
    public async Task Extends_racing_revokes_on_two_nodes_end_revoked_everywhere()
    {
        var identities = new List<(Guid Id, List<IssuedSession> Sessions)>();
        for (var i = 0; i < 4; i++)
        {
            var id = await A.CreateIdentityAsync();
            var sessions = new List<IssuedSession>();
            for (var j = 0; j < 3; j++)
                sessions.Add(await (j % 2 == 0 ? A : B).IssueApiSessionAsync(id));
            identities.Add((id, sessions));
        }
        // Extended sessions then expire later than issued ones.
        fixture.Clock.Advance(TimeSpan.FromMinutes(10));

        var extends = new List<Task<Answer>>();
        var revokes = new List<Task<Answer>>();
        foreach (var ((id, sessions), i) in identities.Select((x, i) => (x, i)))
        {
            var (extender, revoker) = i % 2 == 0 ? (A, B) : (B, A);
            extends.AddRange(sessions.Select(s => extender.ExtendSessionAsync(s.SessionId.ToString())));
            if (i < 2)
                revokes.AddRange(sessions.Select(s => revoker.SendForAnswerAsync(HttpMethod.Delete, revoker.Admin($"/admin/sessions/{s.SessionId}"))));
            else
                revokes.Add(revoker.DeleteIdentitySessionsAsync(id.ToString()));
        }
        var extended = await Task.WhenAll(extends);
        Assert.All(await Task.WhenAll(revokes), answer => Assert.True(answer.Status == HttpStatusCode.NoContent, $"revoke answered {answer}"));
        Assert.All(extended, answer => Assert.True(answer.Code is 200 or 404, $"extend answered {answer}"));

        foreach (var ((_, sessions), i) in identities.Select((x, i) => (x, i)))
        {
            foreach (var session in sessions)
            {
                Assert.Equal(HttpStatusCode.Unauthorized, (await A.WhoamiAsync(session.TokenHeader)).Status);
                Assert.Equal(HttpStatusCode.Unauthorized, (await B.WhoamiAsync(session.TokenHeader)).Status);
                var key = await fixture.Store.FindLookupKeyAsync(session.SessionId);
                if (i >= 2)
                {
                    Assert.Null(key);
                    Assert.Equal(HttpStatusCode.NotFound, (await A.GetSessionAsync(session.SessionId)).Status);
                    continue;
                }
                var stored = await fixture.Store.FindSessionByLookupKeyAsync(key!);
                Assert.True(stored!.Revoked);
                foreach (var node in new[] { A, B })
                {
                    var shown = await node.GetSessionAsync(session.SessionId);
                    Assert.True(shown.Status == HttpStatusCode.OK, $"getSession answered {shown}");
                    Assert.False(shown.Json.GetProperty("active").GetBoolean());
                    Assert.Equal(Rfc3339.Write(stored.ExpiresAt), shown.Json.GetProperty("expires_at").GetString());
                }
            }
        }
    }
}
