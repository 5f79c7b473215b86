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
    /// <summary>
    /// What a silo of the service runs: the grain services below, on Orleans' distributed grain directory. Orleans'
    /// default directory deactivates every activation whose directory entry lived on a silo that leaves (a graceful
    /// leave too: with 8 silos, 4 leaving took half of all resident sessions with them, each read again from the store
    /// on its next whoami); the distributed one hands a leaving silo's ranges to their new owners, and after a crash
    /// recovers them from the silos that hold the activations, so a silo joining or leaving moves no other silo's sessions.
    /// </summary>
    public static ISiloBuilder AddSessionGrains(this ISiloBuilder silo, Action<SessionBehaviour>? configure = null)
    {
#pragma warning disable ORLEANSEXP003 // experimental in Orleans 10; the behaviour above is tested (DirectoryHandOverTests)
        silo.AddDistributedGrainDirectory();
#pragma warning restore ORLEANSEXP003
        silo.Services.AddSessionGrainServices(configure);
        return silo;
    }

    private static IServiceCollection AddSessionGrainServices(this IServiceCollection services, Action<SessionBehaviour>? configure = null)
    {
        services.AddOptions<SessionBehaviour>().Configure(b => configure?.Invoke(b));
        services.TryAddSingleton(TimeProvider.System);
        // The host registers the configured regions first; without it, no regions (as the service has always been).
        services.TryAddSingleton(Regions.RegionMap.None);
        services.AddSingleton<Regions.RegionStores>();
        services.AddSingleton<Regions.RegionLeases>();
        // With regions: what other regions change reaches this silo's sessions, and this region's heartbeat reaches them.
        services.AddSingleton<Regions.RegionChangeFeed>();
        services.AddHostedService(sp => sp.GetRequiredService<Regions.RegionChangeFeed>());
        services.AddHostedService<Regions.RegionHeartbeat>();
        // Login flows and spent TOTP steps in memory only unless the host stores them (PostgreSQL: Orleans' ADO.NET storage).
        services.TryAddKeyedSingleton<Orleans.Storage.IGrainStorage>(Login.LoginStorage.Name, Login.MemoryOnlyGrainStorage.Instance);
        services.AddSingleton<LastSeenWriter>();
        services.AddSingleton<SessionGrainServices>();
        // Identity changes reach a silo's sessions through one call per silo (IdentityGrain → every silo's service).
        services.AddSingleton<Identities.IdentityStandings>();
        services.AddGrainService<Identities.IdentityStandingsService>();
        services.AddSingleton<Identities.IIdentityStandingsClient, Identities.IdentityStandingsClient>();
        services.AddHostedService(sp => sp.GetRequiredService<LastSeenWriter>());
        // Options<TokenizerSettings> comes from the host (no templates unless configured).
        services.AddOptions<TokenizerSettings>();
        // Private keys stored as they are unless the host seals them (key encryption).
        services.TryAddSingleton<IPrivateKeyProtection>(PlaintextPrivateKeys.Instance);
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
