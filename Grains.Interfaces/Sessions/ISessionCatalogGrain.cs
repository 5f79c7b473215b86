using System.Collections.Immutable;

namespace OrleansSessions.Sessions;

/// <summary>
/// Queries over stored sessions, answered by whichever silo is nearest. API nodes ask it rather
/// than the database, so they hold no database connection for sessions. The store is the truth:
/// every change is durable before it is acknowledged, so a listing is never behind an answer given.
/// </summary>
[Alias("os.ISessionCatalogGrain")]
public interface ISessionCatalogGrain : IGrainWithIntegerKey
{
    /// <summary>The lookup key of the session with this id, or null when there is none.</summary>
    [ReadOnly, Alias("FindLookupKey")]
    Task<string?> FindLookupKeyAsync(Guid sessionId);

    /// <summary>
    /// All sessions, newest first (created_at descending, then id ascending), after the cursor
    /// when given: Kratos's keyset pagination for <c>GET /admin/sessions</c>.
    /// </summary>
    [ReadOnly, Alias("ListSessions")]
    Task<ImmutableArray<SessionView>> ListAsync(SessionListQuery query);

    /// <summary>
    /// One identity's sessions, newest first, by offset (Kratos's page/token pagination for
    /// <c>GET /sessions</c> and <c>GET /admin/identities/{id}/sessions</c>), with the total count.
    /// </summary>
    [ReadOnly, Alias("ListIdentitySessions")]
    Task<SessionPage> ListForIdentityAsync(IdentitySessionsQuery query);
}

/// <summary>Which sessions <c>active</c> selects: all, active ones (not revoked, not expired), or inactive ones.</summary>
[GenerateSerializer, Alias("os.ActiveFilter")]
public enum ActiveFilter
{
    All = 0,
    Active = 1,
    Inactive = 2,
}

/// <summary>A keyset cursor: the last session of the previous page.</summary>
[GenerateSerializer, Immutable, Alias("os.SessionCursor")]
public sealed record SessionCursor
{
    [Id(0)] public required DateTimeOffset CreatedAt { get; init; }
    [Id(1)] public required Guid Id { get; init; }
}

[GenerateSerializer, Immutable, Alias("os.SessionListQuery")]
public sealed record SessionListQuery
{
    [Id(0)] public required int PageSize { get; init; }
    [Id(1)] public SessionCursor? After { get; init; }
    [Id(2)] public ActiveFilter Active { get; init; }
    /// <summary>Include each session's identity (<c>expand=identity</c>).</summary>
    [Id(3)] public bool WithIdentity { get; init; }
    /// <summary>The instant "expired" is judged at.</summary>
    [Id(4)] public required DateTimeOffset Now { get; init; }
}

[GenerateSerializer, Immutable, Alias("os.IdentitySessionsQuery")]
public sealed record IdentitySessionsQuery
{
    [Id(0)] public required Guid IdentityId { get; init; }
    [Id(1)] public required int Offset { get; init; }
    [Id(2)] public required int Limit { get; init; }
    [Id(3)] public ActiveFilter Active { get; init; }
    /// <summary>Leave this session out (the caller's own, for <c>GET /sessions</c>).</summary>
    [Id(4)] public Guid? Except { get; init; }
    [Id(5)] public required DateTimeOffset Now { get; init; }
}

/// <summary>A page of an identity's sessions (each with its identity) and how many there are in all.</summary>
[GenerateSerializer, Immutable, Alias("os.SessionPage")]
public sealed record SessionPage
{
    [Id(0)] public required ImmutableArray<SessionView> Sessions { get; init; }
    [Id(1)] public required int Total { get; init; }
}
