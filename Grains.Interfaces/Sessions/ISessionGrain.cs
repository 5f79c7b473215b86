namespace OrleansSessions.Sessions;

/// <summary>
/// One live session, held in memory. Keyed by the session's lookup key (the hash of its
/// secret), so a whoami is one call to it, whatever node receives the request.
/// </summary>
[Alias("os.ISessionGrain")]
public interface ISessionGrain : IGrainWithStringKey
{
    /// <summary>Answers whoami for this session presented through <paramref name="carrier"/>.</summary>
    [ReadOnly, Alias("Whoami")]
    Task<WhoamiAnswer> WhoamiAsync(SessionChannel carrier);

    /// <summary>Stores a newly issued session durably, then holds it in memory.</summary>
    [Alias("Start")]
    Task StartAsync(SessionRecord session, IdentityRecord identity);

    /// <summary>The session as stored and the identity it belongs to, or null when unknown.</summary>
    [ReadOnly, Alias("Get")]
    Task<SessionView?> GetAsync();

    /// <summary>Revokes the session durably; false when no such session exists.</summary>
    [Alias("Revoke")]
    Task<bool> RevokeAsync();
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
}

/// <summary>
/// What the API writes for a whoami. <see cref="Body"/> is the session's JSON, rendered once
/// when the session last changed, shared by every answer until it changes again.
/// </summary>
[GenerateSerializer, Immutable, Alias("os.WhoamiAnswer")]
public sealed record WhoamiAnswer
{
    public static readonly WhoamiAnswer Unauthorized = new() { Outcome = WhoamiOutcome.Unauthorized };

    [Id(0)] public required WhoamiOutcome Outcome { get; init; }
    [Id(1)] public byte[]? Body { get; init; }
    [Id(2)] public string? IdentityId { get; init; }
    [Id(3)] public DateTimeOffset ExpiresAt { get; init; }
}
