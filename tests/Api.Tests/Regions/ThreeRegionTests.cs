using System.Diagnostics;
using System.Net;
using Microsoft.Extensions.Time.Testing;
using OrleansSessions.Api.Tests.Infrastructure;
using OrleansSessions.LinkProxy;
using Xunit.Abstractions;

namespace OrleansSessions.Api.Tests.Regions;

/// <summary>
/// Three regions (eu, us, ap), each its own cluster on its own PostgreSQL server, where every byte between two regions
/// (replication, and a node reading or writing what another region owns) goes through a link proxy that delays it
/// 50 ms each way. A session answers everywhere right after issuance; a revocation reaches every region within the
/// bound; a partition of one pair of regions stops only what the silent region owns, past the lease, in the region
/// that cannot hear it, and loses nothing when it heals; a region restarted answers as before.
/// </summary>
[Collection(TimedCollection.Name)]
public sealed class ThreeRegionTests(ITestOutputHelper output)
{
    private static readonly TimeSpan OneWay = TimeSpan.FromMilliseconds(50);

    [Fact]
    public async Task Through_delayed_links_sessions_answer_everywhere_revocations_arrive_within_the_bound_and_a_partition_loses_nothing()
    {
        // Behind real time, as a fake clock is after a slow start: nothing of the product may mix in the real clock
        // (a heartbeat at real time would vouch for its region far too long on this clock).
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow - TimeSpan.FromHours(1));
        RegionUnderTest[] regions = [await RegionUnderTest.StartAsync("eu", 'e'), await RegionUnderTest.StartAsync("us", 'u'), await RegionUnderTest.StartAsync("ap", 'a')];
        var (eu, us, ap) = (regions[0], regions[1], regions[2]);
        // links[(from, to)]: what region `from` sends to region `to`'s database.
        var links = new Dictionary<(string, string), LatencyProxy>();
        var nodes = new Dictionary<string, ServiceNode>();
        try
        {
            foreach (var from in regions)
                foreach (var to in regions.Where(r => r != from))
                    links[(from.Name, to.Name)] = await LinkedRegions.LinkProxyAsync(to, OneWay);
            string[] Args(RegionUnderTest self) =>
                LinkedRegions.Args(self, regions.Where(r => r != self), peer => links[(self.Name, peer.Name)].Listening.Port);
            foreach (var region in regions)
                nodes[region.Name] = await LinkedRegions.StartNodeAsync(region, Args(region), clock);
            foreach (var region in regions)
                await LinkedRegions.LinkAsync(Args(region), clock);
            LinkedRegions.Beat(clock);
            foreach (var (self, peer) in Pairs(regions))
                await LinkedRegions.UntilVouchedAsync(nodes[self.Name], peer.Name);
            var (euNode, usNode, apNode) = (nodes["eu"], nodes["us"], nodes["ap"]);

            var alice = await euNode.CreateIdentityAsync();
            await LinkedRegions.UntilAsync(async () => (await usNode.SendForAnswerAsync(HttpMethod.Get, usNode.Admin($"/admin/identities/{alice}"))).Status == HttpStatusCode.OK
                && (await apNode.SendForAnswerAsync(HttpMethod.Get, apNode.Admin($"/admin/identities/{alice}"))).Status == HttpStatusCode.OK, "alice everywhere");

            // ---- right after issuance every region answers 200; the first lookup elsewhere reads eu's database once
            var firstLookups = new List<double>();
            for (var i = 0; i < 5; i++)
            {
                var fresh = await euNode.IssueApiSessionAsync(alice);
                foreach (var node in new[] { usNode, apNode })
                {
                    var watch = Stopwatch.StartNew();
                    var answer = await node.WhoamiAsync(fresh.TokenHeader);
                    firstLookups.Add(watch.Elapsed.TotalMilliseconds);
                    Assert.True(answer.Status == HttpStatusCode.OK, $"right after issuance: {answer}");
                }
            }
            output.WriteLine($"first lookup outside the home region: {string.Join(", ", firstLookups.Select(ms => $"{ms:0}"))} ms (one-way {OneWay.TotalMilliseconds:0} ms)");

            // ---- revocations made in eu reach us and ap within one-way latency plus a little (measured from the answer)
            var visible = new List<double>();
            for (var round = 0; round < 8; round++)
            {
                var session = await euNode.IssueApiSessionAsync(alice);
                await LinkedRegions.UntilAnswersAsync(usNode, session.TokenHeader, HttpStatusCode.OK, "held in us");
                await LinkedRegions.UntilAnswersAsync(apNode, session.TokenHeader, HttpStatusCode.OK, "held in ap");
                Assert.Equal(HttpStatusCode.NoContent, (await euNode.SendForAnswerAsync(HttpMethod.Delete, euNode.Admin($"/admin/sessions/{session.SessionId}"))).Status);
                var inUs = Task.Run(() => LinkedRegions.UntilAnswersAsync(usNode, session.TokenHeader, HttpStatusCode.Unauthorized, "revocation in us", HttpStatusCode.OK));
                var inAp = Task.Run(() => LinkedRegions.UntilAnswersAsync(apNode, session.TokenHeader, HttpStatusCode.Unauthorized, "revocation in ap", HttpStatusCode.OK));
                await Task.WhenAll(inUs, inAp);
                visible.Add((await inUs).TotalMilliseconds);
                visible.Add((await inAp).TotalMilliseconds);
            }
            visible.Sort();
            output.WriteLine($"revocation visible in us and ap after: {string.Join(", ", visible.Select(ms => $"{ms:0}"))} ms");
            // The bound is one-way + 100 ms; the median must be within it, and nothing may take seconds.
            Assert.True(visible[visible.Count / 2] <= (OneWay + TimeSpan.FromMilliseconds(100)).TotalMilliseconds, $"median {visible[visible.Count / 2]:0} ms");
            Assert.True(visible[^1] < 2000, $"slowest {visible[^1]:0} ms");

            // ---- eu and us cut from each other; ap hears both
            var held = await euNode.IssueApiSessionAsync(alice);
            var bob = await usNode.CreateIdentityAsync();
            var bobs = await usNode.IssueApiSessionAsync(bob);
            await LinkedRegions.UntilAnswersAsync(usNode, held.TokenHeader, HttpStatusCode.OK, "eu's session held in us");
            await LinkedRegions.UntilAnswersAsync(apNode, held.TokenHeader, HttpStatusCode.OK, "eu's session held in ap");
            await LinkedRegions.UntilAnswersAsync(apNode, bobs.TokenHeader, HttpStatusCode.OK, "us's session held in ap");
            links[("eu", "us")].Cut();
            links[("us", "eu")].Cut();
            clock.Advance(LinkedRegions.Lease / 2);
            Assert.Equal(HttpStatusCode.OK, (await usNode.WhoamiAsync(held.TokenHeader)).Status); // within the lease: from memory
            // eu revokes; us cannot hear it, ap can
            Assert.Equal(HttpStatusCode.NoContent, (await euNode.SendForAnswerAsync(HttpMethod.Delete, euNode.Admin($"/admin/sessions/{held.SessionId}"))).Status);
            await LinkedRegions.UntilAnswersAsync(apNode, held.TokenHeader, HttpStatusCode.Unauthorized, "revocation in ap during the cut", HttpStatusCode.OK);
            // us cannot reach eu's database to revoke an eu session: 503, nothing acknowledged
            var unreachable = await usNode.SendForAnswerAsync(HttpMethod.Delete, usNode.Public("/self-service/logout/api"), $$"""{"session_token":"{{held.Token}}"}""");
            Assert.True(unreachable.Status == HttpStatusCode.ServiceUnavailable, $"logout of an eu session in us during the cut: {unreachable}");
            clock.Advance(LinkedRegions.Lease);
            await LinkedRegions.UntilVouchedAsync(apNode, "eu");
            await LinkedRegions.UntilVouchedAsync(apNode, "us");
            var silent = await usNode.WhoamiAsync(held.TokenHeader);
            Assert.True(silent.Status == HttpStatusCode.ServiceUnavailable, $"eu's session in us past the lease: {silent}");
            Assert.Equal(HttpStatusCode.OK, (await usNode.WhoamiAsync(bobs.TokenHeader)).Status); // us serves its own
            Assert.Equal(HttpStatusCode.OK, (await apNode.WhoamiAsync(bobs.TokenHeader)).Status); // ap hears us
            Assert.Equal(HttpStatusCode.Unauthorized, (await euNode.WhoamiAsync(held.TokenHeader)).Status);

            // ---- healed: us applies what eu revoked meanwhile, and never answered 200 for it
            links[("eu", "us")].Restore();
            links[("us", "eu")].Restore();
            LinkedRegions.Beat(clock);
            var caughtUp = await LinkedRegions.UntilAnswersAsync(usNode, held.TokenHeader, HttpStatusCode.Unauthorized, "the revocation after the heal",
                HttpStatusCode.ServiceUnavailable);
            output.WriteLine($"after the heal, us applied the revocation in {caughtUp.TotalMilliseconds:0} ms");
            await LinkedRegions.UntilVouchedAsync(usNode, "eu");

            // ---- us restarted: every session answers as before (from its database)
            var alive = await euNode.IssueApiSessionAsync(alice);
            await LinkedRegions.UntilAnswersAsync(usNode, alive.TokenHeader, HttpStatusCode.OK, "eu's session in us before the restart");
            await usNode.DisposeAsync();
            nodes["us"] = usNode = await LinkedRegions.StartNodeAsync(us, Args(us), clock);
            LinkedRegions.Beat(clock);
            await LinkedRegions.UntilVouchedAsync(usNode, "eu");
            Assert.Equal(HttpStatusCode.OK, (await usNode.WhoamiAsync(alive.TokenHeader)).Status);
            Assert.Equal(HttpStatusCode.OK, (await usNode.WhoamiAsync(bobs.TokenHeader)).Status);
            Assert.Equal(HttpStatusCode.Unauthorized, (await usNode.WhoamiAsync(held.TokenHeader)).Status);
        }
        finally
        {
            foreach (var node in nodes.Values)
                await node.DisposeAsync();
            foreach (var link in links.Values)
                await link.DisposeAsync();
            foreach (var region in regions)
                await region.Postgres.DisposeAsync();
        }
    }

    private static IEnumerable<(RegionUnderTest Self, RegionUnderTest Peer)> Pairs(RegionUnderTest[] regions) =>
        regions.SelectMany(self => regions.Where(r => r != self).Select(peer => (self, peer)));
}
