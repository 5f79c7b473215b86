using System.Security.Cryptography.X509Certificates;
using System.Net;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Orleans.Configuration;
using OrleansSessions.Api;
using OrleansSessions.Api.Configuration;
using OrleansSessions.Api.Surfaces;
using OrleansSessions.Identities;
using OrleansSessions.Silo.KeyRing;
using OrleansSessions.Sessions;
using OrleansSessions.Storage;

namespace OrleansSessions.Silo;

/// <summary>
/// What a node is made of, by <see cref="NodeRole"/>: a silo holding the session grains and the public
/// and admin listeners in the same process (co-hosted), or one of the two halves of the split mode (a
/// silo with a health listener only; an API node that is an Orleans client). Every role opens the
/// durable store. Tests build the same host with their own settings.
/// </summary>
public static class SessionServiceHost
{
    /// <param name="applicationFolder">
    /// The Silo's own folder, whose <c>appsettings.json</c> is the base configuration (the process passes it; tests,
    /// which bring their settings, do not).
    /// </param>
    public static WebApplicationBuilder CreateBuilder(string[] args, string? applicationFolder = null)
    {
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = args });
        if (applicationFolder is not null)
            ApplicationSettings.AddBeneath(builder.Configuration, builder.Environment.ContentRootPath, builder.Environment.EnvironmentName, applicationFolder);
        var configuration = builder.Configuration;
        var role = NodeRoles.Parse(configuration[NodeRoles.Key]);
        var dev = configuration.GetValue("dev", false);
        var serve = configuration.GetSection(ServeOptions.Section).Get<ServeOptions>() ?? new ServeOptions();
        var store = configuration.GetSection(StoreOptions.Section).Get<StoreOptions>() ?? new StoreOptions();
        // A relative data directory is under the content root (the Silo folder under `dotnet run`).
        store.DataDirectory = Path.Combine(builder.Environment.ContentRootPath, store.DataDirectory);
        var orleans = configuration.GetSection(OrleansSettings.Section).Get<OrleansSettings>() ?? new OrleansSettings();

        // Loaded once, here: a missing file or key stops the node at start-up; the admin page's client trusts the admin one.
        var certificates = ListenerCertificates.Load(serve);
        builder.Services.AddSingleton(certificates);
        // Kestrel logs why it rejected a malformed request at Debug, quoting the offending line, which can be a session
        // token or cookie header: that category never logs below Information, whatever the configured levels (a rule
        // added after the configuration's wins over the configuration's own rule for the same category).
        builder.Logging.AddFilter("Microsoft.AspNetCore.Server.Kestrel.BadRequests", LogLevel.Information);
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            kestrel.Limits.MaxRequestBodySize = 1024 * 1024;
            // A silo of the split mode serves no API: its admin listener answers health only.
            if (role.ServesApi())
                Listen(kestrel, serve.Public, ApiSurface.Public, certificates.Public);
            Listen(kestrel, serve.Admin, ApiSurface.Admin, certificates.Admin);
        });

        var regions = RegionSettings.Read(configuration, store.IsPostgres);
        builder.Services.AddSingleton(regions);
        builder.Services.AddSessionApi(configuration, dev);
        builder.Services.AddSingleton(Options.Create(TokenizerConfiguration.Read(configuration)));
        // Every role opens the store: silos for the grains, API nodes for the cookie key ring only.
        AddStore(builder.Services, store, regions.SelfName);
        // The cookie key ring; with key encryption on, grains-only silos need it too: it seals their signing keys.
        var keyEncryption = KeyEncryptionSettings.Read(configuration);
        if (role.ServesApi() || keyEncryption is not null)
            KeyRingProtection.Add(builder.Services, keyEncryption, regions.CreatesKeys);

        var observability = ObservabilitySettings.Read(configuration);
        builder.Services.AddSingleton(observability);
        ServiceObservability.AddObservability(builder, observability, role);

        var membership = Membership(configuration, store);
        // Silos and API nodes of one cluster (localhost clustering sets these itself).
        if (membership == "postgres")
        {
            builder.Services.Configure<ClusterOptions>(o =>
            {
                o.ClusterId = orleans.ClusterId;
                o.ServiceId = orleans.ServiceId;
            });
        }
        if (role.HostsGrains())
            AddSilo(builder, configuration, orleans, store, membership, observability);
        else
            AddClient(builder, orleans, store, membership, observability);
        return builder;
    }

    /// <summary>
    /// <c>orleans:membership</c>: "localhost" (default: this node is a cluster of its own; an API node
    /// finds its silo's gateway on this host at <c>orleans:gateway_port</c>) or "postgres" (membership in
    /// the PostgreSQL store's tables of migration 0004, so nodes sharing cluster_id/service_id form one
    /// cluster and API nodes find every silo's gateway there). Not "orleans:clustering": Orleans itself
    /// reads the (case-insensitive) Orleans:Clustering section as its declarative provider configuration
    /// and refuses to start when it holds anything else.
    /// </summary>
    private static string Membership(IConfiguration configuration, StoreOptions store)
    {
        var membership = configuration["orleans:membership"] is { Length: > 0 } c ? c.Trim().ToLowerInvariant() : "localhost";
        if (membership is not ("localhost" or "postgres"))
            throw new InvalidOperationException($"orleans:membership '{membership}' is not supported; use 'localhost' or 'postgres'.");
        if (membership == "postgres" && !store.IsPostgres)
            throw new InvalidOperationException("orleans:membership 'postgres' needs store:provider 'postgres' (the membership tables live in that database).");
        return membership;
    }

    private static void AddSilo(WebApplicationBuilder builder, IConfiguration configuration, OrleansSettings orleans, StoreOptions store,
        string membership, ObservabilitySettings observability)
    {
        void Behaviour(SessionBehaviour behaviour)
        {
            if (configuration["session:idle_timeout"] is { Length: > 0 } idle)
                behaviour.IdleTimeout = GoDuration.Parse(idle, "session:idle_timeout");
            if (configuration["session:last_seen_write_interval"] is { Length: > 0 } interval)
                behaviour.LastSeenWriteInterval = GoDuration.Parse(interval, "session:last_seen_write_interval");
            if (configuration["session:cleanup:retention"] is { Length: > 0 } retention)
                behaviour.CleanupRetention = GoDuration.Parse(retention, "session:cleanup:retention");
            behaviour.CleanupBatchSize = configuration.GetValue("session:cleanup:batch_size", behaviour.CleanupBatchSize);
            if (configuration["selfservice:flows:login:lifespan"] is { Length: > 0 } lifespan)
                behaviour.LoginFlowLifespan = GoDuration.Parse(lifespan, "selfservice:flows:login:lifespan");
        }
        var cleanupInterval = GoDuration.Parse(configuration["session:cleanup:interval"] ?? "1h", "session:cleanup:interval");
        builder.Services.AddHostedService(sp => new SessionCleanupScheduler(sp.GetRequiredService<IGrainFactory>(),
            sp.GetRequiredService<TimeProvider>(), cleanupInterval, sp.GetRequiredService<ILogger<SessionCleanupScheduler>>()));

        var idleEviction = GoDuration.Parse(orleans.SessionIdleEviction, "orleans:session_idle_eviction");
        var identityIdleEviction = GoDuration.Parse(orleans.IdentityIdleEviction, "orleans:identity_idle_eviction");
        var advertisedIp = orleans.AdvertisedIp is { Length: > 0 } ip ? IPAddress.Parse(ip) : null;
        var failureDetection = orleans.FailureDetection();
        builder.UseOrleans(silo =>
        {
            silo.AddSessionGrains(Behaviour);
            // Login flows and spent TOTP steps outlive their silo on PostgreSQL (migration 0008); SQLite keeps them in memory.
            if (store.IsPostgres)
            {
                silo.AddAdoNetGrainStorage(Login.LoginStorage.Name, o => o.Configure<Orleans.Serialization.Serializer>((options, serializer) =>
                {
                    options.Invariant = "Npgsql";
                    options.ConnectionString = store.ConnectionString;
                    // Orleans' own binary format: the flow records are [GenerateSerializer] types, versioned by their ids.
                    options.GrainStorageSerializer = new Orleans.Storage.OrleansGrainStorageSerializer(serializer);
                    options.DeleteStateOnClear = true;
                }));
            }
            if (membership == "postgres")
            {
                silo.UseAdoNetClustering(o =>
                {
                    o.Invariant = "Npgsql";
                    o.ConnectionString = store.ConnectionString;
                });
                silo.Configure<EndpointOptions>(o =>
                {
                    o.SiloPort = orleans.SiloPort;
                    o.GatewayPort = orleans.GatewayPort;
                    // Unset: Orleans picks an address of this host; other nodes must be able to reach it.
                    if (advertisedIp is not null)
                        o.AdvertisedIPAddress = advertisedIp;
                });
            }
            else
            {
                silo.UseLocalhostClustering(orleans.SiloPort, orleans.GatewayPort, serviceId: orleans.ServiceId, clusterId: orleans.ClusterId);
            }
            silo.Configure<GrainCollectionOptions>(o =>
            {
                o.ClassSpecificCollectionAge[typeof(SessionGrain).FullName!] = idleEviction;
                o.ClassSpecificCollectionAge[typeof(IdentityGrain).FullName!] = identityIdleEviction;
            });
            silo.Configure(failureDetection);
            ServiceObservability.AddToSilo(silo, observability);
        });
        builder.Services.AddHostedService<ClusterMembershipLog>();
        if (HeapCompactionSettings.Read(builder.Configuration) is { } compaction)
            builder.Services.AddHostedService(sp => new HeapCompaction(compaction, sp.GetRequiredService<TimeProvider>(),
                sp.GetRequiredService<ILogger<HeapCompaction>>()));
    }

    /// <summary>An API node: an Orleans client of the cluster's gateways; it keeps retrying until one answers.</summary>
    private static void AddClient(WebApplicationBuilder builder, OrleansSettings orleans, StoreOptions store, string membership,
        ObservabilitySettings observability)
    {
        var connectTimeout = GoDuration.Parse(orleans.ClientConnectTimeout, "orleans:client_connect_timeout");
        builder.UseOrleansClient(client =>
        {
            if (membership == "postgres")
            {
                client.UseAdoNetClustering(o =>
                {
                    o.Invariant = "Npgsql";
                    o.ConnectionString = store.ConnectionString;
                });
            }
            else
            {
                client.UseLocalhostClustering(orleans.GatewayPort, serviceId: orleans.ServiceId, clusterId: orleans.ClusterId);
            }
            client.UseConnectionRetryFilter(new GatewayRetry(connectTimeout, TimeProvider.System));
            ServiceObservability.AddToClient(client, observability);
        });
    }

    /// <summary>Builds the node: applies pending migrations when configured, and maps the API.</summary>
    public static async Task<WebApplication> BuildAsync(WebApplicationBuilder builder)
    {
        var app = builder.Build();
        var role = NodeRoles.Parse(app.Configuration[NodeRoles.Key]);
        var store = app.Services.GetRequiredService<IOptions<StoreOptions>>().Value;
        // The silos own the schema; an API node only reads the key ring.
        if (store.MigrateOnStart && role.HostsGrains())
            await app.Services.GetRequiredService<ISchemaMigrator>().MigrateAsync();
        KeyRingProtection.EnsureOpens(app.Services);
        if (role.ServesApi())
            app.MapSessionApi();
        else
            app.MapHealthOnly();
        ServiceObservability.MapObservability(app, app.Services.GetRequiredService<ObservabilitySettings>(), role);
        app.Lifetime.ApplicationStarted.Register(() => AnnounceReady(app, role, store));
        return app;
    }

    /// <summary>
    /// The addresses actually bound: public then admin (the order they were configured in); a silo of
    /// the split mode has no public listener.
    /// </summary>
    public static (Uri? Public, Uri Admin) BoundAddresses(WebApplication app)
    {
        var addresses = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Select(a => new Uri(a)).ToList();
        return addresses.Count == 1 ? (null, addresses[0]) : (addresses[0], addresses[1]);
    }

    private static void AddStore(IServiceCollection services, StoreOptions options, string region)
    {
        options.Validate();
        services.AddSingleton(Options.Create(options));
        AddStore(services, _ => options.Open(region));
    }

    private static void AddStore<TStore>(IServiceCollection services, Func<IServiceProvider, TStore> create)
        where TStore : class, IIdentityStore, ISessionStore, IKeyRingStore, ISigningKeyStore, ISchemaMigrator, IStoreProbe, IStoreFailures
    {
        services.AddSingleton(create);
        // Timed and traced (ServiceTelemetry.StoreDuration, activities store.<Operation>).
        services.AddSingleton(sp => InstrumentedStore.Wrap<ISessionStore>(sp.GetRequiredService<TStore>()));
        services.AddSingleton(sp => InstrumentedStore.Wrap<IIdentityStore>(sp.GetRequiredService<TStore>()));
        services.AddSingleton<IKeyRingStore>(sp => sp.GetRequiredService<TStore>());
        services.AddSingleton(sp => InstrumentedStore.Wrap<ISigningKeyStore>(sp.GetRequiredService<TStore>()));
        services.AddSingleton<ISchemaMigrator>(sp => sp.GetRequiredService<TStore>());
        services.AddSingleton<IStoreProbe>(sp => sp.GetRequiredService<TStore>());
        services.AddSingleton<IStoreFailures>(sp => sp.GetRequiredService<TStore>());
    }

    private static void Listen(KestrelServerOptions kestrel, ListenerOptions listener, ApiSurface surface, X509Certificate2? certificate)
    {
        var address = listener.Host switch
        {
            "localhost" => IPAddress.Loopback,
            "*" or "0.0.0.0" or "" => IPAddress.Any,
            _ => IPAddress.Parse(listener.Host),
        };
        kestrel.Listen(address, listener.Port, options =>
        {
            options.Use(ApiSurfaces.Tag(surface));
            if (certificate is not null)
                options.UseHttps(certificate);
        });
    }

    private static void AnnounceReady(WebApplication app, NodeRole role, StoreOptions store)
    {
        var (publicUrl, adminUrl) = BoundAddresses(app);
        var dev = app.Services.GetRequiredService<DevMode>();
        var logger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("OrleansSessions");
        if (role == NodeRole.Silo)
        {
            Console.Out.WriteLine($"OrleansSessions ready: silo (grains only, no API), health on {adminUrl}, store {store.Provider} at {store.Describe()}");
            Console.Out.Flush();
            return;
        }
        if (dev.Enabled)
        {
            logger.LogWarning("DEV MODE: session cookies are sent without Secure. Never run dev mode in production.");
            logger.LogWarning("DEV MODE: the admin API on {AdminUrl} is OPEN: it answers every request without an API key. "
                + "Anyone who can reach that port can read, issue and end sessions and change identities.", adminUrl);
        }
        // Written to stdout whatever the log levels: scripts and the compatibility tests wait for this line.
        var client = role == NodeRole.Api ? " (API node: an Orleans client of the silos)" : "";
        Console.Out.WriteLine($"OrleansSessions ready: public API {publicUrl}, admin API {adminUrl}, store {store.Provider} at {store.Describe()}{client}");
        Console.Out.Flush();
    }
}
