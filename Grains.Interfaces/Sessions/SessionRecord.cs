using System.Collections.Immutable;

namespace OrleansSessions.Sessions;

/// <summary>How a session was issued, and therefore the only carrier that may present it.</summary>
[GenerateSerializer, Alias("os.SessionChannel")]
public enum SessionChannel
{
    /// <summary>Native client: presented through <c>X-Session-Token</c> or <c>Authorization: Bearer</c>.</summary>
    Api = 0,
    /// <summary>Browser: presented through the session cookie only.</summary>
    Browser = 1,
}

/// <summary>One factor the user completed, as Kratos's <c>sessionAuthenticationMethod</c>.</summary>
[GenerateSerializer, Immutable, Alias("os.AuthenticationMethod")]
public sealed record AuthenticationMethod
{
    [Id(0)] public required string Method { get; init; }
    [Id(1)] public required string Aal { get; init; }
    [Id(2)] public required DateTimeOffset CompletedAt { get; init; }
}

/// <summary>Where a session was created from, as Kratos's <c>sessionDevice</c>.</summary>
[GenerateSerializer, Immutable, Alias("os.SessionDevice")]
public sealed record SessionDevice
{
    [Id(0)] public required Guid Id { get; init; }
    [Id(1)] public string? IpAddress { get; init; }
    [Id(2)] public string? UserAgent { get; init; }
    [Id(3)] public string? Location { get; init; }
}

/// <summary>
/// A session as stored. The credential itself is never held; its lookup key (the hash of the secret) is the key of
/// the session's <see cref="ISessionGrain"/> and of its row, not a member: a resident session holds it once, in its grain's id.
/// </summary>
[GenerateSerializer, Immutable, Alias("os.SessionRecord")]
public sealed record SessionRecord
{
    [Id(0)] public required Guid Id { get; init; }
    [Id(2)] public required Guid IdentityId { get; init; }
    [Id(3)] public required SessionChannel Channel { get; init; }
    /// <summary>Set by revocation or logout; never cleared.</summary>
    [Id(4)] public required bool Revoked { get; init; }
    [Id(5)] public required string Aal { get; init; }
    [Id(6)] public required ImmutableArray<AuthenticationMethod> AuthenticationMethods { get; init; }
    [Id(7)] public required ImmutableArray<SessionDevice> Devices { get; init; }
    [Id(8)] public required DateTimeOffset IssuedAt { get; init; }
    [Id(9)] public required DateTimeOffset AuthenticatedAt { get; init; }
    [Id(10)] public required DateTimeOffset ExpiresAt { get; init; }
    [Id(11)] public required DateTimeOffset CreatedAt { get; init; }
    [Id(12)] public required DateTimeOffset UpdatedAt { get; init; }
    /// <summary>Last use as stored (coalesced; see <see cref="SessionBehaviour.LastSeenWriteInterval"/>); null when never written.</summary>
    [Id(13)] public DateTimeOffset? LastSeenAt { get; init; }

    /// <summary>
    /// Kratos's computed <c>active</c>: not revoked (on its own or by its identity's revocation mark), not expired,
    /// identity active (and not deleted).
    /// </summary>
    public bool IsActiveAt(DateTimeOffset now, IdentityRecord? identity) =>
        !Revoked && ExpiresAt > now && identity is { IsActive: true } && !identity.Sessions.Revokes(this) && !identity.Sessions.Deletes(this);
}
