using Microsoft.Extensions.DependencyInjection;
using Orleans.Runtime.Placement;
using OrleansSessions.Tests.Infrastructure;
using static OrleansSessions.Tests.Infrastructure.SessionCluster;

namespace OrleansSessions.Tests.Cluster;

/// <summary>
/// The session store becomes unreachable (a real SQLite file that cannot be opened) and comes back. Calls are
/// made from one silo to grains on the other, so what the caller sees has crossed the wire: a session in memory
/// still answers, every call that needs the store fails with <see cref="StoreUnavailableException"/> itself, and
/// once the store is back the same grains work, a load that failed included.
/// </summary>
public sealed class StoreOutageTests : IAsyncLifetime
{
    private readonly SwitchableSessionStore _sessions = new();
    private readonly TempDirectory _unreachable = new();
    private SessionCluster? _harness;

    private SessionCluster Harness => _harness!;

    public async Task InitializeAsync()
    {
        _harness = await StartAsync(silo => silo.Services.AddSingleton<ISessionStore>(_sessions));
        _sessions.Inner = Harness.Store;
    }

    public async Task DisposeAsync()
    {
        if (_harness is not null)
            await _harness.DisposeAsync();
        _unreachable.Dispose();
    }

    [Fact]
    public async Task Calls_that_need_the_store_fail_as_StoreUnavailable_across_silos_and_work_once_it_is_back()
    {
        var (caller, host) = (Harness.Cluster.Silos[0], Harness.Cluster.Silos[1]);
        var identity = await CreateIdentityAsync(Grains(caller));
        var warm = await IssueOnSiloAsync(host, identity.Id, SessionChannel.Api);
        var before = await Grains(caller).GetGrain<ISessionGrain>(warm.LookupKey).WhoamiAsync(SessionChannel.Api, false);
        Assert.Equal(WhoamiOutcome.Active, before.Outcome);
        // Stored, never in memory: its first call has to load it.
        var cold = warm.Session with { Id = Guid.NewGuid() };
        await Harness.Store.InsertSessionAsync(cold);

        _sessions.Inner = UnreachableStore();

        var during = await Grains(caller).GetGrain<ISessionGrain>(warm.LookupKey).WhoamiAsync(SessionChannel.Api, false);
        Assert.Equal(WhoamiOutcome.Active, during.Outcome);
        Assert.Equal(before.Body!.ToArray(), during.Body!.ToArray());
        await Assert.ThrowsAsync<StoreUnavailableException>(() => Grains(caller).GetGrain<ISessionGrain>(warm.LookupKey).RevokeAsync());
        Assert.Equal(WhoamiOutcome.Active, (await Grains(caller).GetGrain<ISessionGrain>(warm.LookupKey).WhoamiAsync(SessionChannel.Api, false)).Outcome);
        await Assert.ThrowsAsync<StoreUnavailableException>(() => WhoamiPlacedOnAsync(host, cold.TestKey));
        Assert.Equal(host.SiloAddress, Harness.HostOf(Grains(caller), cold.TestKey)); // the failure crossed from the other silo
        await Assert.ThrowsAsync<StoreUnavailableException>(() => IssueAsync(Grains(caller), identity.Id, SessionChannel.Api));

        _sessions.Inner = Harness.Store;

        Assert.Equal(WhoamiOutcome.Active, (await WhoamiPlacedOnAsync(host, cold.TestKey)).Outcome);
        Assert.True(await Grains(caller).GetGrain<ISessionGrain>(warm.LookupKey).RevokeAsync());
        Assert.Equal(WhoamiOutcome.Unauthorized, (await Grains(caller).GetGrain<ISessionGrain>(warm.LookupKey).WhoamiAsync(SessionChannel.Api, false)).Outcome);
        var issued = await IssueAsync(Grains(caller), identity.Id, SessionChannel.Api);
        Assert.Equal(SessionIssueOutcome.Issued, issued.Result.Outcome);
    }

    /// <summary>A SQLite store whose folder was removed after it was made: every call fails with SQLITE_CANTOPEN.</summary>
    private SqliteStore UnreachableStore()
    {
        var folder = _unreachable.File("gone");
        var store = new SqliteStore(Path.Combine(folder, "sessions.db"));
        Directory.Delete(folder);
        return store;
    }

    /// <summary>whoami from the first silo, on a session grain placed (if it activates now) on <paramref name="silo"/>.</summary>
    private async Task<WhoamiAnswer> WhoamiPlacedOnAsync(Orleans.TestingHost.InProcessSiloHandle silo, string lookupKey)
    {
        RequestContext.Set(IPlacementDirector.PlacementHintKey, silo.SiloAddress);
        try
        {
            return await Grains(Harness.Cluster.Silos[0]).GetGrain<ISessionGrain>(lookupKey).WhoamiAsync(SessionChannel.Api, false);
        }
        finally
        {
            RequestContext.Remove(IPlacementDirector.PlacementHintKey);
        }
    }

    /// <summary>The silos' session store, pointed at the real one or at one that cannot be reached.</summary>
    private sealed class SwitchableSessionStore : DelegatingSessionStore;
}
