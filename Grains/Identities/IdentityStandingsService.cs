using Microsoft.Extensions.Logging;
using Orleans.Concurrency;
using Orleans.Runtime.Services;
using Orleans.Services;

namespace OrleansSessions.Identities;

/// <summary>Every silo's receiver of identity changes: what the identity grain calls once per silo.</summary>
[Alias("os.IIdentityStandingsService")]
public interface IIdentityStandingsService : IGrainService
{
    /// <summary>The identity changed (null: deleted); durable already. Applied to this silo's <see cref="IdentityStandings"/>.</summary>
    [AlwaysInterleave, Alias("Tell")]
    Task TellAsync(Guid identityId, IdentityRecord? identity);
}

[Reentrant]
public sealed class IdentityStandingsService(GrainId id, Silo silo, ILoggerFactory loggers, IdentityStandings standings)
    : GrainService(id, silo, loggers), IIdentityStandingsService
{
    public Task TellAsync(Guid identityId, IdentityRecord? identity)
    {
        standings.Tell(identityId, identity);
        return Task.CompletedTask;
    }
}

/// <summary>Reaches the <see cref="IIdentityStandingsService"/> of a given silo.</summary>
public interface IIdentityStandingsClient : IGrainServiceClient<IIdentityStandingsService>
{
    IIdentityStandingsService On(SiloAddress silo);
}

public sealed class IdentityStandingsClient(IServiceProvider services)
    : GrainServiceClient<IIdentityStandingsService>(services), IIdentityStandingsClient
{
    public IIdentityStandingsService On(SiloAddress silo) => GetGrainService(silo);
}
