using OrleansSessions.Tests.Infrastructure;
using static OrleansSessions.Tests.Infrastructure.Answers;
using static OrleansSessions.Tests.Infrastructure.SessionCluster;

namespace OrleansSessions.Tests.Cluster;

/// <summary>
/// Kratos's admin extend: expires_at becomes now + lifespan only once expires_at − earliest_possible_extend has
/// passed. The tests share one cluster and its clock (they run one after another and only move it forward).
/// </summary>
public sealed class ExtendTests(SessionClusterFixture fixture) : IClassFixture<SessionClusterFixture>
{
    private static readonly TimeSpan Lifespan = TimeSpan.FromHours(24);
    private static readonly TimeSpan Earliest = TimeSpan.FromHours(1);

    private SessionCluster Harness => fixture.Cluster;

    private IGrainFactory SiloA => Harness.Grains(0);

    private IGrainFactory SiloB => Harness.Grains(1);

    /// <summary>
    /// Before expires_at − earliest (and exactly at it) nothing changes; one microsecond after, expires_at is
    /// now + lifespan in the answer, in the store, and in the whoami JSON through the other silo.
    /// </summary>
    [Fact]
    public async Task Extend_changes_nothing_before_the_earliest_time_and_moves_expiry_after_it()
    {
        var identity = await CreateIdentityAsync(SiloA);
        var issued = await IssueAsync(SiloA, identity.Id, SessionChannel.Api, Lifespan);
        var original = issued.Session;
        var grain = SiloB.GetGrain<ISessionGrain>(issued.LookupKey);

        Harness.Clock.Advance(TimeSpan.FromHours(2));
        var early = await grain.ExtendAsync(Lifespan, Earliest);
        Assert.NotNull(early);
        Assert.Equal(original.ExpiresAt, early.Session.ExpiresAt);
        Assert.Equal(original.UpdatedAt, early.Session.UpdatedAt);

        // Exactly at expires_at − earliest: still too early (Kratos: expires_at − earliest must be before now).
        Harness.Clock.SetUtcNow(original.ExpiresAt - Earliest);
        var atTheLimit = await grain.ExtendAsync(Lifespan, Earliest);
        Assert.Equal(original.ExpiresAt, atTheLimit!.Session.ExpiresAt);
        Assert.Equal(original.ExpiresAt, (await Harness.Store.FindSessionByLookupKeyAsync(issued.LookupKey))!.ExpiresAt);
        Assert.Equal(original.ExpiresAt, (await AssertActiveAsync(issued, SiloA, SiloB)).ExpiresAt);

        Harness.Clock.Advance(TimeSpan.FromTicks(10));
        var now = Rfc3339.Truncate(Harness.Clock.GetUtcNow());
        var extended = await grain.ExtendAsync(Lifespan, Earliest);

        var expected = Rfc3339.Truncate(now + Lifespan);
        Assert.NotNull(extended);
        Assert.Equal(expected, extended.Session.ExpiresAt);
        Assert.Equal(now, extended.Session.UpdatedAt);
        Assert.Equal(identity.Id, extended.Identity!.Id);
        var stored = await Harness.Store.FindSessionByLookupKeyAsync(issued.LookupKey);
        Assert.Equal(expected, stored!.ExpiresAt);
        Assert.Equal(now, stored.UpdatedAt);
        // Only the expiry moved.
        Assert.Equal(original.AuthenticatedAt, stored.AuthenticatedAt);
        Assert.Equal(original.IssuedAt, stored.IssuedAt);
        var answer = await AssertActiveAsync(issued, SiloA, SiloB);
        Assert.Equal(expected, answer.ExpiresAt);
        using var body = JsonDocument.Parse(answer.Body!.ToArray());
        Assert.Equal(Rfc3339.Write(expected), body.RootElement.GetProperty("expires_at").GetString());
        Assert.NotEqual(Rfc3339.Write(original.ExpiresAt), body.RootElement.GetProperty("expires_at").GetString());

        // A second extend right after is too early again: nothing moves.
        Harness.Clock.Advance(TimeSpan.FromMinutes(5));
        Assert.Equal(expected, (await SiloA.GetGrain<ISessionGrain>(issued.LookupKey).ExtendAsync(Lifespan, Earliest))!.Session.ExpiresAt);
    }

    /// <summary>The extended expiry survives eviction: it was in the store before extend returned.</summary>
    [Fact]
    public async Task Extended_expiry_is_what_a_reloaded_session_answers()
    {
        var identity = await CreateIdentityAsync(SiloB);
        var issued = await IssueAsync(SiloB, identity.Id, SessionChannel.Browser, TimeSpan.FromHours(1));
        Harness.Clock.Advance(TimeSpan.FromMinutes(30));

        var extended = await SiloA.GetGrain<ISessionGrain>(issued.LookupKey).ExtendAsync(Lifespan, Earliest);
        await Harness.Cluster.DeactivateAsync(SiloA.GetGrain<ISessionGrain>(issued.LookupKey));
        Assert.Null(Harness.HostOf(SiloA, issued.LookupKey));
        Harness.Clock.Advance(TimeSpan.FromHours(2));

        var answer = await AssertActiveAsync(issued, SiloB, SiloA);
        Assert.Equal(extended!.Session.ExpiresAt, answer.ExpiresAt);
        Assert.True(extended.Session.ExpiresAt > issued.Session.ExpiresAt);
    }

    /// <summary>An expired session that was never revoked is active again after extend, as in Kratos.</summary>
    [Fact]
    public async Task Extend_revives_an_expired_unrevoked_session()
    {
        var identity = await CreateIdentityAsync(SiloA);
        var issued = await IssueAsync(SiloA, identity.Id, SessionChannel.Api, TimeSpan.FromHours(1));
        Harness.Clock.Advance(TimeSpan.FromHours(2));
        await AssertUnauthorizedAsync(issued, SiloB, SiloA);

        var extended = await SiloB.GetGrain<ISessionGrain>(issued.LookupKey).ExtendAsync(Lifespan, Earliest);

        Assert.NotNull(extended);
        Assert.False(extended.Session.Revoked);
        Assert.Equal(Rfc3339.Truncate(Rfc3339.Truncate(Harness.Clock.GetUtcNow()) + Lifespan), extended.Session.ExpiresAt);
        var answer = await AssertActiveAsync(issued, SiloA, SiloB);
        Assert.Equal(extended.Session.ExpiresAt, answer.ExpiresAt);
    }

    /// <summary>A revoked session stays revoked whatever extend does to its expiry.</summary>
    [Fact]
    public async Task Extend_does_not_revive_a_revoked_session()
    {
        var identity = await CreateIdentityAsync(SiloA);
        var issued = await IssueAsync(SiloA, identity.Id, SessionChannel.Api, TimeSpan.FromHours(1));
        Assert.True(await SiloB.GetGrain<ISessionGrain>(issued.LookupKey).RevokeAsync());
        Harness.Clock.Advance(TimeSpan.FromHours(2));

        var extended = await SiloA.GetGrain<ISessionGrain>(issued.LookupKey).ExtendAsync(Lifespan, Earliest);

        Assert.NotNull(extended);
        Assert.True(extended.Session.Revoked);
        await AssertUnauthorizedAsync(issued, SiloA, SiloB);
        await Harness.Cluster.DeactivateAsync(SiloA.GetGrain<ISessionGrain>(issued.LookupKey));
        await AssertUnauthorizedAsync(issued, SiloB, SiloA);
        Assert.True((await Harness.Store.FindSessionByLookupKeyAsync(issued.LookupKey))!.Revoked);
    }

    /// <summary>Extend of a credential nobody was issued answers null and stores nothing.</summary>
    [Fact]
    public async Task Extend_of_an_unknown_session_is_null()
    {
        var lookupKey = SessionToken.LookupKey(SessionToken.New());

        Assert.Null(await SiloA.GetGrain<ISessionGrain>(lookupKey).ExtendAsync(Lifespan, Earliest));
        Assert.Null(await SiloB.GetGrain<ISessionGrain>(lookupKey).ExtendAsync(Lifespan, TimeSpan.Zero));
        Assert.Null(await Harness.Store.FindSessionByLookupKeyAsync(lookupKey));
    }
}
