using Microsoft.Extensions.DependencyInjection;
using Orleans.Storage;
using OrleansSessions.Storage;

namespace OrleansSessions.Login;

/// <summary>
/// Holds one login flow until it expires, in memory and in the grain storage <see cref="LoginStorage.Name"/>: on
/// PostgreSQL, Orleans' ADO.NET storage (so a flow started before its silo restarts or dies can be submitted after,
/// on whichever silo takes it up), on the embedded SQLite default a storage that keeps nothing
/// (<see cref="MemoryOnlyGrainStorage"/>: the flow lives as long as its silo). Every change is stored before it is
/// answered, through <see cref="StoredGrainState{TState}"/> (read by the first call rather than at activation, as
/// <c>[PersistentState]</c> would, and a refused change undone in memory too).
/// </summary>
public sealed class LoginFlowGrain(TimeProvider clock, [FromKeyedServices(LoginStorage.Name)] IGrainStorage storage)
    : Grain, ILoginFlowGrain
{
    /// <summary>How long an expired flow stays known (answering 410 rather than 404) before it may leave memory.</summary>
    public static readonly TimeSpan KeptAfterExpiry = TimeSpan.FromMinutes(10);

    private StoredGrainState<StoredLoginFlow>? _stored;

    /// <summary>The flow, read from the storage by the activation's first call.</summary>
    private async ValueTask<LoginFlowRecord?> FlowAsync()
    {
        if (_stored is null)
        {
            var stored = new StoredGrainState<StoredLoginFlow>(storage, LoginStorage.FlowState, this.GetGrainId());
            // Taken up again from the storage (after a restart, or on another silo): kept for the rest of its life.
            if ((await stored.ReadAsync()).Flow is { } flow)
                KeepUntilExpired(flow);
            _stored = stored;
        }
        return (await _stored.ReadAsync()).Flow;
    }

    public async Task StartAsync(LoginFlowRecord flow)
    {
        if (await FlowAsync() is not null)
            return;
        await SaveAsync(flow);
        KeepUntilExpired(flow);
    }

    public async Task<LoginFlowRecord?> GetAsync()
    {
        var flow = await FlowAsync();
        // A lookup of an unknown id (a guess, or a flow already cleaned up) keeps nothing in memory.
        if (flow is null)
            this.DeactivateOnIdle();
        return flow;
    }

    public async Task<LoginFlowRecord?> FailAsync(LoginFlowFailure failure)
    {
        if (await FlowAsync() is not { } flow)
        {
            this.DeactivateOnIdle();
            return null;
        }
        var failed = flow with
        {
            Active = failure.Method ?? flow.Active,
            Identifier = failure.Identifier,
            Messages = failure.Messages,
            UpdatedAt = failure.At,
        };
        await SaveAsync(failed);
        return failed;
    }

    public async Task<bool> CompleteAsync(string method, DateTimeOffset at)
    {
        if (await FlowAsync() is not { Completed: false } flow)
            return false;
        // Stored before it is answered: a second submission, on this activation or on one after a restart, sees it.
        await SaveAsync(flow with { State = LoginFlowRecord.StatePassedChallenge, Active = method, Messages = [], UpdatedAt = at });
        return true;
    }

    public async Task ReopenAsync()
    {
        if (await FlowAsync() is { Completed: true } flow)
            await SaveAsync(flow with { State = LoginFlowRecord.StateChooseMethod });
    }

    /// <summary>Stores the flow's next state before it is answered (read by <see cref="FlowAsync"/> first).</summary>
    private Task SaveAsync(LoginFlowRecord next) => _stored!.WriteAsync(new StoredLoginFlow { Flow = next });

    private void KeepUntilExpired(LoginFlowRecord flow)
    {
        // Idle activations are collected after minutes; with memory-only storage a flow must stay for its whole lifespan.
        var remaining = flow.ExpiresAt - clock.GetUtcNow();
        this.DelayDeactivation((remaining > TimeSpan.Zero ? remaining : TimeSpan.Zero) + KeptAfterExpiry);
    }
}

/// <summary>What the login flow grain stores: its flow, once started.</summary>
[GenerateSerializer, Alias("os.StoredLoginFlow")]
public sealed class StoredLoginFlow
{
    [Id(0)] public LoginFlowRecord? Flow { get; init; }
}
