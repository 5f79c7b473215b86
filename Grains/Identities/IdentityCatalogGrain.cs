using System.Collections.Immutable;
using OrleansSessions.Storage;

namespace OrleansSessions.Identities;

/// <summary>Answers queries over stored identities from the silo that receives them.</summary>
[StatelessWorker]
public sealed class IdentityCatalogGrain(IIdentityStore store) : Grain, IIdentityCatalogGrain
{
    public Task<Guid?> FindByIdentifierAsync(string identifier) => store.FindIdentityIdByIdentifierAsync(identifier);

    public async Task<ImmutableArray<IdentityRecord>> ListAsync(int pageSize, Guid? after) =>
        [.. await store.ListIdentitiesAsync(pageSize, after)];
}
