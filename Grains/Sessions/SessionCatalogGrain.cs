using System.Collections.Immutable;
using OrleansSessions.Storage;

namespace OrleansSessions.Sessions;

/// <summary>Answers queries over stored sessions from the silo that receives them.</summary>
[StatelessWorker]
public sealed class SessionCatalogGrain(ISessionStore store) : Grain, ISessionCatalogGrain
{
    public Task<string?> FindLookupKeyAsync(Guid sessionId) => store.FindLookupKeyAsync(sessionId);

    public async Task<ImmutableArray<SessionView>> ListAsync(SessionListQuery query) => [.. await store.ListSessionsAsync(query)];

    public Task<SessionPage> ListForIdentityAsync(IdentitySessionsQuery query) => store.ListIdentitySessionsAsync(query);
}
