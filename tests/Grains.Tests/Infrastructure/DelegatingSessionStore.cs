namespace OrleansSessions.Tests.Infrastructure;

/// <summary>
/// A session store (and identity store) in front of another that passes every call through to <see cref="Inner"/>.
/// Test decorators derive from it and override only the members where they count, gate or record; register it as
/// <see cref="IIdentityStore"/> too to see identity writes (a revoke-all is one: the identity's revocation mark).
/// </summary>
public abstract class DelegatingSessionStore : ISessionStore, IIdentityStore
{
    public ISessionStore Inner { get; set; } = null!;

    private IIdentityStore Identities => (IIdentityStore)Inner;

    public virtual Task<IdentityWriteOutcome> InsertIdentityAsync(IdentityRecord identity, IdentityCredentials credentials, CancellationToken ct = default) =>
        Identities.InsertIdentityAsync(identity, credentials, ct);

    public virtual Task<IdentityWriteOutcome> UpdateIdentityAsync(IdentityRecord identity, IdentityCredentials credentials, long expectedVersion, CancellationToken ct = default) =>
        Identities.UpdateIdentityAsync(identity, credentials, expectedVersion, ct);

    public virtual Task<bool> DeleteIdentityAsync(Guid id, DateTimeOffset at, CancellationToken ct = default) => Identities.DeleteIdentityAsync(id, at, ct);

    public virtual Task<IdentityWriteOutcome> UpdateSessionRevocationAsync(Guid id, SessionRevocation revocation, long version, long expectedVersion, bool requireSessions,
        CancellationToken ct = default) =>
        Identities.UpdateSessionRevocationAsync(id, revocation, version, expectedVersion, requireSessions, ct);

    public virtual Task<IdentityRecord?> FindIdentityAsync(Guid id, CancellationToken ct = default) => Identities.FindIdentityAsync(id, ct);

    public virtual Task<IdentityCredentials?> FindCredentialsAsync(Guid id, CancellationToken ct = default) => Identities.FindCredentialsAsync(id, ct);

    public virtual Task<Guid?> FindIdentityIdByIdentifierAsync(string identifier, CancellationToken ct = default) =>
        Identities.FindIdentityIdByIdentifierAsync(identifier, ct);

    public virtual Task<IReadOnlyList<IdentityRecord>> ListIdentitiesAsync(int pageSize, Guid? after, CancellationToken ct = default) =>
        Identities.ListIdentitiesAsync(pageSize, after, ct);

    public virtual Task InsertSessionAsync(string lookupKey, SessionRecord session, CancellationToken ct = default) => Inner.InsertSessionAsync(lookupKey, session, ct);

    public virtual Task<SessionRecord?> FindSessionByLookupKeyAsync(string lookupKey, CancellationToken ct = default) =>
        Inner.FindSessionByLookupKeyAsync(lookupKey, ct);

    public virtual Task<string?> FindLookupKeyAsync(Guid sessionId, CancellationToken ct = default) => Inner.FindLookupKeyAsync(sessionId, ct);

    public virtual Task<int> CountRevocableSessionsAsync(Guid identityId, Guid? except, CancellationToken ct = default) =>
        Inner.CountRevocableSessionsAsync(identityId, except, ct);


    public virtual Task<DateTimeOffset?> LatestSessionIssuedAtAsync(Guid identityId, CancellationToken ct = default) =>
        Inner.LatestSessionIssuedAtAsync(identityId, ct);

    public virtual Task<bool> RevokeSessionAsync(Guid sessionId, DateTimeOffset at, CancellationToken ct = default) =>
        Inner.RevokeSessionAsync(sessionId, at, ct);

    public virtual Task<bool> UpdateSessionAuthenticationAsync(SessionRecord session, CancellationToken ct = default) =>
        Inner.UpdateSessionAuthenticationAsync(session, ct);

    public virtual Task<bool> UpdateSessionExpiryAsync(Guid sessionId, DateTimeOffset expiresAt, DateTimeOffset updatedAt, CancellationToken ct = default) =>
        Inner.UpdateSessionExpiryAsync(sessionId, expiresAt, updatedAt, ct);

    public virtual Task<IReadOnlyList<SessionView>> ListSessionsAsync(SessionListQuery query, CancellationToken ct = default) =>
        Inner.ListSessionsAsync(query, ct);

    public virtual Task<SessionPage> ListIdentitySessionsAsync(IdentitySessionsQuery query, CancellationToken ct = default) =>
        Inner.ListIdentitySessionsAsync(query, ct);

    public virtual Task WriteLastSeenAsync(IReadOnlyCollection<KeyValuePair<Guid, DateTimeOffset>> lastSeen, CancellationToken ct = default) =>
        Inner.WriteLastSeenAsync(lastSeen, ct);

    public virtual Task<int> DeleteExpiredSessionsAsync(DateTimeOffset expiredBefore, int batchSize, CancellationToken ct = default) =>
        Inner.DeleteExpiredSessionsAsync(expiredBefore, batchSize, ct);

    public virtual Task<int> DeleteEndedSessionsAsync(int batchSize, CancellationToken ct = default) => Inner.DeleteEndedSessionsAsync(batchSize, ct);

    public virtual Task<int> DeleteGrainStateAsync(string stateName, DateTimeOffset modifiedBefore, int batchSize, CancellationToken ct = default) =>
        Inner.DeleteGrainStateAsync(stateName, modifiedBefore, batchSize, ct);
}
