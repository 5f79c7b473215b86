using OrleansSessions.Tests.Infrastructure;
using static OrleansSessions.Tests.Infrastructure.Answers;
using static OrleansSessions.Tests.Infrastructure.SessionCluster;

namespace OrleansSessions.Tests.Cluster;

/// <summary>
/// Authenticator assurance and re-authentication on a two-silo cluster: the identity's available AAL follows
/// its TOTP credential, whoami can demand the highest available AAL, and a session can be stepped up or refreshed.
/// </summary>
public sealed class AuthenticationTests(SessionClusterFixture fixture) : IClassFixture<SessionClusterFixture>
{
    private const string TotpSecret = "JBSWY3DPEHPK3PXP";

    private static readonly RequestedMethod Password = new() { Method = "password", Aal = AuthenticatorAssurance.Aal1 };

    private static readonly RequestedMethod Totp = new() { Method = "totp", Aal = AuthenticatorAssurance.Aal2 };

    private SessionCluster Harness => fixture.Cluster;

    private IGrainFactory SiloA => Harness.Grains(0);

    private IGrainFactory SiloB => Harness.Grains(1);

    /// <summary>
    /// Once the identity has a TOTP secret, its aal1 session answers Aal2Required when the highest available AAL is
    /// required and Active when it is not; removing the secret lifts the requirement again.
    /// </summary>
    [Fact]
    public async Task Totp_secret_makes_an_aal1_session_answer_Aal2Required_only_when_the_highest_aal_is_required()
    {
        var identity = await CreateIdentityAsync(SiloA);
        Assert.Equal(AuthenticatorAssurance.Aal1, identity.AvailableAal);
        var issued = await IssueOnSiloAsync(Harness.Cluster.Silos[1], identity.Id, SessionChannel.Api);
        Assert.Equal(AuthenticatorAssurance.Aal1, issued.Session.Aal);
        Assert.Equal(WhoamiOutcome.Active, (await WhoamiAsync(SiloB, issued, requireHighestAal: true)).Outcome);

        var withTotp = await SiloA.GetGrain<IIdentityGrain>(identity.Id).SetTotpSecretAsync(TotpSecret);

        Assert.Equal(IdentityWriteOutcome.Written, withTotp.Outcome);
        Assert.NotNull(withTotp.Identity);
        Assert.Equal(AuthenticatorAssurance.Aal2, withTotp.Identity.AvailableAal);
        Assert.Equal(identity.Version + 1, withTotp.Identity.Version);
        foreach (var grains in new[] { SiloB, SiloA })
        {
            var required = await WhoamiAsync(grains, issued, requireHighestAal: true);
            Assert.Equal(WhoamiOutcome.Aal2Required, required.Outcome);
            Assert.Null(required.Body);
            var notRequired = await WhoamiAsync(grains, issued, requireHighestAal: false);
            Assert.Equal(WhoamiOutcome.Active, notRequired.Outcome);
            Assert.NotNull(notRequired.Body);
        }
        Assert.Equal(AuthenticatorAssurance.Aal2, (await Harness.Store.FindIdentityAsync(identity.Id))!.AvailableAal);
        Assert.Equal(TotpSecret, (await SiloB.GetGrain<IIdentityGrain>(identity.Id).GetCredentialsAsync())!.TotpSecret);
        // A session loaded after the change (not told, but read) is held to the same rule.
        await Harness.Cluster.DeactivateAsync(SiloB.GetGrain<ISessionGrain>(issued.LookupKey));
        Assert.Equal(WhoamiOutcome.Aal2Required, (await WhoamiAsync(SiloA, issued, requireHighestAal: true)).Outcome);

        var withoutTotp = await SiloB.GetGrain<IIdentityGrain>(identity.Id).SetTotpSecretAsync(null);

        Assert.Equal(IdentityWriteOutcome.Written, withoutTotp.Outcome);
        Assert.Equal(AuthenticatorAssurance.Aal1, withoutTotp.Identity!.AvailableAal);
        Assert.Equal(WhoamiOutcome.Active, (await WhoamiAsync(SiloA, issued, requireHighestAal: true)).Outcome);
        Assert.Equal(WhoamiOutcome.Active, (await WhoamiAsync(SiloB, issued, requireHighestAal: true)).Outcome);
        Assert.Null((await Harness.Store.FindCredentialsAsync(identity.Id))!.TotpSecret);
    }

    /// <summary>
    /// A TOTP step-up raises the aal1 session to aal2: it answers Active even when aal2 is required, its body lists
    /// both methods at aal2, and the store row agrees.
    /// </summary>
    [Fact]
    public async Task Totp_step_up_raises_the_session_to_aal2()
    {
        var identity = await CreateIdentityAsync(SiloB);
        var issued = await IssueOnSiloAsync(Harness.Cluster.Silos[0], identity.Id, SessionChannel.Browser);
        Assert.Equal(IdentityWriteOutcome.Written, (await SiloB.GetGrain<IIdentityGrain>(identity.Id).SetTotpSecretAsync(TotpSecret)).Outcome);
        Assert.Equal(WhoamiOutcome.Aal2Required, (await WhoamiAsync(SiloA, issued, requireHighestAal: true)).Outcome);
        Harness.Clock.Advance(TimeSpan.FromSeconds(30));
        var now = Rfc3339.Truncate(Harness.Clock.GetUtcNow());

        var stepped = await SiloB.GetGrain<ISessionGrain>(issued.LookupKey).AuthenticateAgainAsync(Totp, TimeSpan.FromHours(24));

        Assert.NotNull(stepped);
        Assert.Equal(issued.Session.Id, stepped.Session.Id);
        Assert.Equal(AuthenticatorAssurance.Aal2, stepped.Session.Aal);
        Assert.Equal(
            new[]
            {
                new AuthenticationMethod { Method = "password", Aal = AuthenticatorAssurance.Aal1, CompletedAt = issued.Session.IssuedAt },
                new AuthenticationMethod { Method = "totp", Aal = AuthenticatorAssurance.Aal2, CompletedAt = now },
            },
            stepped.Session.AuthenticationMethods.ToArray());
        foreach (var grains in new[] { SiloA, SiloB })
        {
            var answer = await WhoamiAsync(grains, issued, requireHighestAal: true);
            Assert.Equal(WhoamiOutcome.Active, answer.Outcome);
            using var body = JsonDocument.Parse(answer.Body!.ToArray());
            Assert.Equal("aal2", body.RootElement.GetProperty("authenticator_assurance_level").GetString());
            var methods = body.RootElement.GetProperty("authentication_methods").EnumerateArray().ToArray();
            Assert.Equal(new[] { "password", "totp" }, methods.Select(m => m.GetProperty("method").GetString()));
            Assert.Equal(new[] { "aal1", "aal2" }, methods.Select(m => m.GetProperty("aal").GetString()));
            Assert.Equal(SessionJson.Render(stepped.Session, stepped.Identity, active: true, PublicBaseUrl), answer.Body!.ToArray());
        }
        var row = await Harness.Store.FindSessionByLookupKeyAsync(issued.LookupKey);
        Assert.NotNull(row);
        SessionClusterTests.AssertSameSession(stepped.Session, row);
    }

    /// <summary>
    /// A password re-authentication refreshes the session: same id and lookup key, authenticated_at is the clock's
    /// now, expires_at now + the lifespan given, issued_at unchanged; the other silo and the store agree.
    /// </summary>
    [Fact]
    public async Task Password_reauthentication_refreshes_authenticated_at_and_expires_at()
    {
        var identity = await CreateIdentityAsync(SiloA);
        var issued = await IssueAsync(SiloA, identity.Id, SessionChannel.Api, lifespan: TimeSpan.FromHours(1));
        await AssertActiveAsync(issued, SiloA, SiloB);
        // Past the original expiry's half-way point, at an instant with sub-microsecond ticks.
        Harness.Clock.SetUtcNow(Rfc3339.Truncate(Harness.Clock.GetUtcNow().AddMinutes(45)).AddTicks(3));
        var now = Rfc3339.Truncate(Harness.Clock.GetUtcNow());
        var lifespan = TimeSpan.FromHours(2);

        var refreshed = await SiloA.GetGrain<ISessionGrain>(issued.LookupKey).AuthenticateAgainAsync(Password, lifespan);

        Assert.NotNull(refreshed);
        Assert.Equal(issued.Session.Id, refreshed.Session.Id);
        Assert.Equal(now, refreshed.Session.AuthenticatedAt);
        Assert.Equal(now + lifespan, refreshed.Session.ExpiresAt);
        Assert.Equal(now, refreshed.Session.UpdatedAt);
        Assert.Equal(issued.Session.IssuedAt, refreshed.Session.IssuedAt);
        Assert.Equal(issued.Session.CreatedAt, refreshed.Session.CreatedAt);
        Assert.Equal(AuthenticatorAssurance.Aal1, refreshed.Session.Aal);
        Assert.Equal(2, refreshed.Session.AuthenticationMethods.Length);

        var answer = await WhoamiAsync(SiloB, issued);
        Assert.Equal(WhoamiOutcome.Active, answer.Outcome);
        Assert.Equal(now + lifespan, answer.ExpiresAt);
        using (var body = JsonDocument.Parse(answer.Body!.ToArray()))
        {
            Assert.Equal(issued.Session.Id.ToString(), body.RootElement.GetProperty("id").GetString());
            Assert.Equal(Rfc3339.Write(now), body.RootElement.GetProperty("authenticated_at").GetString());
            Assert.Equal(Rfc3339.Write(now + lifespan), body.RootElement.GetProperty("expires_at").GetString());
        }
        var row = await Harness.Store.FindSessionByLookupKeyAsync(issued.LookupKey);
        Assert.NotNull(row);
        SessionClusterTests.AssertSameSession(refreshed.Session, row);

        // Alive past the original expiry, until the new one.
        Harness.Clock.SetUtcNow(issued.Session.ExpiresAt.AddMinutes(1));
        await AssertActiveAsync(issued, SiloA, SiloB);
        Harness.Clock.SetUtcNow(now + lifespan);
        await AssertUnauthorizedAsync(issued, SiloB, SiloA);
    }

    /// <summary>A revoked session, an expired one, or an unknown lookup key cannot be re-authenticated; the store is left as it was.</summary>
    [Fact]
    public async Task Reauthentication_of_a_revoked_expired_or_unknown_session_returns_null()
    {
        var identity = await CreateIdentityAsync(SiloA);
        var revoked = await IssueAsync(SiloA, identity.Id, SessionChannel.Api);
        var expired = await IssueAsync(SiloB, identity.Id, SessionChannel.Browser, lifespan: TimeSpan.FromMinutes(10));
        Assert.True(await SiloA.GetGrain<ISessionGrain>(revoked.LookupKey).RevokeAsync());
        var revokedRow = await Harness.Store.FindSessionByLookupKeyAsync(revoked.LookupKey);
        Harness.Clock.Advance(TimeSpan.FromMinutes(11));

        Assert.Null(await SiloB.GetGrain<ISessionGrain>(revoked.LookupKey).AuthenticateAgainAsync(Password, TimeSpan.FromHours(1)));
        Assert.Null(await SiloA.GetGrain<ISessionGrain>(expired.LookupKey).AuthenticateAgainAsync(Totp, TimeSpan.FromHours(1)));
        Assert.Null(await SiloA.GetGrain<ISessionGrain>(SessionToken.LookupKey(SessionToken.New())).AuthenticateAgainAsync(Password, TimeSpan.FromHours(1)));

        SessionClusterTests.AssertSameSession(revokedRow!, (await Harness.Store.FindSessionByLookupKeyAsync(revoked.LookupKey))!);
        SessionClusterTests.AssertSameSession(expired.Session, (await Harness.Store.FindSessionByLookupKeyAsync(expired.LookupKey))!);
        await AssertUnauthorizedAsync(revoked, SiloA, SiloB);
        await AssertUnauthorizedAsync(expired, SiloA, SiloB);
    }

    /// <summary>A session of an inactive identity cannot be re-authenticated either.</summary>
    [Fact]
    public async Task Reauthentication_of_a_session_of_an_inactive_identity_returns_null()
    {
        var identity = await CreateIdentityAsync(SiloA);
        var issued = await IssueAsync(SiloA, identity.Id, SessionChannel.Api);
        var draft = DraftFor(identity.Id) with { State = IdentityRecord.StateInactive };
        Assert.Equal(IdentityWriteOutcome.Written, (await SiloB.GetGrain<IIdentityGrain>(identity.Id).UpdateAsync(draft, expectedVersion: null)).Outcome);

        Assert.Null(await SiloB.GetGrain<ISessionGrain>(issued.LookupKey).AuthenticateAgainAsync(Password, TimeSpan.FromHours(1)));

        SessionClusterTests.AssertSameSession(issued.Session, (await Harness.Store.FindSessionByLookupKeyAsync(issued.LookupKey))!);
    }
}
