namespace OrleansSessions.Storage;

/// <summary>Durable identities and their credentials. Every write returns only once it is durable.</summary>
public interface IIdentityStore
{
    /// <summary>Inserts the identity with its credentials and identifiers.</summary>
    Task<IdentityWriteOutcome> InsertIdentityAsync(IdentityRecord identity, IdentityCredentials credentials, CancellationToken ct = default);

    /// <summary>
    /// Replaces the identity, its credentials and identifiers if the stored identity still has
    /// <paramref name="expectedVersion"/> (the version the writer read); Conflict when it has another, NotFound
    /// when it does not exist.
    /// </summary>
    Task<IdentityWriteOutcome> UpdateIdentityAsync(IdentityRecord identity, IdentityCredentials credentials, long expectedVersion, CancellationToken ct = default);

    /// <summary>
    /// Deletes the identity, its credentials and (for every read from then on) its sessions, in one write whatever
    /// their number; false when it does not exist. The rows of its sessions go later (<see cref="ISessionStore.DeleteEndedSessionsAsync"/>).
    /// </summary>
    Task<bool> DeleteIdentityAsync(Guid id, DateTimeOffset at, CancellationToken ct = default);

    /// <summary>
    /// Writes the identity's revocation mark, and <paramref name="version"/>, if the stored identity still has
    /// <paramref name="expectedVersion"/>: one row whatever the number of sessions, in one statement. Nothing else of the
    /// identity changes. With <paramref name="requireSessions"/> only if the identity has a session (in any state)
    /// the mark does not delete already; NoSessions when it has none.
    /// </summary>
    Task<IdentityWriteOutcome> UpdateSessionRevocationAsync(Guid id, SessionRevocation revocation, long version, long expectedVersion, bool requireSessions,
        CancellationToken ct = default);

    /// <summary>The identity, its available AAL derived from its credentials.</summary>
    Task<IdentityRecord?> FindIdentityAsync(Guid id, CancellationToken ct = default);

    Task<IdentityCredentials?> FindCredentialsAsync(Guid id, CancellationToken ct = default);

    Task<Guid?> FindIdentityIdByIdentifierAsync(string identifier, CancellationToken ct = default);

    /// <summary>Identities ordered by id, after <paramref name="after"/> when given.</summary>
    Task<IReadOnlyList<IdentityRecord>> ListIdentitiesAsync(int pageSize, Guid? after, CancellationToken ct = default);
}

/// <summary>Durable sessions: the truth that session grains cache. Every write returns only once it is durable.</summary>
public interface ISessionStore
{
    Task InsertSessionAsync(string lookupKey, SessionRecord session, CancellationToken ct = default);

    Task<SessionRecord?> FindSessionByLookupKeyAsync(string lookupKey, CancellationToken ct = default);

    Task<string?> FindLookupKeyAsync(Guid sessionId, CancellationToken ct = default);

    /// <summary>
    /// How many of the identity's sessions but <paramref name="except"/> are stored active (not revoked, on their own
    /// or by the identity's mark; expired ones count): what a revoke-all revokes.
    /// </summary>
    Task<int> CountRevocableSessionsAsync(Guid identityId, Guid? except, CancellationToken ct = default);

    /// <summary>When the identity's latest session was issued, of all stored; null when none.</summary>
    Task<DateTimeOffset?> LatestSessionIssuedAtAsync(Guid identityId, CancellationToken ct = default);

    /// <summary>Marks the session revoked; false when there is no such session.</summary>
    Task<bool> RevokeSessionAsync(Guid sessionId, DateTimeOffset at, CancellationToken ct = default);

    /// <summary>
    /// Writes a re-authentication: AAL, methods, authenticated_at, expires_at, updated_at; false when there is no
    /// such session or it is revoked (a revoked session is never renewed).
    /// </summary>
    Task<bool> UpdateSessionAuthenticationAsync(SessionRecord session, CancellationToken ct = default);

    /// <summary>Writes an extension: expires_at and updated_at; false when there is no such session or it is revoked.</summary>
    Task<bool> UpdateSessionExpiryAsync(Guid sessionId, DateTimeOffset expiresAt, DateTimeOffset updatedAt, CancellationToken ct = default);

    /// <summary>Keyset page of all sessions, newest first.</summary>
    Task<IReadOnlyList<SessionView>> ListSessionsAsync(SessionListQuery query, CancellationToken ct = default);

    /// <summary>Offset page of one identity's sessions (each with its identity), newest first, and the total.</summary>
    Task<SessionPage> ListIdentitySessionsAsync(IdentitySessionsQuery query, CancellationToken ct = default);

    /// <summary>Writes last-seen times in one transaction; a later time never goes backwards.</summary>
    Task WriteLastSeenAsync(IReadOnlyCollection<KeyValuePair<Guid, DateTimeOffset>> lastSeen, CancellationToken ct = default);

    /// <summary>Deletes up to <paramref name="batchSize"/> sessions that expired before <paramref name="expiredBefore"/>; how many.</summary>
    Task<int> DeleteExpiredSessionsAsync(DateTimeOffset expiredBefore, int batchSize, CancellationToken ct = default);

    /// <summary>
    /// Deletes up to <paramref name="batchSize"/> rows of sessions that no longer exist for any read (their identity
    /// was deleted, or its mark deleted them), and the tombstones of deleted identities left with none; how many sessions.
    /// </summary>
    Task<int> DeleteEndedSessionsAsync(int batchSize, CancellationToken ct = default);

    /// <summary>
    /// Deletes up to <paramref name="batchSize"/> rows of grain state named <paramref name="stateName"/> (Orleans' ADO.NET
    /// grain storage, migration 0008) last written before <paramref name="modifiedBefore"/>; how many.
    /// </summary>
    Task<int> DeleteGrainStateAsync(string stateName, DateTimeOffset modifiedBefore, int batchSize, CancellationToken ct = default);
}

/// <summary>The cookie key ring (ASP.NET Core Data Protection XML elements), shared by every node.</summary>
public interface IKeyRingStore
{
    IReadOnlyList<string> ReadKeyRingElements();

    void StoreKeyRingElement(string friendlyName, string xml);
}

/// <summary>The signing keys of session tokenization (JWTs of <c>whoami?tokenize_as=</c>), shared by every node.</summary>
public interface ISigningKeyStore
{
    /// <summary>Every stored key, oldest activation first.</summary>
    Task<IReadOnlyList<StoredSigningKey>> ListSigningKeysAsync(CancellationToken ct = default);

    /// <summary>Adds a key; false when a key with its id exists.</summary>
    Task<bool> InsertSigningKeyAsync(StoredSigningKey key, CancellationToken ct = default);
}

/// <summary>
/// A stored signing key: <see cref="PrivateJwk"/> holds the private part (a JWK, or sealed with key encryption on:
/// <c>Tokenizer.IPrivateKeyProtection</c>) and never leaves the silos.
/// </summary>
public sealed record StoredSigningKey(string Kid, string Algorithm, string PrivateJwk, DateTimeOffset CreatedAt, DateTimeOffset ActivatesAt);

/// <summary>Whether the store answers at all (readiness).</summary>
public interface IStoreProbe
{
    Task ProbeAsync(CancellationToken ct = default);
}

/// <summary>Tells a failure to reach the store, worth retrying later, from every other failure.</summary>
public interface IStoreFailures
{
    /// <summary>
    /// Whether <paramref name="e"/> (or an exception inside it) means the store could not be reached. Recognising
    /// one also drops the pooled connections such a failure leaves broken, so that the next call opens a new one.
    /// </summary>
    bool IsUnavailable(Exception e);
}

/// <summary>Applies the versioned schema migrations this build knows.</summary>
public interface ISchemaMigrator
{
    /// <summary>Applies every migration not yet applied, in order; returns the versions applied now.</summary>
    Task<IReadOnlyList<int>> MigrateAsync(CancellationToken ct = default);
}
