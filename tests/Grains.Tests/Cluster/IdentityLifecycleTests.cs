using System.Collections.Concurrent;
using OrleansSessions.Tests.Infrastructure;
using static OrleansSessions.Tests.Infrastructure.Answers;
using static OrleansSessions.Tests.Infrastructure.SessionCluster;

namespace OrleansSessions.Tests.Cluster;

/// <summary>
/// Identity changes (state, traits, deletion) reach every live session of the identity before the change is
/// acknowledged. Each test changes the identity through one silo and looks at its sessions through the other.
/// </summary>
public sealed class IdentityLifecycleTests(SessionClusterFixture fixture) : IClassFixture<SessionClusterFixture>
{
    private SessionCluster Harness => fixture.Cluster;

    private IGrainFactory SiloA => Harness.Grains(0);

    private IGrainFactory SiloB => Harness.Grains(1);

    /// <summary>
    /// Setting the identity inactive makes every one of its sessions unauthorized at once, wherever (and whether)
    /// they are held; setting it active again restores them all.
    /// </summary>
    [Fact]
    public async Task Inactive_identity_makes_every_session_unauthorized_at_once_and_active_again_restores_them()
    {
        var identity = await CreateIdentityAsync(SiloA);
        var sessions = await IssueSpreadAsync(identity.Id);
        var bystanders = await BystandersAsync();
        var grain = SiloA.GetGrain<IIdentityGrain>(identity.Id);

        var disabled = await grain.UpdateAsync(DraftOf(identity) with { State = IdentityRecord.StateInactive }, expectedVersion: null);

        Assert.Equal(IdentityWriteOutcome.Written, disabled.Outcome);
        Assert.NotNull(disabled.Identity);
        Assert.Equal(IdentityRecord.StateInactive, disabled.Identity.State);
        Assert.Equal(identity.Version + 1, disabled.Identity.Version);
        foreach (var session in sessions)
            await AssertUnauthorizedAsync(session, SiloB, SiloA);
        var held = await SiloB.GetGrain<ISessionGrain>(sessions[0].LookupKey).GetAsync();
        Assert.NotNull(held);
        Assert.Equal(disabled.Identity, held.Identity);
        Assert.Equal(IdentityRecord.StateInactive, (await Harness.Store.FindIdentityAsync(identity.Id))!.State);
        // An inactive identity gets no new session either.
        Assert.Equal(SessionIssueOutcome.IdentityDisabled, (await IssueAsync(SiloB, identity.Id, SessionChannel.Api)).Result.Outcome);
        await bystanders.AssertUntouchedAsync(SiloA, SiloB);

        Harness.Clock.Advance(TimeSpan.FromSeconds(3));
        var enabled = await SiloB.GetGrain<IIdentityGrain>(identity.Id).UpdateAsync(DraftOf(identity) with { State = IdentityRecord.StateActive }, expectedVersion: null);

        Assert.Equal(IdentityWriteOutcome.Written, enabled.Outcome);
        Assert.NotNull(enabled.Identity);
        Assert.Equal(identity.Version + 2, enabled.Identity.Version);
        Assert.Equal(Rfc3339.Truncate(Harness.Clock.GetUtcNow()), enabled.Identity.StateChangedAt);
        foreach (var session in sessions)
        {
            var answer = await AssertActiveAsync(session, SiloA, SiloB);
            Assert.Equal(IdentityRecord.StateActive, IdentityMember(answer, "state"));
            Assert.Equal(Rfc3339.Write(enabled.Identity.StateChangedAt!.Value), IdentityMember(answer, "state_changed_at"));
        }
        await bystanders.AssertUntouchedAsync(SiloB, SiloA);
    }

    /// <summary>
    /// Deleting the identity makes every one of its sessions unauthorized at once, and once the cleanup has run leaves
    /// no row of it in the store: not the identity, its credentials or identifiers, nor any of its sessions (revoked
    /// and expired ones too).
    /// </summary>
    [Fact]
    public async Task Deleted_identity_makes_every_session_unauthorized_and_leaves_no_rows()
    {
        var identity = await CreateIdentityAsync(SiloB);
        var email = $"{identity.Id:N}@example.test";
        var sessions = await IssueSpreadAsync(identity.Id);
        var revoked = await IssueAsync(SiloB, identity.Id, SessionChannel.Browser);
        Assert.True(await SiloB.GetGrain<ISessionGrain>(revoked.LookupKey).RevokeAsync());
        var expired = await IssueAsync(SiloA, identity.Id, SessionChannel.Api, lifespan: TimeSpan.FromMinutes(1));
        Harness.Clock.Advance(TimeSpan.FromMinutes(2));
        await AssertUnauthorizedAsync(expired, SiloB);
        var bystanders = await BystandersAsync();
        Assert.Equal((1L, 1L, 1L, sessions.Length + 2L), await SqliteRows.RowsOfIdentityAsync(Harness.DatabasePath, identity.Id));

        Assert.True(await SiloA.GetGrain<IIdentityGrain>(identity.Id).DeleteAsync());

        foreach (var session in sessions)
            await AssertUnauthorizedAsync(session, SiloB, SiloA);
        // One write, whatever the number of sessions: a tombstone whose session rows the cleanup removes.
        Assert.Equal((1L, 0L, 0L, sessions.Length + 2L), await SqliteRows.RowsOfIdentityAsync(Harness.DatabasePath, identity.Id));
        // (The cluster is shared by this class's tests: other deleted identities' rows may go in the same run.)
        Assert.InRange(await SiloB.GetGrain<ISessionCleanupGrain>(0).RunAsync(), sessions.Length + 2, int.MaxValue);
        Assert.Equal((0L, 0L, 0L, 0L), await SqliteRows.RowsOfIdentityAsync(Harness.DatabasePath, identity.Id));
        foreach (var session in sessions.Append(revoked).Append(expired))
            Assert.Null(await Harness.Store.FindSessionByLookupKeyAsync(session.LookupKey));
        Assert.Null(await Harness.Store.FindIdentityAsync(identity.Id));
        Assert.Null(await SiloB.GetGrain<IIdentityGrain>(identity.Id).GetAsync());
        Assert.Null(await SiloB.GetGrain<IIdentityGrain>(identity.Id).GetCredentialsAsync());
        Assert.Null(await SiloB.GetGrain<IIdentityCatalogGrain>(0).FindByIdentifierAsync(email));
        // Gone for good: a second delete finds nothing, and nothing can be issued for it or re-authenticated.
        Assert.False(await SiloB.GetGrain<IIdentityGrain>(identity.Id).DeleteAsync());
        Assert.Equal(SessionIssueOutcome.IdentityNotFound, (await IssueAsync(SiloB, identity.Id, SessionChannel.Api)).Result.Outcome);
        Assert.Null(await SiloB.GetGrain<ISessionGrain>(sessions[0].LookupKey).AuthenticateAgainAsync(Password, TimeSpan.FromHours(1)));
        await bystanders.AssertUntouchedAsync(SiloA, SiloB);
    }

    /// <summary>New traits show in the very next whoami body on both silos, for every session of the identity.</summary>
    [Fact]
    public async Task Traits_change_shows_in_the_next_whoami_body_on_both_silos()
    {
        var identity = await CreateIdentityAsync(SiloA);
        var sessions = await IssueSpreadAsync(identity.Id);
        var bystanders = await BystandersAsync();
        const string traits = """{"email":"grace@example.test","name":{"first":"Grace","last":"Hopper"}}""";
        Assert.NotEqual(traits, identity.Traits);

        var updated = await SiloB.GetGrain<IIdentityGrain>(identity.Id).UpdateAsync(DraftOf(identity) with { Traits = traits }, expectedVersion: null);

        Assert.Equal(IdentityWriteOutcome.Written, updated.Outcome);
        Assert.NotNull(updated.Identity);
        Assert.Equal(traits, updated.Identity.Traits);
        foreach (var session in sessions)
        {
            var answer = await AssertActiveAsync(session, SiloA, SiloB);
            Assert.Equal(traits, TraitsOf(answer));
            // Exactly the body of the session with the new identity, not a patched copy of the old one.
            Assert.Equal(SessionJson.Render(session.Session, updated.Identity, active: true, PublicBaseUrl), answer.Body!.ToArray());
        }
        Assert.Equal(traits, (await Harness.Store.FindIdentityAsync(identity.Id))!.Traits);
        await bystanders.AssertUntouchedAsync(SiloB, SiloA);
    }

    /// <summary>A session whose grain was deactivated, and so not told, picks up the change on its next lookup.</summary>
    [Fact]
    public async Task Deactivated_session_picks_up_the_change_on_its_next_lookup()
    {
        var identity = await CreateIdentityAsync(SiloA);
        var issued = await IssueOnSiloAsync(Harness.Cluster.Silos[0], identity.Id, SessionChannel.Api);
        var before = await AssertActiveAsync(issued, SiloA, SiloB);
        var grain = SiloA.GetGrain<ISessionGrain>(issued.LookupKey);
        await Harness.Cluster.DeactivateAsync(grain);
        Assert.Null(Harness.HostOf(SiloA, issued.LookupKey));
        const string traits = """{"email":"deactivated@example.test","nickname":"dee"}""";

        var updated = await SiloA.GetGrain<IIdentityGrain>(identity.Id).UpdateAsync(DraftOf(identity) with { Traits = traits }, expectedVersion: null);
        Assert.Equal(IdentityWriteOutcome.Written, updated.Outcome);

        var after = await AssertActiveAsync(issued, SiloB, SiloA);
        Assert.Equal(identity.Traits, TraitsOf(before));
        Assert.Equal(traits, TraitsOf(after));
        var view = await grain.GetAsync();
        Assert.NotNull(view);
        Assert.Equal(updated.Identity, view.Identity);
    }

    /// <summary>
    /// Identity changes while whoamis for all of its sessions run through both silos: every answer is active with
    /// either the old or the new traits, and no whoami that starts after UpdateAsync returned answers the old ones.
    /// Half the sessions are out of memory at each change, so that their loads race with it.
    /// </summary>
    [Fact]
    public async Task Identity_change_during_concurrent_whoamis_never_leaves_old_traits_after_it_returns()
    {
        var identity = await CreateIdentityAsync(SiloA);
        var sessions = new List<IssuedSession>();
        for (var i = 0; i < 12; i++)
            sessions.Add(await IssueOnSiloAsync(Harness.Cluster.Silos[i % 2], identity.Id, SessionChannel.Api));
        var bystanders = await BystandersAsync();
        var silos = new[] { SiloA, SiloB };
        var previous = identity.Traits;
        var answersBeforeReturn = 0;

        for (var round = 1; round <= 6; round++)
        {
            foreach (var session in sessions.Where((_, i) => (i + round) % 2 == 0))
                await Harness.Cluster.DeactivateAsync(SiloA.GetGrain<ISessionGrain>(session.LookupKey));
            var traits = $$"""{"email":"{{identity.Id:N}}@example.test","round":{{round}}}""";
            var returned = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            var answers = new ConcurrentQueue<(bool AfterReturn, WhoamiAnswer Answer)>();

            async Task WhoamiUntilPastTheChangeAsync(IGrainFactory grains, IssuedSession session)
            {
                for (var afterReturn = 0; afterReturn < 3;)
                {
                    var isAfter = returned.Task.IsCompleted;
                    answers.Enqueue((isAfter, await WhoamiAsync(grains, session)));
                    if (isAfter)
                        afterReturn++;
                }
            }

            // Every worker's first whoami is sent before the update is.
            var storm = Task.WhenAll(sessions.SelectMany(s => silos.Select(g => WhoamiUntilPastTheChangeAsync(g, s))));
            var updated = await silos[round % 2].GetGrain<IIdentityGrain>(identity.Id).UpdateAsync(DraftOf(identity) with { Traits = traits }, expectedVersion: null);
            returned.SetResult();
            await storm;

            Assert.Equal(IdentityWriteOutcome.Written, updated.Outcome);
            foreach (var (afterReturn, answer) in answers)
            {
                Assert.Equal(WhoamiOutcome.Active, answer.Outcome);
                var seen = TraitsOf(answer);
                if (afterReturn)
                    Assert.Equal(traits, seen);
                else
                    Assert.Contains(seen, new[] { previous, traits });
            }
            Assert.Equal(sessions.Count * silos.Length * 3, answers.Count(a => a.AfterReturn));
            answersBeforeReturn += answers.Count(a => !a.AfterReturn);
            previous = traits;
        }

        Assert.True(answersBeforeReturn >= sessions.Count * silos.Length * 6);
        foreach (var session in sessions)
            Assert.Equal(previous, TraitsOf(await AssertActiveAsync(session, SiloA, SiloB)));
        await bystanders.AssertUntouchedAsync(SiloA, SiloB);
    }

    /// <summary>Changes to one identity leave the sessions of another exactly as they were, byte for byte.</summary>
    [Fact]
    public async Task Changes_to_one_identity_leave_other_identities_sessions_untouched()
    {
        var changed = await CreateIdentityAsync(SiloA);
        var changedSessions = await IssueSpreadAsync(changed.Id);
        var bystanders = await BystandersAsync();
        var other = await IssueSpreadAsync(bystanders.Identity.Id);
        var otherBodies = new List<byte[]>();
        foreach (var session in other)
            otherBodies.Add((await AssertActiveAsync(session, SiloA, SiloB)).Body!.ToArray());
        var grain = SiloB.GetGrain<IIdentityGrain>(changed.Id);

        Assert.Equal(IdentityWriteOutcome.Written, (await grain.UpdateAsync(DraftOf(changed) with { Traits = """{"email":"x@example.test"}""" }, expectedVersion: null)).Outcome);
        Assert.Equal(IdentityWriteOutcome.Written, (await grain.UpdateAsync(DraftOf(changed) with { State = IdentityRecord.StateInactive }, expectedVersion: null)).Outcome);
        Assert.Equal(IdentityWriteOutcome.Written, (await grain.SetTotpSecretAsync("JBSWY3DPEHPK3PXP")).Outcome);
        await AssertUnauthorizedAsync(changedSessions[0], SiloA);
        Assert.True(await grain.DeleteAsync());

        for (var i = 0; i < other.Length; i++)
        {
            var answer = await AssertActiveAsync(other[i], SiloA, SiloB);
            Assert.Equal(otherBodies[i], answer.Body!.ToArray());
            Assert.Equal(WhoamiOutcome.Active, (await WhoamiAsync(SiloA, other[i], requireHighestAal: true)).Outcome);
        }
        await bystanders.AssertUntouchedAsync(SiloA, SiloB);
        Assert.Equal(bystanders.Identity, await Harness.Store.FindIdentityAsync(bystanders.Identity.Id));
        foreach (var session in other)
            SessionClusterTests.AssertSameSession(session.Session, (await Harness.Store.FindSessionByLookupKeyAsync(session.LookupKey))!);
    }

    private static readonly RequestedMethod Password = new() { Method = "password", Aal = AuthenticatorAssurance.Aal1 };

    /// <summary>The draft that would recreate <paramref name="identity"/> as <see cref="SessionCluster.CreateIdentityAsync"/> made it.</summary>
    private static IdentityDraft DraftOf(IdentityRecord identity) => DraftFor(identity.Id, identity.State);

    /// <summary>
    /// Sessions of one identity in every state of memory: looked up and held on silo 0; looked up and held on
    /// silo 1; issued on either silo and never looked up; and one looked up, then deactivated, so held nowhere.
    /// </summary>
    private async Task<IssuedSession[]> IssueSpreadAsync(Guid identityId)
    {
        var (silo0, silo1) = (Harness.Cluster.Silos[0], Harness.Cluster.Silos[1]);
        var lookedUpOn0 = await IssueOnSiloAsync(silo0, identityId, SessionChannel.Api);
        var lookedUpOn1 = await IssueOnSiloAsync(silo1, identityId, SessionChannel.Browser);
        var neverOn0 = await IssueOnSiloAsync(silo0, identityId, SessionChannel.Browser);
        var neverOn1 = await IssueOnSiloAsync(silo1, identityId, SessionChannel.Api);
        var evicted = await IssueAsync(SiloA, identityId, SessionChannel.Api);
        await AssertActiveAsync(lookedUpOn0, SiloB, SiloA);
        await AssertActiveAsync(lookedUpOn1, SiloA, SiloB);
        await AssertActiveAsync(evicted, SiloB);
        await Harness.Cluster.DeactivateAsync(SiloA.GetGrain<ISessionGrain>(evicted.LookupKey));

        Assert.Equal(silo0.SiloAddress, Harness.HostOf(SiloA, lookedUpOn0.LookupKey));
        Assert.Equal(silo1.SiloAddress, Harness.HostOf(SiloA, lookedUpOn1.LookupKey));
        Assert.Equal(silo0.SiloAddress, Harness.HostOf(SiloA, neverOn0.LookupKey));
        Assert.Equal(silo1.SiloAddress, Harness.HostOf(SiloA, neverOn1.LookupKey));
        Assert.Null(Harness.HostOf(SiloA, evicted.LookupKey));
        return [lookedUpOn0, lookedUpOn1, neverOn0, neverOn1, evicted];
    }

    /// <summary>Another identity with a session held on each silo, and what they answered before the test's change.</summary>
    private async Task<Bystanders> BystandersAsync()
    {
        var identity = await CreateIdentityAsync(SiloB);
        var sessions = new[]
        {
            await IssueOnSiloAsync(Harness.Cluster.Silos[0], identity.Id, SessionChannel.Api),
            await IssueOnSiloAsync(Harness.Cluster.Silos[1], identity.Id, SessionChannel.Browser),
        };
        var bodies = new List<byte[]>();
        foreach (var session in sessions)
            bodies.Add((await AssertActiveAsync(session, SiloA, SiloB)).Body!.ToArray());
        return new Bystanders(identity, sessions, bodies);
    }

    private sealed record Bystanders(IdentityRecord Identity, IssuedSession[] Sessions, List<byte[]> Bodies)
    {
        public async Task AssertUntouchedAsync(params IGrainFactory[] silos)
        {
            for (var i = 0; i < Sessions.Length; i++)
                Assert.Equal(Bodies[i], (await AssertActiveAsync(Sessions[i], silos)).Body!.ToArray());
            foreach (var grains in silos)
                Assert.Equal(Identity, await grains.GetGrain<IIdentityGrain>(Identity.Id).GetAsync());
        }
    }
}
