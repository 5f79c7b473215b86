namespace OrleansSessions.Tests.Infrastructure;

/// <summary>
/// A session store in front of another that passes every call through to <see cref="Inner"/>. Test decorators
/// derive from it and override only the members where they count, gate or record.
/// </summary>
public abstract class DelegatingSessionStore : ISessionStore
{
    public ISessionStore Inner { get; set; } = null!;

    public virtual Task InsertSessionAsync(SessionRecord session, CancellationToken ct = default) => Inner.InsertSessionAsync(session, ct);

    public virtual Task<SessionRecord?> FindSessionByLookupKeyAsync(string lookupKey, CancellationToken ct = default) =>
        Inner.FindSessionByLookupKeyAsync(lookupKey, ct);

    public virtual Task<string?> FindLookupKeyAsync(Guid sessionId, CancellationToken ct = default) => Inner.FindLookupKeyAsync(sessionId, ct);

    public virtual Task<IReadOnlyList<string>> ListLiveLookupKeysAsync(Guid identityId, DateTimeOffset now, CancellationToken ct = default) =>
        Inner.ListLiveLookupKeysAsync(identityId, now, ct);

    public virtual Task<bool> RevokeSessionAsync(Guid sessionId, DateTimeOffset at, CancellationToken ct = default) =>
        Inner.RevokeSessionAsync(sessionId, at, ct);

    public virtual Task<bool> UpdateSessionAuthenticationAsync(SessionRecord session, CancellationToken ct = default) =>
        Inner.UpdateSessionAuthenticationAsync(session, ct);

    public virtual Task<bool> UpdateSessionExpiryAsync(Guid sessionId, DateTimeOffset expiresAt, DateTimeOffset updatedAt, CancellationToken ct = default) =>
        Inner.UpdateSessionExpiryAsync(sessionId, expiresAt, updatedAt, ct);

    public virtual Task<IReadOnlyList<string>> RevokeIdentitySessionsAsync(Guid identityId, Guid? except, DateTimeOffset at, CancellationToken ct = default) =>
        Inner.RevokeIdentitySessionsAsync(identityId, except, at, ct);

    public virtual Task<IReadOnlyList<string>> DeleteIdentitySessionsAsync(Guid identityId, CancellationToken ct = default) =>
        Inner.DeleteIdentitySessionsAsync(identityId, ct);

    public virtual Task<IReadOnlyList<SessionView>> ListSessionsAsync(SessionListQuery query, CancellationToken ct = default) =>
        Inner.ListSessionsAsync(query, ct);

    public virtual Task<SessionPage> ListIdentitySessionsAsync(IdentitySessionsQuery query, CancellationToken ct = default) =>
        Inner.ListIdentitySessionsAsync(query, ct);

    public virtual Task WriteLastSeenAsync(IReadOnlyCollection<KeyValuePair<Guid, DateTimeOffset>> lastSeen, CancellationToken ct = default) =>
        Inner.WriteLastSeenAsync(lastSeen, ct);

    public virtual Task<int> DeleteExpiredSessionsAsync(DateTimeOffset expiredBefore, int batchSize, CancellationToken ct = default) =>
        Inner.DeleteExpiredSessionsAsync(expiredBefore, batchSize, ct);
}
