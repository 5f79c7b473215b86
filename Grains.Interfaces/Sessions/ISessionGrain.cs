namespace OrleansSessions.Sessions;

/// <summary>
/// One live session, held in memory. Keyed by the session's lookup key (the hash of its
/// secret), so a whoami is one call to it, whatever node receives the request.
/// </summary>
[Alias("os.ISessionGrain")]
public interface ISessionGrain : IGrainWithStringKey
{
    /// <summary>
    /// Answers whoami for this session presented through <paramref name="carrier"/>. With
    /// <paramref name="requireHighestAal"/> (Kratos's <c>required_aal: highest_available</c>) a session
    /// below the identity's available AAL answers <see cref="WhoamiOutcome.Aal2Required"/>. <paramref name="home"/> is
    /// the region code the credential carries (<see cref="SessionToken.RegionCode"/>): with regions, where the session
    /// is before it has replicated here.
    /// </summary>
    [ReadOnly, Alias("Whoami")]
    Task<WhoamiAnswer> WhoamiAsync(SessionChannel carrier, bool requireHighestAal, char home = '\0');

    /// <summary>
    /// whoami with <c>tokenize_as</c>: the same decision, and for an active session its JSON with
    /// <c>tokenized</c>, a JWT of the named template (a known one). A token is reused while the session is
    /// unchanged, its key still signs and at least half its lifetime is left.
    /// </summary>
    [Alias("Tokenize")]
    Task<WhoamiAnswer> TokenizeAsync(SessionChannel carrier, bool requireHighestAal, string template, char home = '\0');

    /// <summary>Stores a newly issued session durably, then holds it in memory.</summary>
    [Alias("Start")]
    Task StartAsync(SessionRecord session, IdentityRecord identity);

    /// <summary>The session as stored and the identity it belongs to, or null when unknown.</summary>
    [ReadOnly, Alias("Get")]
    Task<SessionView?> GetAsync();

    /// <summary>Revokes the session durably; false when no such session exists.</summary>
    [Alias("Revoke")]
    Task<bool> RevokeAsync(char home = '\0');

    /// <summary>
    /// The session's row changed in this region's database (another region wrote it, or replication brought it):
    /// a held session reads it again and holds what the store says, a revocation never undone. Nothing for a session
    /// not held: it reads the row when it is next used.
    /// </summary>
    [Alias("Refresh")]
    Task RefreshAsync();

    /// <summary>
    /// Records another completed factor on this active session (re-authentication or step-up):
    /// the method is appended, authenticated_at is now, expires_at now + lifespan, and the AAL follows.
    /// Null when the session is unknown or no longer active.
    /// </summary>
    [Alias("AuthenticateAgain")]
    Task<SessionView?> AuthenticateAgainAsync(RequestedMethod method, TimeSpan lifespan);

    /// <summary>
    /// Kratos's extend: expires_at becomes now + <paramref name="lifespan"/> only when
    /// expires_at − <paramref name="earliestPossibleExtend"/> has passed; otherwise nothing changes.
    /// Does not check activity (an expired, unrevoked session can be revived, as Kratos); a revoked session is
    /// answered as it is, never extended, also when it was revoked in the store while the extend ran. Null when unknown.
    /// </summary>
    [Alias("Extend")]
    Task<SessionView?> ExtendAsync(TimeSpan lifespan, TimeSpan earliestPossibleExtend);
}

/// <summary>A session together with the identity it belongs to.</summary>
[GenerateSerializer, Immutable, Alias("os.SessionView")]
public sealed record SessionView
{
    [Id(0)] public required SessionRecord Session { get; init; }
    [Id(1)] public IdentityRecord? Identity { get; init; }
}

/// <summary>The outcome of a whoami, decided by the session grain.</summary>
[GenerateSerializer, Alias("os.WhoamiOutcome")]
public enum WhoamiOutcome
{
    Active = 0,
    /// <summary>Unknown, revoked, expired, identity inactive, or presented through the wrong carrier.</summary>
    Unauthorized = 1,
    /// <summary>Active, but below the AAL the identity's credentials allow (403 <c>session_aal2_required</c>).</summary>
    Aal2Required = 2,
    /// <summary>Active, but it cannot be made a token (e.g. the template's subject is the external id and there is none): 400.</summary>
    TokenizeFailed = 3,
    /// <summary>
    /// The session (or its identity) belongs to a region this one has not heard from within the lease: what was revoked
    /// there may not be here yet, so no 200 (503; <c>regions:on_partition = serve</c> answers from memory instead).
    /// </summary>
    RegionSilent = 4,
}

/// <summary>
/// What the API writes for a whoami. <see cref="Body"/> is the session's JSON: within the silo the held session
/// record and its identity's JSON (shared by every session of the identity on the silo), written by the API.
/// </summary>
[GenerateSerializer, Immutable, Alias("os.WhoamiAnswer")]
public sealed record WhoamiAnswer
{
    public static readonly WhoamiAnswer Unauthorized = new() { Outcome = WhoamiOutcome.Unauthorized };

    [Id(0)] public required WhoamiOutcome Outcome { get; init; }
    [Id(1)] public Json.WhoamiBody? Body { get; init; }
    [Id(2)] public string? IdentityId { get; init; }
    [Id(3)] public DateTimeOffset ExpiresAt { get; init; }
    /// <summary>Why a tokenization failed (<see cref="WhoamiOutcome.TokenizeFailed"/>), for the error's reason.</summary>
    [Id(4)] public string? Problem { get; init; }
}
