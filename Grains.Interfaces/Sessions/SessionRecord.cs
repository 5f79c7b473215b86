using System.Collections.Immutable;

namespace OrleansSessions.Sessions;

/// <summary>
/// An instant held as its UTC ticks: half a <see cref="DateTimeOffset"/>, and every instant the service keeps is UTC.
/// 0 (the first instant of year 1) stands for none.
/// </summary>
internal static class UtcTicks
{
    public static DateTimeOffset At(long ticks) => new(ticks, TimeSpan.Zero);
    public static DateTimeOffset? AtOrNull(long ticks) => ticks == 0 ? null : new DateTimeOffset(ticks, TimeSpan.Zero);
    public static long Of(DateTimeOffset? instant) => instant?.UtcTicks ?? 0;
}

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
public readonly record struct AuthenticationMethod
{
    [Id(0)] public required string Method { get; init; }
    [Id(1)] public required string Aal { get; init; }
    public required DateTimeOffset CompletedAt { get => UtcTicks.At(_completedAt); init => _completedAt = value.UtcTicks; }
    [Id(2)] private readonly long _completedAt;
}

/// <summary>Where a session was created from, as Kratos's <c>sessionDevice</c>.</summary>
[GenerateSerializer, Immutable, Alias("os.SessionDevice")]
public readonly record struct SessionDevice
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
    public required DateTimeOffset IssuedAt { get => UtcTicks.At(_issuedAt); init => _issuedAt = value.UtcTicks; }
    public required DateTimeOffset AuthenticatedAt { get => UtcTicks.At(_authenticatedAt); init => _authenticatedAt = value.UtcTicks; }
    public required DateTimeOffset ExpiresAt { get => UtcTicks.At(_expiresAt); init => _expiresAt = value.UtcTicks; }
    public required DateTimeOffset CreatedAt { get => UtcTicks.At(_createdAt); init => _createdAt = value.UtcTicks; }
    public required DateTimeOffset UpdatedAt { get => UtcTicks.At(_updatedAt); init => _updatedAt = value.UtcTicks; }
    /// <summary>Last use as stored (coalesced; see <see cref="SessionBehaviour.LastSeenWriteInterval"/>); null when never written.</summary>
    public DateTimeOffset? LastSeenAt { get => UtcTicks.AtOrNull(_lastSeenAt); init => _lastSeenAt = UtcTicks.Of(value); }

    // Instants held (and sent between silos) as UTC ticks, 8 bytes each rather than a DateTimeOffset's 16: a
    // resident session holds one record.
    [Id(8)] private readonly long _issuedAt;
    [Id(9)] private readonly long _authenticatedAt;
    [Id(10)] private readonly long _expiresAt;
    [Id(11)] private readonly long _createdAt;
    [Id(12)] private readonly long _updatedAt;
    [Id(13)] private readonly long _lastSeenAt;

    /// <summary>The region that issued the session and alone writes its row (<c>''</c> without regions).</summary>
    [Id(14)] public string Region { get; init; } = "";

    /// <summary>
    /// Kratos's computed <c>active</c>: not revoked (on its own or by its identity's revocation mark), not expired,
    /// identity active (and not deleted).
    /// </summary>
    public bool IsActiveAt(DateTimeOffset now, IdentityRecord? identity) =>
        !Revoked && ExpiresAt > now && identity is { IsActive: true } && !identity.Sessions.Revokes(this) && !identity.Sessions.Deletes(this);
}
