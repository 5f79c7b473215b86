using System.Collections.Immutable;

namespace OrleansSessions.Identities;

/// <summary>
/// One identity: its record and credentials, the issuing of its sessions, and keeping every
/// live session of it up to date when it changes (traits, state, deletion).
/// </summary>
[Alias("os.IIdentityGrain")]
public interface IIdentityGrain : IGrainWithGuidKey
{
    /// <summary>Stores a new identity with this grain's id.</summary>
    [Alias("Create")]
    Task<IdentityWriteResult> CreateAsync(IdentityDraft draft);

    /// <summary>
    /// Replaces the identity (Kratos's PUT); credentials not named in the draft are kept. With
    /// <paramref name="expectedVersion"/> (a change computed from what the caller read, such as a PATCH) only while
    /// the identity still has that version: Conflict, with the identity as it is now, otherwise.
    /// </summary>
    [Alias("Update")]
    Task<IdentityWriteResult> UpdateAsync(IdentityDraft draft, long? expectedVersion);

    /// <summary>Deletes the identity and its sessions; false when it does not exist.</summary>
    [Alias("Delete")]
    Task<bool> DeleteAsync();

    /// <summary>The identity, or null when it does not exist.</summary>
    [ReadOnly, Alias("Get")]
    Task<IdentityRecord?> GetAsync();

    /// <summary>
    /// The identity, or null, for a session held on <paramref name="silo"/>, which this grain then tells of every
    /// change (even before its own view of the membership lists that silo). With regions, <paramref name="home"/> is the
    /// region that issued the session: it has the identity should this region's database not have it yet.
    /// </summary>
    [ReadOnly, Alias("Watch")]
    Task<IdentityRecord?> WatchAsync(SiloAddress silo, string? home = null);

    /// <summary>
    /// The identity's row changed in this region's database (another region wrote it, or replication brought it): read
    /// again and tell every silo, which keep the newer version.
    /// </summary>
    [Alias("Refresh")]
    Task RefreshAsync();

    /// <summary>The identity's credentials (hashes and secrets: never for a response), or null when it does not exist.</summary>
    [ReadOnly, Alias("GetCredentials")]
    Task<IdentityCredentials?> GetCredentialsAsync();

    /// <summary>
    /// Replaces the password hash (a rehash after login under new parameters) if it is still
    /// <paramref name="replaces"/>, the hash the password was verified against; Conflict when the password changed meanwhile.
    /// </summary>
    [Alias("SetPasswordHash")]
    Task<IdentityWriteResult> SetPasswordHashAsync(string passwordHash, string replaces);

    /// <summary>
    /// Spends a verified TOTP code's time step: true the first time, false for that step or an earlier one again, so
    /// a code seen over someone's shoulder does not sign in a second time. Stored before it answers true (on PostgreSQL,
    /// in the login grain storage, so a silo crash does not forget it); the activation also stays in memory while a code
    /// could still be valid, which is all the embedded SQLite default keeps.
    /// </summary>
    [Alias("UseTotpStep")]
    Task<bool> UseTotpStepAsync(long step);

    /// <summary>Sets (or, with null, removes) the TOTP secret; changes the identity's available AAL.</summary>
    [Alias("SetTotpSecret")]
    Task<IdentityWriteResult> SetTotpSecretAsync(string? totpSecret);

    /// <summary>
    /// Revokes every active session of the identity but <paramref name="except"/> (the caller's own, for
    /// <c>DELETE /sessions</c>) by writing the identity's revocation mark (one row), then tells every silo; returns
    /// how many it revoked. <paramref name="except"/> is kept active only if it is not revoked already.
    /// </summary>
    [Alias("RevokeSessions")]
    Task<int> RevokeSessionsAsync(SessionRecord? except);

    /// <summary>
    /// Deletes every session of the identity by writing its revocation mark (one row; the rows go with the cleanup),
    /// then tells every silo; false when the identity has no session.
    /// </summary>
    [Alias("DeleteSessions")]
    Task<bool> DeleteSessionsAsync();

    /// <summary>Issues a session for this identity under the given lookup key.</summary>
    [Alias("IssueSession")]
    Task<SessionIssueResult> IssueSessionAsync(SessionIssueCommand command);
}

/// <summary>What an admin supplies to create or replace an identity, already validated by the API.</summary>
[GenerateSerializer, Immutable, Alias("os.IdentityDraft")]
public sealed record IdentityDraft
{
    [Id(0)] public required string SchemaId { get; init; }
    [Id(1)] public required string State { get; init; }
    [Id(2)] public required string Traits { get; init; }
    [Id(3)] public string? MetadataPublic { get; init; }
    [Id(4)] public string? MetadataAdmin { get; init; }
    [Id(5)] public string? ExternalId { get; init; }
    /// <summary>Login identifiers taken from the traits by the identity schema (normalised), unique across identities.</summary>
    [Id(6)] public ImmutableArray<string> Identifiers { get; init; } = [];
    /// <summary>A PHC password hash; null keeps the current one (or none on create).</summary>
    [Id(7)] public string? PasswordHash { get; init; }
    /// <summary>A TOTP secret (base32); null keeps the current one (or none on create).</summary>
    [Id(8)] public string? TotpSecret { get; init; }
}

/// <summary>An identity's credentials. Never leaves the cluster in a response.</summary>
[GenerateSerializer, Immutable, Alias("os.IdentityCredentials")]
public sealed record IdentityCredentials
{
    [Id(0)] public ImmutableArray<string> Identifiers { get; init; } = [];
    [Id(1)] public string? PasswordHash { get; init; }
    [Id(2)] public string? TotpSecret { get; init; }
}

[GenerateSerializer, Alias("os.IdentityWriteOutcome")]
public enum IdentityWriteOutcome
{
    Written = 0,
    NotFound = 1,
    /// <summary>The id already exists (create only).</summary>
    IdTaken = 2,
    /// <summary>Another identity has the same external id.</summary>
    ExternalIdTaken = 3,
    /// <summary>Another identity has one of the same login identifiers.</summary>
    IdentifierTaken = 4,
    /// <summary>The identity changed since the version the write was based on; nothing was written.</summary>
    Conflict = 5,
    /// <summary>A mark that needs sessions to reach (a deletion) and the identity has none; nothing was written.</summary>
    NoSessions = 6,
}

[GenerateSerializer, Immutable, Alias("os.IdentityWriteResult")]
public sealed record IdentityWriteResult
{
    [Id(0)] public required IdentityWriteOutcome Outcome { get; init; }
    [Id(1)] public IdentityRecord? Identity { get; init; }
}

/// <summary>A request to issue a session. The secret stays with the caller; only its hash travels.</summary>
[GenerateSerializer, Immutable, Alias("os.SessionIssueCommand")]
public sealed record SessionIssueCommand
{
    [Id(0)] public required string LookupKey { get; init; }
    [Id(1)] public required SessionChannel Channel { get; init; }
    [Id(2)] public required TimeSpan Lifespan { get; init; }
    /// <summary>Methods completed; each <see cref="AuthenticationMethod.CompletedAt"/> is set at issuance.</summary>
    [Id(3)] public required ImmutableArray<RequestedMethod> Methods { get; init; }
    [Id(4)] public string? IpAddress { get; init; }
    [Id(5)] public string? UserAgent { get; init; }
    [Id(6)] public string? Location { get; init; }
}

/// <summary>A factor the caller vouches the user completed.</summary>
[GenerateSerializer, Immutable, Alias("os.RequestedMethod")]
public sealed record RequestedMethod
{
    [Id(0)] public required string Method { get; init; }
    [Id(1)] public required string Aal { get; init; }
}

[GenerateSerializer, Alias("os.SessionIssueOutcome")]
public enum SessionIssueOutcome
{
    Issued = 0,
    IdentityNotFound = 1,
    IdentityDisabled = 2,
}

[GenerateSerializer, Immutable, Alias("os.SessionIssueResult")]
public sealed record SessionIssueResult
{
    [Id(0)] public required SessionIssueOutcome Outcome { get; init; }
    [Id(1)] public SessionView? Issued { get; init; }
}
