using Microsoft.Extensions.DependencyInjection;
using Orleans.Storage;

namespace OrleansSessions.Login;

/// <summary>
/// Holds one login flow until it expires, in memory and in the grain storage <see cref="LoginStorage.Name"/>: on
/// PostgreSQL, Orleans' ADO.NET storage (so a flow started before its silo restarts or dies can be submitted after,
/// on whichever silo takes it up), on the embedded SQLite default a storage that keeps nothing
/// (<see cref="MemoryOnlyGrainStorage"/>: the flow lives as long as its silo). Every change is stored before it is
/// answered; a change the storage refused is undone in memory too, so memory never holds what the storage does not.
/// The state is read by the first call, not at activation (as <c>[PersistentState]</c> would): a store that cannot be
/// reached then fails that call, which the store filter turns into the API's 503, rather than the activation.
/// </summary>
public sealed class LoginFlowGrain(TimeProvider clock, [FromKeyedServices(LoginStorage.Name)] IGrainStorage storage)
    : Grain, ILoginFlowGrain
{
    /// <summary>How long an expired flow stays known (answering 410 rather than 404) before it may leave memory.</summary>
    public static readonly TimeSpan KeptAfterExpiry = TimeSpan.FromMinutes(10);

    private readonly GrainState<StoredLoginFlow> _stored = new(new StoredLoginFlow());

    private bool _read;

    /// <summary>The state as held (a storage that found no row may leave it empty).</summary>
    private StoredLoginFlow Stored => _stored.State ??= new StoredLoginFlow();

    /// <summary>The flow, read from the storage by the activation's first call.</summary>
    private async ValueTask<LoginFlowRecord?> FlowAsync()
    {
        if (!_read)
        {
            await storage.ReadStateAsync(LoginStorage.FlowState, this.GetGrainId(), _stored);
            _read = true;
            // Taken up again from the storage (after a restart, or on another silo): kept for the rest of its life.
            if (Stored.Flow is { } flow)
                KeepUntilExpired(flow);
        }
        return Stored.Flow;
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
        await SaveAsync(flow with
        {
            Active = failure.Method ?? flow.Active,
            Identifier = failure.Identifier,
            Messages = failure.Messages,
            UpdatedAt = failure.At,
        });
        return Stored.Flow;
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

    private async Task SaveAsync(LoginFlowRecord next)
    {
        var previous = Stored.Flow;
        Stored.Flow = next;
        try
        {
            await storage.WriteStateAsync(LoginStorage.FlowState, this.GetGrainId(), _stored);
        }
        catch
        {
            Stored.Flow = previous;
            throw;
        }
    }

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
    [Id(0)] public LoginFlowRecord? Flow { get; set; }
}
