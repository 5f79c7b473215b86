namespace OrleansSessions.Storage;

/// <summary>Durable identities. Every write returns only once it is durable.</summary>
public interface IIdentityStore
{
    /// <summary>Inserts the identity; false when its id or external id is already taken.</summary>
    Task<bool> InsertIdentityAsync(IdentityRecord identity, CancellationToken ct = default);

    Task<IdentityRecord?> FindIdentityAsync(Guid id, CancellationToken ct = default);
}

/// <summary>Durable sessions: the truth that session grains cache. Every write returns only once it is durable.</summary>
public interface ISessionStore
{
    Task InsertSessionAsync(SessionRecord session, CancellationToken ct = default);

    Task<SessionRecord?> FindSessionByLookupKeyAsync(string lookupKey, CancellationToken ct = default);

    Task<string?> FindLookupKeyAsync(Guid sessionId, CancellationToken ct = default);

    /// <summary>Marks the session revoked; false when there is no such session.</summary>
    Task<bool> RevokeSessionAsync(Guid sessionId, DateTimeOffset at, CancellationToken ct = default);
}

/// <summary>The cookie key ring (ASP.NET Core Data Protection XML elements), shared by every node.</summary>
public interface IKeyRingStore
{
    IReadOnlyList<string> ReadKeyRingElements();

    void StoreKeyRingElement(string friendlyName, string xml);
}

/// <summary>Applies the versioned schema migrations this build knows.</summary>
public interface ISchemaMigrator
{
    /// <summary>Applies every migration not yet applied, in order; returns the versions applied now.</summary>
    Task<IReadOnlyList<int>> MigrateAsync(CancellationToken ct = default);
}
