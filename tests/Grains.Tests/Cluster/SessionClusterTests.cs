using OrleansSessions.Tests.Infrastructure;
using static OrleansSessions.Tests.Infrastructure.SessionCluster;

namespace OrleansSessions.Tests.Cluster;

/// <summary>
/// Sessions and identities on a two-silo cluster over one SQLite store. The tests share one cluster;
/// each works on identities and sessions of its own.
/// </summary>
public sealed class SessionClusterTests(SessionClusterFixture fixture) : IClassFixture<SessionClusterFixture>
{
    private SessionCluster Harness => fixture.Cluster;

    private IGrainFactory SiloA => Harness.Grains(0);

    private IGrainFactory SiloB => Harness.Grains(1);

    /// <summary>A session issued through silo A is answered, with the same body, through silo B and through A.</summary>
    [Fact]
    public async Task Whoami_through_either_silo_answers_the_same_session()
    {
        var identity = await CreateIdentityAsync(SiloA);
        var issued = await IssueAsync(SiloA, identity.Id, SessionChannel.Api);
        Assert.Equal(SessionIssueOutcome.Issued, issued.Result.Outcome);

        var throughB = await SiloB.GetGrain<ISessionGrain>(issued.LookupKey).WhoamiAsync(SessionChannel.Api, false);
        var throughA = await SiloA.GetGrain<ISessionGrain>(issued.LookupKey).WhoamiAsync(SessionChannel.Api, false);

        Assert.Equal(WhoamiOutcome.Active, throughB.Outcome);
        Assert.Equal(WhoamiOutcome.Active, throughA.Outcome);
        Assert.NotNull(throughB.Body);
        Assert.Equal(throughB.Body!.ToArray(), throughA.Body!.ToArray());
        Assert.Equal(identity.Id.ToString(), throughB.IdentityId);
        Assert.Equal(issued.Session.ExpiresAt, throughB.ExpiresAt);
        Assert.Equal(SessionJson.Render(issued.Session, identity, active: true, PublicBaseUrl), throughB.Body!.ToArray());

        using var body = JsonDocument.Parse(throughB.Body!.ToArray());
        Assert.Equal(issued.Session.Id.ToString(), body.RootElement.GetProperty("id").GetString());
        Assert.True(body.RootElement.GetProperty("active").GetBoolean());
        Assert.Equal(identity.Id.ToString(), body.RootElement.GetProperty("identity").GetProperty("id").GetString());
    }

    /// <summary>A browser session is answered through its cookie (the Browser carrier) on either silo.</summary>
    [Fact]
    public async Task Browser_session_is_answered_through_the_cookie_carrier()
    {
        var identity = await CreateIdentityAsync(SiloB);
        var issued = await IssueAsync(SiloB, identity.Id, SessionChannel.Browser);

        var answer = await SiloA.GetGrain<ISessionGrain>(issued.LookupKey).WhoamiAsync(SessionChannel.Browser, false);

        Assert.Equal(WhoamiOutcome.Active, answer.Outcome);
        Assert.Equal(SessionJson.Render(issued.Session, identity, active: true, PublicBaseUrl), answer.Body!.ToArray());
    }

    /// <summary>An API session presented as a browser cookie, or a browser session presented as a token, is refused.</summary>
    [Fact]
    public async Task Session_presented_through_the_other_carrier_is_unauthorized()
    {
        var identity = await CreateIdentityAsync(SiloA);
        var apiSession = await IssueAsync(SiloA, identity.Id, SessionChannel.Api);
        var browserSession = await IssueAsync(SiloA, identity.Id, SessionChannel.Browser);

        var apiAsBrowser = await SiloB.GetGrain<ISessionGrain>(apiSession.LookupKey).WhoamiAsync(SessionChannel.Browser, false);
        var browserAsApi = await SiloB.GetGrain<ISessionGrain>(browserSession.LookupKey).WhoamiAsync(SessionChannel.Api, false);

        Assert.Equal(WhoamiOutcome.Unauthorized, apiAsBrowser.Outcome);
        Assert.Null(apiAsBrowser.Body);
        Assert.Equal(WhoamiOutcome.Unauthorized, browserAsApi.Outcome);
        Assert.Null(browserAsApi.Body);
        // Refusing the wrong carrier does not spoil the right one.
        Assert.Equal(WhoamiOutcome.Active, (await SiloA.GetGrain<ISessionGrain>(apiSession.LookupKey).WhoamiAsync(SessionChannel.Api, false)).Outcome);
        Assert.Equal(WhoamiOutcome.Active, (await SiloA.GetGrain<ISessionGrain>(browserSession.LookupKey).WhoamiAsync(SessionChannel.Browser, false)).Outcome);
    }

    /// <summary>A revoke through silo A is seen by the very next whoami through silo B, and is durable.</summary>
    [Fact]
    public async Task Revoke_through_one_silo_is_seen_by_the_next_whoami_through_the_other()
    {
        var identity = await CreateIdentityAsync(SiloA);
        var issued = await IssueAsync(SiloA, identity.Id, SessionChannel.Api);
        Assert.Equal(WhoamiOutcome.Active, (await SiloB.GetGrain<ISessionGrain>(issued.LookupKey).WhoamiAsync(SessionChannel.Api, false)).Outcome);

        // Whatever earlier tests did to the shared clock, revoke at an instant that has sub-microsecond ticks.
        Harness.Clock.SetUtcNow(Rfc3339.Truncate(Harness.Clock.GetUtcNow()).AddTicks(17));
        Assert.True(await SiloA.GetGrain<ISessionGrain>(issued.LookupKey).RevokeAsync());

        var answer = await SiloB.GetGrain<ISessionGrain>(issued.LookupKey).WhoamiAsync(SessionChannel.Api, false);
        Assert.Equal(WhoamiOutcome.Unauthorized, answer.Outcome);
        Assert.Null(answer.Body);

        var row = await Harness.Store.FindSessionByLookupKeyAsync(issued.LookupKey);
        Assert.NotNull(row);
        Assert.True(row.Revoked);
        // What the grain holds after the revoke is what the store says.
        var held = await SiloB.GetGrain<ISessionGrain>(issued.LookupKey).GetAsync();
        Assert.NotNull(held);
        Assert.True(held.Session.Revoked);
        Assert.Equal(row.UpdatedAt, held.Session.UpdatedAt);
        Assert.Equal(Rfc3339.Truncate(Harness.Clock.GetUtcNow()), row.UpdatedAt);
        // Revoking again is acknowledged and changes nothing.
        Assert.True(await SiloB.GetGrain<ISessionGrain>(issued.LookupKey).RevokeAsync());
    }

    /// <summary>Revoking a lookup key no session has answers false.</summary>
    [Fact]
    public async Task Revoke_of_an_unknown_session_answers_false()
    {
        var lookupKey = SessionToken.LookupKey(SessionToken.New());

        Assert.False(await SiloA.GetGrain<ISessionGrain>(lookupKey).RevokeAsync());
    }

    /// <summary>A session is active until its expires_at and unauthorized from then on.</summary>
    [Fact]
    public async Task Whoami_after_expires_at_is_unauthorized()
    {
        var identity = await CreateIdentityAsync(SiloA);
        var issued = await IssueAsync(SiloA, identity.Id, SessionChannel.Api, lifespan: TimeSpan.FromHours(1));
        var grainOnB = SiloB.GetGrain<ISessionGrain>(issued.LookupKey);
        var expiresAt = issued.Session.ExpiresAt;
        Assert.True(expiresAt > Harness.Clock.GetUtcNow());

        Harness.Clock.SetUtcNow(expiresAt.AddTicks(-10));
        Assert.Equal(WhoamiOutcome.Active, (await grainOnB.WhoamiAsync(SessionChannel.Api, false)).Outcome);

        Harness.Clock.SetUtcNow(expiresAt.AddTicks(10));
        var answer = await grainOnB.WhoamiAsync(SessionChannel.Api, false);
        Assert.Equal(WhoamiOutcome.Unauthorized, answer.Outcome);
        Assert.Null(answer.Body);
        Assert.Equal(WhoamiOutcome.Unauthorized, (await SiloA.GetGrain<ISessionGrain>(issued.LookupKey).WhoamiAsync(SessionChannel.Api, false)).Outcome);
    }

    /// <summary>A lookup key that no session was issued under is unauthorized, and the probe stores nothing.</summary>
    [Fact]
    public async Task Whoami_with_an_unknown_lookup_key_is_unauthorized()
    {
        var lookupKey = SessionToken.LookupKey(SessionToken.New());

        var answer = await SiloB.GetGrain<ISessionGrain>(lookupKey).WhoamiAsync(SessionChannel.Api, false);

        Assert.Equal(WhoamiOutcome.Unauthorized, answer.Outcome);
        Assert.Null(answer.Body);
        Assert.Null(await SiloA.GetGrain<ISessionGrain>(lookupKey).GetAsync());
        Assert.Null(await Harness.Store.FindSessionByLookupKeyAsync(lookupKey));
    }

    /// <summary>An inactive identity gets no session: issuance answers IdentityDisabled and stores nothing.</summary>
    [Fact]
    public async Task Issue_for_an_inactive_identity_fails_with_IdentityDisabled()
    {
        var identity = await CreateIdentityAsync(SiloA, IdentityRecord.StateInactive);
        Assert.Equal(IdentityRecord.StateInactive, identity.State);

        var issued = await IssueAsync(SiloB, identity.Id, SessionChannel.Api);

        Assert.Equal(SessionIssueOutcome.IdentityDisabled, issued.Result.Outcome);
        Assert.Null(issued.Result.Issued);
        Assert.Null(await Harness.Store.FindSessionByLookupKeyAsync(issued.LookupKey));
        Assert.Equal(WhoamiOutcome.Unauthorized, (await SiloA.GetGrain<ISessionGrain>(issued.LookupKey).WhoamiAsync(SessionChannel.Api, false)).Outcome);
    }

    /// <summary>Issuing for an identity that does not exist answers IdentityNotFound.</summary>
    [Fact]
    public async Task Issue_for_an_unknown_identity_fails_with_IdentityNotFound()
    {
        var issued = await IssueAsync(SiloA, Guid.NewGuid(), SessionChannel.Api);

        Assert.Equal(SessionIssueOutcome.IdentityNotFound, issued.Result.Outcome);
        Assert.Null(await Harness.Store.FindSessionByLookupKeyAsync(issued.LookupKey));
    }

    /// <summary>Creating an identity is durable, and a second create under the same id is a conflict.</summary>
    [Fact]
    public async Task Identity_create_is_durable_and_a_second_create_conflicts()
    {
        var identity = await CreateIdentityAsync(SiloA);

        Assert.Equal(identity, await Harness.Store.FindIdentityAsync(identity.Id));
        Assert.Equal(identity, await SiloB.GetGrain<IIdentityGrain>(identity.Id).GetAsync());
        var again = await SiloB.GetGrain<IIdentityGrain>(identity.Id).CreateAsync(new IdentityDraft
        {
            SchemaId = "default", State = IdentityRecord.StateActive, Traits = "{}",
        });
        Assert.Equal(IdentityWriteOutcome.IdTaken, again.Outcome);
        Assert.Null(again.Identity);
    }

    /// <summary>GetAsync returns the session as stored together with its identity.</summary>
    [Fact]
    public async Task Get_returns_the_session_and_its_identity()
    {
        var identity = await CreateIdentityAsync(SiloA);
        var issued = await IssueAsync(SiloA, identity.Id, SessionChannel.Browser);

        var view = await SiloB.GetGrain<ISessionGrain>(issued.LookupKey).GetAsync();

        Assert.NotNull(view);
        AssertSameSession(issued.Session, view.Session);
        Assert.Equal(identity, view.Identity);
        var row = await Harness.Store.FindSessionByLookupKeyAsync(issued.LookupKey);
        Assert.NotNull(row);
        AssertSameSession(issued.Session, row);
        Assert.Equal(SessionChannel.Browser, view.Session.Channel);
        Assert.Equal(AuthenticatorAssurance.Aal1, view.Session.Aal);
        Assert.Equal(Rfc3339.Truncate(Harness.Clock.GetUtcNow()), view.Session.IssuedAt);
    }

    /// <summary>The session catalog finds a session's lookup key by the session's id, and nothing for an unknown id.</summary>
    [Fact]
    public async Task Catalog_finds_the_lookup_key_by_session_id()
    {
        var identity = await CreateIdentityAsync(SiloA);
        var issued = await IssueAsync(SiloA, identity.Id, SessionChannel.Api);

        var catalogA = SiloA.GetGrain<ISessionCatalogGrain>(0);
        var catalogB = SiloB.GetGrain<ISessionCatalogGrain>(0);

        Assert.Equal(issued.LookupKey, await catalogB.FindLookupKeyAsync(issued.Session.Id));
        Assert.Equal(issued.LookupKey, await catalogA.FindLookupKeyAsync(issued.Session.Id));
        Assert.Null(await catalogA.FindLookupKeyAsync(Guid.NewGuid()));
    }

    internal static void AssertSameSession(SessionRecord expected, SessionRecord actual)
    {
        Assert.Equal(expected.Id, actual.Id);
        Assert.Equal(expected.TestKey, actual.TestKey);
        Assert.Equal(expected.IdentityId, actual.IdentityId);
        Assert.Equal(expected.Channel, actual.Channel);
        Assert.Equal(expected.Revoked, actual.Revoked);
        Assert.Equal(expected.Aal, actual.Aal);
        // ImmutableArray equality is reference equality: compare the elements.
        Assert.Equal(expected.AuthenticationMethods.ToArray(), actual.AuthenticationMethods.ToArray());
        Assert.Equal(expected.Devices.ToArray(), actual.Devices.ToArray());
        Assert.Equal(expected.IssuedAt, actual.IssuedAt);
        Assert.Equal(expected.AuthenticatedAt, actual.AuthenticatedAt);
        Assert.Equal(expected.ExpiresAt, actual.ExpiresAt);
        Assert.Equal(expected.CreatedAt, actual.CreatedAt);
        Assert.Equal(expected.UpdatedAt, actual.UpdatedAt);
    }
}
