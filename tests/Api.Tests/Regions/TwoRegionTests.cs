using System.Diagnostics;
using System.Net;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using Npgsql;
using OrleansSessions.Api.Tests.Infrastructure;
using OrleansSessions.Silo;

namespace OrleansSessions.Api.Tests.Regions;

/// <summary>
/// Two regions, each its own Orleans cluster on its own PostgreSQL server (wal_level=logical), linked by the product's
/// own `regions link`. Sessions issued in one region answer in the other at once (read from the home region until
/// they replicate); revocations made in either region reach the other; a region that stops hearing from its peer stops
/// vouching for the peer's sessions after the lease and serves its own; after the link heals, what was revoked meanwhile
/// is applied. Both regions read one fake clock, which the test moves: heartbeats are written when it moves.
/// </summary>
[Collection(TimedCollection.Name)]
public sealed class TwoRegionTests
{
    private static readonly TimeSpan Lease = LinkedRegions.Lease;
    private static readonly TimeSpan Replication = LinkedRegions.Replication;

    private static Task BeatAsync(FakeTimeProvider clock)
    {
        LinkedRegions.Beat(clock);
        return Task.CompletedTask;
    }

    private static Task UntilVouchedAsync(ServiceNode node, string peer) => LinkedRegions.UntilVouchedAsync(node, peer);

    private static Task SetSubscriptionAsync(RegionUnderTest region, string from, bool enabled) => LinkedRegions.SetSubscriptionAsync(region, from, enabled);

    private static Task UntilAsync(Func<Task<bool>> condition, string what) => LinkedRegions.UntilAsync(condition, what);

    /// <summary>
    /// A browser session of eu opens in us (one cookie key ring, created by eu, the first name: us creates none), a
    /// token of it signed in us verifies with eu's JWKS (one signing key ring), and eu's identity disabled through us's
    /// admin API (written in eu's database) signs its sessions out in both regions; enabled again, they are back.
    /// </summary>
    [Fact]
    public async Task Cookies_open_and_tokens_verify_in_every_region_and_a_disable_through_the_other_region_signs_out_everywhere()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        string[] tokenizer = ["--session:whoami:tokenizer:templates:jwt:ttl=10m", "--session:whoami:tokenizer:key_refresh=1m"];
        await using var pair = await RegionPair.StartAsync(clock, euMore: tokenizer, usMore: tokenizer);
        var (eu, us, euNode, usNode) = (pair.Eu, pair.Us, pair.EuNode, pair.UsNode);
        // eu's keys exist before the link copies them: its JWKS makes the signing key, an issued cookie the ring's key.
        var jwks = await euNode.SendForAnswerAsync(HttpMethod.Get, euNode.Public("/.well-known/jwks.json"));
        Assert.Equal(HttpStatusCode.OK, jwks.Status);
        await pair.LinkAsync();

        var alice = await euNode.CreateIdentityAsync();
        var browser = await euNode.IssueBrowserSessionAsync(alice);
        var inUs = await usNode.WhoamiAsync(browser.CookieHeader);
        Assert.True(inUs.Status == HttpStatusCode.OK, $"eu's cookie in us: {inUs}");

        var token = await euNode.IssueApiSessionAsync(alice);
        Answer tokenized;
        using (var request = new HttpRequestMessage(HttpMethod.Get, usNode.Public("/sessions/whoami?tokenize_as=jwt")))
        {
            request.Headers.Add("X-Session-Token", token.Token);
            tokenized = await Answer.ReadAsync(await usNode.Http.SendAsync(request));
        }
        Assert.True(tokenized.Status == HttpStatusCode.OK, $"tokenize_as in us: {tokenized}");
        var jwt = tokenized.Json.GetProperty("tokenized").GetString()!;
        var kid = System.Text.Json.JsonDocument.Parse(Base64UrlDecode(jwt.Split('.')[0])).RootElement.GetProperty("kid").GetString();
        Assert.Contains(kid!, jwks.Body);
        Assert.Equal(jwks.Body, (await usNode.SendForAnswerAsync(HttpMethod.Get, usNode.Public("/.well-known/jwks.json"))).Body);
        // us made no key of its own: every key in its database came from eu.
        await using (var connection = new NpgsqlConnection(us.Database))
        {
            await connection.OpenAsync();
            await using var regions = new NpgsqlCommand(
                "SELECT region FROM data_protection_keys UNION SELECT region FROM tokenizer_keys UNION SELECT 'none' WHERE NOT EXISTS (SELECT 1 FROM data_protection_keys)", connection);
            var found = new List<string>();
            await using (var reader = await regions.ExecuteReaderAsync())
                while (await reader.ReadAsync())
                    found.Add(reader.GetString(0));
            Assert.Equal(["eu"], found);
        }

        // ---- disabled through us: written in eu's database; both regions answer 401, then 200 again once enabled
        Assert.Equal(HttpStatusCode.OK, (await euNode.WhoamiAsync(token.TokenHeader)).Status);
        const string disable = """[{"op":"replace","path":"/state","value":"inactive"}]""";
        var patch = await usNode.PatchIdentityAsync(alice, disable);
        Assert.True(patch.Status == HttpStatusCode.OK, $"disable through us: {patch}");
        Assert.Equal(HttpStatusCode.Unauthorized, (await usNode.WhoamiAsync(token.TokenHeader)).Status);
        await UntilAsync(async () => (await euNode.WhoamiAsync(token.TokenHeader)).Status == HttpStatusCode.Unauthorized, "the disable seen in eu");
        Assert.Equal(HttpStatusCode.Unauthorized, (await euNode.WhoamiAsync(browser.CookieHeader)).Status);

        Assert.Equal(HttpStatusCode.OK, (await euNode.PatchIdentityAsync(alice, """[{"op":"replace","path":"/state","value":"active"}]""")).Status);
        Assert.Equal(HttpStatusCode.OK, (await euNode.WhoamiAsync(token.TokenHeader)).Status);
        await UntilAsync(async () => (await usNode.WhoamiAsync(browser.CookieHeader)).Status == HttpStatusCode.OK, "enabled again, seen in us");
    }

    /// <summary>
    /// With <c>regions:on_partition=serve</c> a region keeps answering a silent peer's sessions from memory past the lease
    /// (availability chosen over the bound); and eu's identity deleted through us (a tombstone written in eu's database)
    /// takes its sessions in both regions.
    /// </summary>
    [Fact]
    public async Task Serving_through_a_partition_when_chosen_and_an_identity_deleted_through_the_other_region_is_gone_in_both()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var pair = await RegionPair.StartAsync(clock, usMore: ["--regions:on_partition=serve"]);
        var (eu, us, euNode, usNode) = (pair.Eu, pair.Us, pair.EuNode, pair.UsNode);
        await pair.LinkAsync();

        var alice = await euNode.CreateIdentityAsync();
        var session = await euNode.IssueApiSessionAsync(alice);
        await LinkedRegions.UntilAnswersAsync(usNode, session.TokenHeader, HttpStatusCode.OK, "eu's session in us");

        await SetSubscriptionAsync(us, "eu", enabled: false);
        clock.Advance(Lease * 2);
        Assert.Equal(HttpStatusCode.OK, (await usNode.WhoamiAsync(session.TokenHeader)).Status); // past the lease, served as chosen
        await SetSubscriptionAsync(us, "eu", enabled: true);
        await BeatAsync(clock);

        Assert.Equal(HttpStatusCode.NoContent, (await usNode.SendForAnswerAsync(HttpMethod.Delete, usNode.Admin($"/admin/identities/{alice}"))).Status);
        Assert.Equal(HttpStatusCode.Unauthorized, (await usNode.WhoamiAsync(session.TokenHeader)).Status);
        await LinkedRegions.UntilAnswersAsync(euNode, session.TokenHeader, HttpStatusCode.Unauthorized, "the deletion seen in eu", HttpStatusCode.OK);
        Assert.Equal(HttpStatusCode.NotFound, (await euNode.SendForAnswerAsync(HttpMethod.Get, euNode.Admin($"/admin/identities/{alice}"))).Status);
    }

    private static byte[] Base64UrlDecode(string text) => System.Buffers.Text.Base64Url.DecodeFromChars(text);

    [Fact]
    public async Task Sessions_answer_in_both_regions_revocations_cross_and_a_silent_region_is_not_vouched_for_after_the_lease()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var pair = await RegionPair.StartAsync(clock);
        var (eu, us, euNode, usNode) = (pair.Eu, pair.Us, pair.EuNode, pair.UsNode);
        // Each database is migrated by its first node, then linked by the command operators run.
        await pair.LinkAsync();

        // ---- an identity of eu is readable in us once replicated
        var alice = await euNode.CreateIdentityAsync();
        await UntilAsync(async () => (await usNode.SendForAnswerAsync(HttpMethod.Get, usNode.Admin($"/admin/identities/{alice}"))).Status == HttpStatusCode.OK,
            "eu's identity replicated to us");

        // ---- issued in eu, asked in us before replication has it: read once from eu, 200
        await SetSubscriptionAsync(us, "eu", enabled: false);
        var session = await euNode.IssueApiSessionAsync(alice);
        Assert.StartsWith("ory_st_e", session.Token, StringComparison.Ordinal);
        var inUs = await usNode.WhoamiAsync(session.TokenHeader);
        Assert.True(inUs.Status == HttpStatusCode.OK, $"us before replication: {inUs}");
        Assert.Equal(session.SessionId.ToString(), inUs.Json.GetProperty("id").GetString());
        await SetSubscriptionAsync(us, "eu", enabled: true);
        Assert.Equal(HttpStatusCode.OK, (await euNode.WhoamiAsync(session.TokenHeader)).Status);

        // ---- revoked in eu (its home): us answers 401 once the row has replicated
        var watch = Stopwatch.StartNew();
        Assert.Equal(HttpStatusCode.NoContent, (await euNode.SendForAnswerAsync(HttpMethod.Delete, euNode.Admin($"/admin/sessions/{session.SessionId}"))).Status);
        Assert.Equal(HttpStatusCode.Unauthorized, (await euNode.WhoamiAsync(session.TokenHeader)).Status);
        await UntilAsync(async () => (await usNode.WhoamiAsync(session.TokenHeader)).Status == HttpStatusCode.Unauthorized, "eu's revocation seen in us");
        Assert.True(watch.Elapsed < Replication, $"revocation took {watch.Elapsed} to reach us");

        // ---- an eu session revoked in us (logout there): written in eu's database, eu answers 401 at once after it
        var second = await euNode.IssueApiSessionAsync(alice);
        Assert.Equal(HttpStatusCode.OK, (await euNode.WhoamiAsync(second.TokenHeader)).Status);
        Assert.Equal(HttpStatusCode.OK, (await usNode.WhoamiAsync(second.TokenHeader)).Status);
        var logout = await usNode.SendForAnswerAsync(HttpMethod.Delete, usNode.Public("/self-service/logout/api"), $$"""{"session_token":"{{second.Token}}"}""");
        Assert.True(logout.Status == HttpStatusCode.NoContent, $"logout in us: {logout}");
        Assert.Equal(HttpStatusCode.Unauthorized, (await usNode.WhoamiAsync(second.TokenHeader)).Status);
        await UntilAsync(async () => (await euNode.WhoamiAsync(second.TokenHeader)).Status == HttpStatusCode.Unauthorized, "us's logout seen in eu");

        // ---- revoke-all of eu's identity acknowledged in us: the mark is written in eu's database
        var third = await euNode.IssueApiSessionAsync(alice);
        Assert.Equal(HttpStatusCode.OK, (await euNode.WhoamiAsync(third.TokenHeader)).Status);
        Assert.Equal(HttpStatusCode.OK, (await usNode.WhoamiAsync(third.TokenHeader)).Status);
        Assert.Equal(HttpStatusCode.NoContent, (await usNode.SendForAnswerAsync(HttpMethod.Delete, usNode.Admin($"/admin/identities/{alice}/sessions"))).Status);
        Assert.Equal(HttpStatusCode.Unauthorized, (await usNode.WhoamiAsync(third.TokenHeader)).Status);
        await UntilAsync(async () => (await euNode.WhoamiAsync(third.TokenHeader)).Status == HttpStatusCode.Unauthorized, "revoke-all from us seen in eu");

        // ---- us's own session of us's own identity, and a fresh eu session, both served in us
        var bob = await usNode.CreateIdentityAsync();
        var bobs = await usNode.IssueApiSessionAsync(bob);
        Assert.StartsWith("ory_st_u", bobs.Token, StringComparison.Ordinal);
        var fourth = await euNode.IssueApiSessionAsync(alice);
        await UntilAsync(async () => (await usNode.WhoamiAsync(fourth.TokenHeader)).Status == HttpStatusCode.OK, "a new eu session in us");

        // ---- us stops hearing from eu: within the lease it serves eu's session from memory, past it 503; its own stays 200
        await SetSubscriptionAsync(us, "eu", enabled: false);
        clock.Advance(Lease / 2);
        Assert.Equal(HttpStatusCode.OK, (await usNode.WhoamiAsync(fourth.TokenHeader)).Status);
        // eu revokes meanwhile; us cannot know
        Assert.Equal(HttpStatusCode.NoContent, (await euNode.SendForAnswerAsync(HttpMethod.Delete, euNode.Admin($"/admin/sessions/{fourth.SessionId}"))).Status);
        clock.Advance(Lease);
        var silent = await usNode.WhoamiAsync(fourth.TokenHeader);
        Assert.True(silent.Status == HttpStatusCode.ServiceUnavailable, $"eu's session in us past the lease: {silent}");
        Assert.Equal(HttpStatusCode.OK, (await usNode.WhoamiAsync(bobs.TokenHeader)).Status);

        // ---- the link heals: the revocation made meanwhile is applied, and the session never answered 200 again
        await SetSubscriptionAsync(us, "eu", enabled: true);
        await BeatAsync(clock);
        await UntilAsync(async () =>
        {
            var answer = await usNode.WhoamiAsync(fourth.TokenHeader);
            Assert.NotEqual(HttpStatusCode.OK, answer.Status);
            return answer.Status == HttpStatusCode.Unauthorized;
        }, "eu's revocation during the partition applied in us");
        var fifth = await euNode.IssueApiSessionAsync(alice);
        await UntilAsync(async () => (await usNode.WhoamiAsync(fifth.TokenHeader)).Status == HttpStatusCode.OK, "eu vouched for again after the heal");
    }
}
