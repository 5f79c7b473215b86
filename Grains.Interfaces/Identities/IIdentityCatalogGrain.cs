using System.Collections.Immutable;

namespace OrleansSessions.Identities;

/// <summary>Queries over stored identities, answered by whichever silo is nearest.</summary>
[Alias("os.IIdentityCatalogGrain")]
public interface IIdentityCatalogGrain : IGrainWithIntegerKey
{
    /// <summary>The identity that has this login identifier (normalised), or null.</summary>
    [ReadOnly, Alias("FindByIdentifier")]
    Task<Guid?> FindByIdentifierAsync(string identifier);

    /// <summary>A page of identities ordered by id, after <paramref name="after"/> when given.</summary>
    [ReadOnly, Alias("List")]
    Task<ImmutableArray<IdentityRecord>> ListAsync(int pageSize, Guid? after);
}
