using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using OrleansSessions.Sessions;
using OrleansSessions.Storage;
using OrleansSessions.Tokenizer;

namespace OrleansSessions;

/// <summary>
/// What the grains of this assembly need from a silo's services, besides the store (which must also register
/// itself as <see cref="IStoreFailures"/>).
/// </summary>
public static class GrainServices
{
    public static IServiceCollection AddSessionGrainServices(this IServiceCollection services, Action<SessionBehaviour>? configure = null)
    {
        services.AddOptions<SessionBehaviour>().Configure(b => configure?.Invoke(b));
        services.TryAddSingleton(TimeProvider.System);
        services.AddSingleton<LastSeenWriter>();
        services.AddSingleton<SessionGrainServices>();
        // Identity changes reach a silo's sessions through one call per silo (IdentityGrain → every silo's service).
        services.AddSingleton<Identities.IdentityStandings>();
        services.AddGrainService<Identities.IdentityStandingsService>();
        services.AddSingleton<Identities.IIdentityStandingsClient, Identities.IdentityStandingsClient>();
        services.AddHostedService(sp => sp.GetRequiredService<LastSeenWriter>());
        // Options<TokenizerSettings> comes from the host (no templates unless configured).
        services.AddOptions<TokenizerSettings>();
        services.AddSingleton<TokenizerKeys>();
        services.AddSingleton<SessionTokenizer>();
        // The grain directory cache keeps no entry for a grain active on this silo (one per resident session otherwise).
        services.AddSingleton<Orleans.Runtime.GrainDirectory.IGrainDirectoryCache, Cluster.LocalFirstDirectoryCache>();
        services.Configure<Orleans.Configuration.GrainDirectoryOptions>(o =>
            o.CachingStrategy = Orleans.Configuration.GrainDirectoryOptions.CachingStrategyType.Custom);
        // What ISiloBuilder.AddIncomingGrainCallFilter registers: every silo asks the container for its filters.
        services.AddSingleton<IIncomingGrainCallFilter, StoreUnavailableFilter>();
        return services;
    }
}
