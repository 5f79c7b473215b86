namespace OrleansSessions.Login;

/// <summary>
/// Holds one login flow in memory until it expires. Nothing is stored: a flow is a few minutes of
/// a user's attention, and a lost one costs a new flow, not a lost session.
/// </summary>
public sealed class LoginFlowGrain(TimeProvider clock) : Grain, ILoginFlowGrain
{
    /// <summary>How long an expired flow stays known (answering 410 rather than 404) before it may leave memory.</summary>
    private static readonly TimeSpan KeptAfterExpiry = TimeSpan.FromMinutes(10);

    private LoginFlowRecord? _flow;

    public Task StartAsync(LoginFlowRecord flow)
    {
        if (_flow is null)
        {
            _flow = flow;
            // Idle activations are collected after minutes; a flow must last its whole lifespan.
            var remaining = flow.ExpiresAt - clock.GetUtcNow();
            this.DelayDeactivation((remaining > TimeSpan.Zero ? remaining : TimeSpan.Zero) + KeptAfterExpiry);
        }
        return Task.CompletedTask;
    }

    public Task<LoginFlowRecord?> GetAsync()
    {
        // A lookup of an unknown id (a guess, or a flow from before a restart) keeps nothing in memory.
        if (_flow is null)
            this.DeactivateOnIdle();
        return Task.FromResult(_flow);
    }

    public Task<LoginFlowRecord?> FailAsync(LoginFlowFailure failure)
    {
        if (_flow is null)
        {
            this.DeactivateOnIdle();
            return Task.FromResult<LoginFlowRecord?>(null);
        }
        _flow = _flow with
        {
            Active = failure.Method ?? _flow.Active,
            Identifier = failure.Identifier,
            Messages = failure.Messages,
            UpdatedAt = failure.At,
        };
        return Task.FromResult<LoginFlowRecord?>(_flow);
    }

    public Task<bool> CompleteAsync(string method, DateTimeOffset at)
    {
        if (_flow is null || _flow.Completed)
            return Task.FromResult(false);
        _flow = _flow with { State = LoginFlowRecord.StatePassedChallenge, Active = method, Messages = [], UpdatedAt = at };
        return Task.FromResult(true);
    }

    public Task ReopenAsync()
    {
        if (_flow is { Completed: true })
            _flow = _flow with { State = LoginFlowRecord.StateChooseMethod };
        return Task.CompletedTask;
    }
}
