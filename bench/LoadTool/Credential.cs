namespace OrleansSessions.Bench;

/// <summary>
/// One seeded session as the load presents it: the header that carries it, built once.
/// Never printed: reports carry counts and latencies only.
/// </summary>
public sealed class Credential(string headerName, string headerValue, string rawValue, string sessionId, string identityId)
{
    public string HeaderName { get; } = headerName;
    public string HeaderValue { get; } = headerValue;
    /// <summary>The token, or the cookie's value without its name (what the baseline is keyed by).</summary>
    public string RawValue { get; } = rawValue;
    public string SessionId { get; } = sessionId;
    public string IdentityId { get; } = identityId;
    public bool IsCookie => HeaderName == "Cookie";

    private long _revokeStartedAt;
    private long _revokedAt;

    /// <summary>Stopwatch timestamp at which its revocation was sent; 0 while nobody revoked it.</summary>
    public long RevokeStartedAt => Volatile.Read(ref _revokeStartedAt);
    /// <summary>Stopwatch timestamp at which the admin API acknowledged its revocation; 0 until then.</summary>
    public long RevokedAt => Volatile.Read(ref _revokedAt);

    public void MarkRevokeStarted(long timestamp) => Volatile.Write(ref _revokeStartedAt, timestamp);
    public void MarkRevoked(long timestamp) => Volatile.Write(ref _revokedAt, timestamp);

    public static Credential Token(string token, string sessionId, string identityId) =>
        new("X-Session-Token", token, token, sessionId, identityId);

    public static Credential Cookie(string cookieName, string value, string sessionId, string identityId) =>
        new("Cookie", $"{cookieName}={value}", value, sessionId, identityId);
}

/// <summary>The seeded sessions, grouped by identity (revoke-visibility revokes whole identities).</summary>
public sealed record SeededIdentity(string Id, List<Credential> Sessions);
