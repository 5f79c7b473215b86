namespace OrleansSessions.Tests.Infrastructure;

/// <summary>Counts the reads that reach the real store; every other member delegates to it.</summary>
public sealed class CountingStore : DelegatingSessionStore
{
    private int _sessionReads;
    private int _lookupReads;
    private int _identityReads;

    public int SessionReads => Volatile.Read(ref _sessionReads);

    public int Reads => SessionReads + Volatile.Read(ref _identityReads);

    /// <summary>Reads of a session by its lookup key: what a session grain does to load.</summary>
    public int LookupReads => Volatile.Read(ref _lookupReads);

    private T SessionRead<T>(T read)
    {
        Interlocked.Increment(ref _sessionReads);
        return read;
    }

    private T IdentityRead<T>(T read)
    {
        Interlocked.Increment(ref _identityReads);
        return read;
    }

    public override Task<SessionRecord?> FindSessionByLookupKeyAsync(string lookupKey, CancellationToken ct = default)
    {
        Interlocked.Increment(ref _lookupReads);
        return SessionRead(base.FindSessionByLookupKeyAsync(lookupKey, ct));
    }

    public override Task<string?> FindLookupKeyAsync(Guid sessionId, CancellationToken ct = default) =>
        SessionRead(base.FindLookupKeyAsync(sessionId, ct));

    public override Task<int> CountRevocableSessionsAsync(Guid identityId, Guid? except, CancellationToken ct = default) =>
        SessionRead(base.CountRevocableSessionsAsync(identityId, except, ct));

    public override Task<DateTimeOffset?> LatestSessionIssuedAtAsync(Guid identityId, CancellationToken ct = default) =>
        SessionRead(base.LatestSessionIssuedAtAsync(identityId, ct));

    public override Task<IdentityRecord?> FindIdentityAsync(Guid id, CancellationToken ct = default) =>
        IdentityRead(base.FindIdentityAsync(id, ct));

    public override Task<IdentityCredentials?> FindCredentialsAsync(Guid id, CancellationToken ct = default) =>
        IdentityRead(base.FindCredentialsAsync(id, ct));

    public override Task<Guid?> FindIdentityIdByIdentifierAsync(string identifier, CancellationToken ct = default) =>
        IdentityRead(base.FindIdentityIdByIdentifierAsync(identifier, ct));

    public override Task<IReadOnlyList<IdentityRecord>> ListIdentitiesAsync(int pageSize, Guid? after, CancellationToken ct = default) =>
        IdentityRead(base.ListIdentitiesAsync(pageSize, after, ct));
}
