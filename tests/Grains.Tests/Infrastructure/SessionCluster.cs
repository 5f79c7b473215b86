using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Time.Testing;
using Orleans.Hosting;
using Orleans.Runtime;
using Orleans.Runtime.Placement;
using Orleans.TestingHost;
using OrleansSessions.Tests.Store;

namespace OrleansSessions.Tests.Infrastructure;

/// <summary>
/// Two in-process silos over one real SQLite file (or, when asked, a fresh PostgreSQL database of the server of
/// <see cref="PostgresServer"/>), with our grains on a fake clock.
/// </summary>
/// <remarks>
/// Time: the <see cref="FakeTimeProvider"/> is registered as the silo's unkeyed <see cref="TimeProvider"/>, which
/// is what <c>SessionGrain</c> and <c>IdentityGrain</c> take in their constructors. Orleans 10.4.2 resolves the
/// clocks of its own background loops (membership, messaging, directory, activation management, ...) as keyed
/// services that fall back to that unkeyed provider; advancing a fake clock would then resume those loops inline
/// and spin. <see cref="TimeProviderTestingExtensions.UseTimeProviderForBackgroundAreas"/> pins every keyed area
/// except <c>TimeProviderNames.Grains</c> to <see cref="TimeProvider.System"/>, so Orleans' infrastructure stays on
/// real time and only grain-facing time is fake. <see cref="StartAsync"/> checks that the grains really get the fake.
/// </remarks>
public sealed class SessionCluster : IAsyncDisposable
{
    /// <summary>Start of the fake clock; deliberately not on a microsecond boundary, as a real clock is not.</summary>
    public static readonly DateTimeOffset Start = new DateTimeOffset(2031, 5, 6, 7, 8, 9, TimeSpan.Zero).AddTicks(1_234_567);

    public const string PublicBaseUrl = "https://sessions.example.test/";

    private readonly TempDirectory _folder;
    // The PostgreSQL database behind the store, when the cluster runs on PostgreSQL.
    private readonly string? _postgres;

    private SessionCluster(TempDirectory folder, string? postgres, RelationalStore store, FakeTimeProvider clock, InProcessTestCluster cluster)
    {
        _folder = folder;
        _postgres = postgres;
        Store = store;
        Clock = clock;
        Cluster = cluster;
    }

    public RelationalStore Store { get; }

    /// <summary>The SQLite file behind <see cref="Store"/>, for tests that look at its rows directly.</summary>
    public string DatabasePath => _postgres is null ? _folder.File("sessions.db") : throw new InvalidOperationException("This cluster runs on PostgreSQL.");

    public FakeTimeProvider Clock { get; }

    public InProcessTestCluster Cluster { get; }

    /// <summary>The grain factory of the i-th silo, as the API co-hosted on that silo would use it.</summary>
    public IGrainFactory Grains(int silo) => Grains(Cluster.Silos[silo]);

    public static IGrainFactory Grains(InProcessSiloHandle silo) => silo.ServiceProvider.GetRequiredService<IGrainFactory>();

    /// <summary>
    /// Starts the cluster; <paramref name="behaviour"/> sets the silos' <see cref="SessionBehaviour"/> (idle timeout,
    /// cleanup, ...); with <paramref name="postgres"/> the store is a new PostgreSQL database, dropped on dispose.
    /// </summary>
    public static async Task<SessionCluster> StartAsync(Action<ISiloBuilder>? configureSilo = null, Action<SessionBehaviour>? behaviour = null,
        bool postgres = false)
    {
        var folder = new TempDirectory();
        var database = postgres ? await PostgresServer.CreateDatabaseAsync() : null;
        RelationalStore store = database is null ? new SqliteStore(folder.File("sessions.db")) : new PostgresStore(database);
        await store.MigrateAsync();
        var clock = new FakeTimeProvider(Start);

        var builder = new InProcessTestClusterBuilder(2);
        // The silos' own grain directory (AddSessionGrains: Orleans' distributed one), not the test cluster's shared in-memory stand-in.
#pragma warning disable ORLEANSEXP003
        builder.Options.UseDistributedGrainDirectory = true;
#pragma warning restore ORLEANSEXP003
        builder.ConfigureSilo((_, silo) =>
        {
            var services = silo.Services;
            services.AddSingleton<ISessionStore>(store);
            services.AddSingleton<IIdentityStore>(store);
            services.AddSingleton<IKeyRingStore>(store);
            services.AddSingleton<ISigningKeyStore>(store);
            services.AddSingleton<IStoreFailures>(store);
            services.AddSingleton(clock);
            services.Replace(ServiceDescriptor.Singleton<TimeProvider>(clock));
            services.UseTimeProviderForBackgroundAreas(TimeProvider.System);
            services.Configure<JsonRenderingOptions>(o => o.PublicBaseUrl = PublicBaseUrl);
            silo.AddSessionGrains(behaviour);
            configureSilo?.Invoke(silo);
        });
        var cluster = builder.Build();
        try
        {
            await cluster.DeployAsync();
            foreach (var silo in cluster.Silos)
            {
                if (!ReferenceEquals(silo.ServiceProvider.GetRequiredService<TimeProvider>(), clock))
                    throw new InvalidOperationException($"Silo {silo.Name} does not resolve the fake clock as its TimeProvider.");
            }
        }
        catch
        {
            await cluster.DisposeAsync();
            await DisposeStoreAsync(folder, database, store);
            throw;
        }
        return new SessionCluster(folder, database, store, clock, cluster);
    }

    /// <summary>Creates an identity through <paramref name="grains"/>; fails the test unless it is created.</summary>
    public static async Task<IdentityRecord> CreateIdentityAsync(IGrainFactory grains, string state = IdentityRecord.StateActive)
    {
        var id = Guid.NewGuid();
        var result = await grains.GetGrain<IIdentityGrain>(id).CreateAsync(DraftFor(id, state));
        Assert.Equal(IdentityWriteOutcome.Written, result.Outcome);
        return result.Identity!;
    }

    /// <summary>The draft <see cref="CreateIdentityAsync"/> uses: traits with an email made from the id, which is also its identifier.</summary>
    public static IdentityDraft DraftFor(Guid id, string state = IdentityRecord.StateActive, string? email = null)
    {
        email ??= $"{id:N}@example.test";
        return new IdentityDraft
        {
            SchemaId = "default",
            State = state,
            Traits = $$"""{"email":"{{email}}"}""",
            MetadataPublic = """{"plan":"free"}""",
            MetadataAdmin = """{"secret_note":"admins only"}""",
            Identifiers = [email],
        };
    }

    /// <summary>Issues a session for <paramref name="identityId"/> under a fresh token.</summary>
    public static async Task<IssuedSession> IssueAsync(IGrainFactory grains, Guid identityId, SessionChannel channel,
        TimeSpan? lifespan = null)
    {
        var token = SessionToken.New();
        var lookupKey = SessionToken.LookupKey(token);
        var result = await grains.GetGrain<IIdentityGrain>(identityId).IssueSessionAsync(new SessionIssueCommand
        {
            LookupKey = lookupKey,
            Channel = channel,
            Lifespan = lifespan ?? TimeSpan.FromHours(24),
            Methods = [new RequestedMethod { Method = "password", Aal = AuthenticatorAssurance.Aal1 }],
            IpAddress = "203.0.113.7",
            UserAgent = "Grains.Tests/1.0",
        });
        return new IssuedSession(token, lookupKey, result);
    }

    /// <summary>Issues a session whose grains (identity and session) are placed on <paramref name="silo"/>.</summary>
    public static async Task<IssuedSession> IssueOnSiloAsync(InProcessSiloHandle silo, Guid identityId, SessionChannel channel)
    {
        // The hint travels in the request context, so it places the identity grain and, through the call the
        // identity grain makes, the session grain too.
        RequestContext.Set(IPlacementDirector.PlacementHintKey, silo.SiloAddress);
        try
        {
            return await IssueAsync(Grains(silo), identityId, channel);
        }
        finally
        {
            RequestContext.Remove(IPlacementDirector.PlacementHintKey);
        }
    }

    /// <summary>The last-seen writer of the i-th silo (what its session grains hand their last use to).</summary>
    public LastSeenWriter LastSeenWriter(int silo) => Cluster.Silos[silo].ServiceProvider.GetRequiredService<LastSeenWriter>();

    /// <summary>The index of the silo that holds the activation of the session grain for <paramref name="lookupKey"/>, or -1.</summary>
    public int SiloIndexOf(string lookupKey)
    {
        var host = HostOf(Grains(0), lookupKey);
        for (var i = 0; i < Cluster.Silos.Count; i++)
            if (Cluster.Silos[i].SiloAddress.Equals(host))
                return i;
        return -1;
    }

    /// <summary>Runs <paramref name="call"/> with a placement hint for <paramref name="silo"/>: grains it activates are placed there.</summary>
    public static async Task<T> OnSiloAsync<T>(InProcessSiloHandle silo, Func<IGrainFactory, Task<T>> call)
    {
        RequestContext.Set(IPlacementDirector.PlacementHintKey, silo.SiloAddress);
        try
        {
            return await call(Grains(silo));
        }
        finally
        {
            RequestContext.Remove(IPlacementDirector.PlacementHintKey);
        }
    }

    /// <summary>
    /// How many requests wait in the activation of <paramref name="grain"/> for the one it is running to finish
    /// (a non-reentrant grain's queue); 0 when it is not activated. Orleans exposes this only in the internal
    /// diagnostic string of an activation (<c>NonReentrancyQueueSize=</c>), read here by reflection: test use only.
    /// </summary>
    public int WaitingRequests(IAddressable grain)
    {
        if (!Cluster.TryGetGrainContext(grain.GetGrainId(), out var context))
            return 0;
        var describe = context.GetType().GetMethod("ToDetailedString", System.Reflection.BindingFlags.Instance | System.Reflection.BindingFlags.NonPublic)
            ?? throw new InvalidOperationException($"{context.GetType()} has no ToDetailedString: Orleans changed.");
        var detail = (string)describe.Invoke(context, [false])!;
        var queue = System.Text.RegularExpressions.Regex.Match(detail, @"NonReentrancyQueueSize=(\d+)");
        return queue.Success ? int.Parse(queue.Groups[1].Value) : throw new InvalidOperationException($"No queue size in '{detail}'.");
    }

    /// <summary>The silo that holds the activation of the session grain for <paramref name="lookupKey"/>, if any.</summary>
    public SiloAddress? HostOf(IGrainFactory grains, string lookupKey) =>
        Cluster.TryGetGrainContext(grains.GetGrain<ISessionGrain>(lookupKey).GetGrainId(), out var context)
            ? context.Address.SiloAddress
            : null;

    /// <summary>The handle of the silo at <paramref name="address"/>.</summary>
    public InProcessSiloHandle Silo(SiloAddress address) => Cluster.Silos.Single(s => s.SiloAddress.Equals(address));

    /// <summary>Issues <paramref name="count"/> token sessions of a new identity, through the silos in turn.</summary>
    public async Task<List<IssuedSession>> IssueSpreadAsync(int count)
    {
        var identity = await CreateIdentityAsync(Grains(0));
        var sessions = new List<IssuedSession>();
        for (var i = 0; i < count; i++)
            sessions.Add(await IssueAsync(Grains(i % Cluster.Silos.Count), identity.Id, SessionChannel.Api));
        return sessions;
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            await Cluster.StopAllSilosAsync();
        }
        finally
        {
            await Cluster.DisposeAsync();
            await DisposeStoreAsync(_folder, _postgres, Store);
        }
    }

    private static async Task DisposeStoreAsync(TempDirectory folder, string? postgres, RelationalStore store)
    {
        folder.Dispose();
        if (store is PostgresStore pg)
            await pg.DisposeAsync();
        if (postgres is not null)
            await PostgresServer.DropDatabaseAsync(postgres);
    }
}

/// <summary>A session issued by a test: the secret the client holds, its lookup key, and the issuer's answer.</summary>
public sealed record IssuedSession(string Token, string LookupKey, SessionIssueResult Result)
{
    public SessionRecord Session => Result.Issued?.Session ?? throw new InvalidOperationException($"Not issued: {Result.Outcome}");

    public IdentityRecord Identity => Result.Issued?.Identity ?? throw new InvalidOperationException($"Not issued: {Result.Outcome}");
}

/// <summary>One cluster shared by the tests of a class (an xunit class fixture).</summary>
public sealed class SessionClusterFixture : IAsyncLifetime
{
    private SessionCluster? _cluster;

    public SessionCluster Cluster => _cluster ?? throw new InvalidOperationException("The cluster has not started.");

    public async Task InitializeAsync() => _cluster = await SessionCluster.StartAsync();

    public async Task DisposeAsync()
    {
        if (_cluster is not null)
            await _cluster.DisposeAsync();
    }
}
