namespace OrleansSessions.Sessions;

/// <summary>
/// Queries over stored sessions, answered by whichever silo is nearest. API nodes ask it rather
/// than the database, so they hold no database connection for sessions.
/// </summary>
[Alias("os.ISessionCatalogGrain")]
public interface ISessionCatalogGrain : IGrainWithIntegerKey
{
    /// <summary>The lookup key of the session with this id, or null when there is none.</summary>
    [ReadOnly, Alias("FindLookupKey")]
    Task<string?> FindLookupKeyAsync(Guid sessionId);
}
