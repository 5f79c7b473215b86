namespace OrleansSessions.Identities;

/// <summary>An identity as stored. JSON members are kept as raw JSON text.</summary>
[GenerateSerializer, Immutable, Alias("os.IdentityRecord")]
public sealed record IdentityRecord
{
    public const string StateActive = "active";
    public const string StateInactive = "inactive";

    [Id(0)] public required Guid Id { get; init; }
    [Id(1)] public required string SchemaId { get; init; }
    [Id(2)] public required string State { get; init; }
    [Id(3)] public DateTimeOffset? StateChangedAt { get; init; }
    /// <summary>The traits object, as JSON text.</summary>
    [Id(4)] public required string Traits { get; init; }
    /// <summary>JSON text, or null when unset.</summary>
    [Id(5)] public string? MetadataPublic { get; init; }
    /// <summary>JSON text, or null when unset; only ever shown on the admin API.</summary>
    [Id(6)] public string? MetadataAdmin { get; init; }
    [Id(7)] public string? ExternalId { get; init; }
    [Id(8)] public required DateTimeOffset CreatedAt { get; init; }
    [Id(9)] public required DateTimeOffset UpdatedAt { get; init; }
    /// <summary>Incremented by every change; the newest copy of an identity is the one with the highest version.</summary>
    [Id(10)] public long Version { get; init; }
    /// <summary>The highest AAL the identity's credentials allow: aal2 with a TOTP credential, aal1 otherwise.</summary>
    [Id(11)] public string AvailableAal { get; init; } = AuthenticatorAssurance.Aal1;
    /// <summary>
    /// Which of the identity's sessions were revoked or deleted all at once (revoke-all, delete-all): one mark on the
    /// identity instead of a write per session. Never rendered: it is not part of Kratos's identity.
    /// </summary>
    [Id(12)] public SessionRevocation Sessions { get; init; } = SessionRevocation.None;
    /// <summary>The region the identity was created in, whose database alone writes it (<c>''</c> without regions).</summary>
    [Id(13)] public string Region { get; init; } = "";

    public bool IsActive => State == StateActive;
}

/// <summary>
/// An identity's revocation mark: every session issued up to <see cref="RevokedUpTo"/> except
/// <see cref="RevokedExcept"/> is revoked, and every session issued up to <see cref="DeletedUpTo"/> is gone. The
/// identity grain issues every session of the identity after its latest mark, so a mark never reaches a session
/// issued after it was written.
/// </summary>
[GenerateSerializer, Immutable, Alias("os.SessionRevocation")]
public sealed record SessionRevocation
{
    public static readonly SessionRevocation None = new();

    [Id(0)] public DateTimeOffset? RevokedUpTo { get; init; }
    /// <summary>The session a <c>DELETE /sessions</c> kept (the caller's own); null for an admin revoke-all.</summary>
    [Id(1)] public Guid? RevokedExcept { get; init; }
    [Id(2)] public DateTimeOffset? DeletedUpTo { get; init; }

    /// <summary>Whether the mark revokes <paramref name="session"/> (it may still be revoked on its own).</summary>
    public bool Revokes(SessionRecord session) =>
        RevokedUpTo is { } upTo && session.IssuedAt <= upTo && session.Id != RevokedExcept;

    /// <summary>Whether the mark deleted <paramref name="session"/>: it no longer exists.</summary>
    public bool Deletes(SessionRecord session) => DeletedUpTo is { } upTo && session.IssuedAt <= upTo;

    /// <summary>The latest time the mark reaches; a session issued after it is untouched by it.</summary>
    public DateTimeOffset? Latest => RevokedUpTo is { } r && DeletedUpTo is { } d ? (r > d ? r : d) : RevokedUpTo ?? DeletedUpTo;

    /// <summary>
    /// This mark moved to revoke every session issued up to <paramref name="upTo"/> but <paramref name="except"/>.
    /// The exception is kept only for a session that is not revoked already: a mark never brings a session back.
    /// </summary>
    public SessionRevocation RevokingUpTo(DateTimeOffset upTo, SessionRecord? except) => this with
    {
        RevokedUpTo = upTo,
        RevokedExcept = except is not null && !Revokes(except) ? except.Id : null,
    };

    /// <summary>This mark moved to delete every session issued up to <paramref name="upTo"/>.</summary>
    public SessionRevocation DeletingUpTo(DateTimeOffset upTo) => this with { DeletedUpTo = upTo };
}
