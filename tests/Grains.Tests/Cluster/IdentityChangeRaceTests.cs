using System.Collections.Concurrent;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using OrleansSessions.Tests.Infrastructure;
using static OrleansSessions.Tests.Infrastructure.Answers;
using static OrleansSessions.Tests.Infrastructure.SessionCluster;

namespace OrleansSessions.Tests.Cluster;

/// <summary>
/// An identity change that reaches a silo while one of its session grains is loading. The change travels as it
/// does in production, to the silo's <see cref="IdentityStandings"/> through the grain service, sent from the other
/// silo; the load is held at a gate (at the store, or where it reads the identity from the identity grain), so the
/// change deterministically arrives in the middle of it, as a message overtaken by the load's own read would.
/// </summary>
public sealed class IdentityChangeRaceTests : IAsyncLifetime
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    private readonly GatedSessionStore _gated = new();
    private readonly WatchGate _watch = new();
    private SessionCluster _harness = null!;

    private IGrainFactory SiloA => _harness.Grains(0);

    private IGrainFactory SiloB => _harness.Grains(1);

    public async Task InitializeAsync()
    {
        _harness = await StartAsync(silo =>
        {
            silo.Services.Replace(ServiceDescriptor.Singleton<ISessionStore>(_gated));
            silo.AddIncomingGrainCallFilter(_watch);
        });
        _gated.Inner = _harness.Store;
    }

    /// <summary>Tells silo <paramref name="silo"/>'s standings of <paramref name="identity"/> through the grain service, from the other silo.</summary>
    private Task TellAsync(int silo, Guid identityId, IdentityRecord? identity) =>
        _harness.Cluster.Silos[1 - silo].ServiceProvider.GetRequiredService<IIdentityStandingsClient>()
            .On(_harness.Cluster.Silos[silo].SiloAddress).TellAsync(identityId, identity);

    public async Task DisposeAsync() => await _harness.DisposeAsync();

    /// <summary>A newer identity told while the session loads wins over the older one the load reads.</summary>
    [Fact]
    public async Task Newer_identity_told_during_the_load_wins_over_the_one_the_load_reads()
    {
        var (identity, issued) = await SessionOutOfMemoryAsync();
        var newer = identity with { Version = identity.Version + 1, Traits = """{"email":"told@example.test"}""" };

        var answer = await WhoamiWhileToldAsync(issued, newer);

        Assert.Equal(WhoamiOutcome.Active, answer.Outcome);
        Assert.Equal(newer.Traits, TraitsOf(answer));
    }

    /// <summary>An older identity told while the session loads loses to the newer one the load reads.</summary>
    [Fact]
    public async Task Older_identity_told_during_the_load_loses_to_the_one_the_load_reads()
    {
        var (identity, issued) = await SessionOutOfMemoryAsync();
        var older = identity with { Version = identity.Version - 1, Traits = """{"email":"stale@example.test"}""" };

        var answer = await WhoamiWhileToldAsync(issued, older);

        Assert.Equal(WhoamiOutcome.Active, answer.Outcome);
        Assert.Equal(identity.Traits, TraitsOf(answer));
    }

    /// <summary>A deletion told while the session loads wins, even though the load still finds the identity.</summary>
    [Fact]
    public async Task Deletion_told_during_the_load_wins()
    {
        var (identity, issued) = await SessionOutOfMemoryAsync();

        var answer = await WhoamiWhileToldAsync(issued, identity with { Version = identity.Version + 1 }, deleted: true);

        Assert.Equal(WhoamiOutcome.Unauthorized, answer.Outcome);
        Assert.Null(answer.Body);
    }

    /// <summary>A session held in memory ignores a copy of its identity older than the one it holds.</summary>
    [Fact]
    public async Task Held_session_ignores_an_older_identity_and_takes_a_newer_one()
    {
        var identity = await CreateIdentityAsync(SiloA);
        var issued = await IssueAsync(SiloA, identity.Id, SessionChannel.Api);
        var updated = await SiloB.GetGrain<IIdentityGrain>(identity.Id).UpdateAsync(DraftFor(identity.Id) with { Traits = """{"email":"v2@example.test"}""" }, expectedVersion: null);
        Assert.Equal(IdentityWriteOutcome.Written, updated.Outcome);
        var before = await AssertActiveAsync(issued, SiloA, SiloB);

        var host = _harness.SiloIndexOf(issued.LookupKey);
        await TellAsync(host, identity.Id, identity with { Traits = """{"email":"v1@example.test"}""" });

        var after = await AssertActiveAsync(issued, SiloA, SiloB);
        Assert.Equal(before.Body!.ToArray(), after.Body!.ToArray());
        Assert.Equal(updated.Identity!.Traits, TraitsOf(after));

        var newer = updated.Identity with { Version = updated.Identity.Version + 1, Traits = """{"email":"v3@example.test"}""" };
        await TellAsync(host, identity.Id, newer);

        Assert.Equal(newer.Traits, TraitsOf(await AssertActiveAsync(issued, SiloB, SiloA)));
    }

    /// <summary>
    /// A real update while a session's load is held at the store: UpdateAsync returns without waiting for the load,
    /// and the whoami that was loading answers with the new traits.
    /// </summary>
    [Fact]
    public async Task Update_during_a_held_load_returns_and_the_load_answers_the_new_traits()
    {
        var (identity, issued) = await SessionOutOfMemoryAsync();
        var gate = _gated.Close(issued.LookupKey);
        var whoami = WhoamiAsync(SiloA, issued);
        await gate.Entered.WaitAsync(Patience);

        var updated = await SiloB.GetGrain<IIdentityGrain>(identity.Id).UpdateAsync(DraftFor(identity.Id) with { Traits = """{"email":"during@example.test"}""" }, expectedVersion: null);
        Assert.Equal(IdentityWriteOutcome.Written, updated.Outcome);
        Assert.False(whoami.IsCompleted);
        gate.Open();

        var answer = await whoami.WaitAsync(Patience);
        Assert.Equal(WhoamiOutcome.Active, answer.Outcome);
        Assert.Equal(updated.Identity!.Traits, TraitsOf(answer));
        Assert.Equal(updated.Identity.Traits, TraitsOf(await AssertActiveAsync(issued, SiloB, SiloA)));
    }

    private async Task<(IdentityRecord Identity, IssuedSession Issued)> SessionOutOfMemoryAsync()
    {
        var identity = await CreateIdentityAsync(SiloA);
        var issued = await IssueAsync(SiloA, identity.Id, SessionChannel.Api);
        await _harness.Cluster.DeactivateAsync(SiloA.GetGrain<ISessionGrain>(issued.LookupKey));
        Assert.Null(_harness.HostOf(SiloA, issued.LookupKey));
        return (identity, issued);
    }

    /// <summary>
    /// Starts a whoami through silo A, holds its load where it reads the identity from the identity grain, tells the
    /// silo that hosts it <paramref name="told"/> (or, with <paramref name="deleted"/>, the deletion)
    /// through silo B, then lets the load finish with the identity as the identity grain holds it.
    /// </summary>
    private async Task<WhoamiAnswer> WhoamiWhileToldAsync(IssuedSession issued, IdentityRecord told, bool deleted = false)
    {
        var gate = _watch.Close(told.Id);
        var whoami = OnSiloAsync(_harness.Cluster.Silos[0], grains => grains.GetGrain<ISessionGrain>(issued.LookupKey).WhoamiAsync(SessionChannel.Api, false));
        await gate.Entered.WaitAsync(Patience);
        var host = _harness.SiloIndexOf(issued.LookupKey);
        Assert.InRange(host, 0, 1);

        await TellAsync(host, told.Id, deleted ? null : told);
        Assert.False(whoami.IsCompleted);
        gate.Open();

        return await whoami.WaitAsync(Patience);
    }

    /// <summary>Holds the next <see cref="IIdentityGrain.WatchAsync"/> of a closed identity (a session's load reading it) until the gate opens.</summary>
    private sealed class WatchGate : IIncomingGrainCallFilter
    {
        private readonly ConcurrentDictionary<Guid, Gate> _gates = new();

        public Gate Close(Guid identityId) => _gates[identityId] = new Gate();

        public async Task Invoke(IIncomingGrainCallContext context)
        {
            if (context.InterfaceMethod?.Name == nameof(IIdentityGrain.WatchAsync)
                && context.TargetId.TryGetGuidKey(out var identityId, out _)
                && _gates.TryRemove(identityId, out var gate))
            {
                gate.SignalEntered();
                await gate.Opened;
            }
            await context.Invoke();
        }
    }

    /// <summary>A session store whose lookup of a closed key reads the row, then waits until the gate is opened.</summary>
    private sealed class GatedSessionStore : DelegatingSessionStore
    {
        private readonly ConcurrentDictionary<string, Gate> _gates = new();

        public Gate Close(string lookupKey) => _gates[lookupKey] = new Gate();

        public override async Task<SessionRecord?> FindSessionByLookupKeyAsync(string lookupKey, CancellationToken ct = default)
        {
            var row = await Inner.FindSessionByLookupKeyAsync(lookupKey, ct);
            if (_gates.TryRemove(lookupKey, out var gate))
            {
                gate.SignalEntered();
                await gate.Opened;
            }
            return row;
        }
    }
}
