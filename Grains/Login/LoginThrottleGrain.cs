namespace OrleansSessions.Login;

/// <summary>
/// A bucket of failed login attempts (<see cref="FailureBudget"/>), held in memory by one activation for the cluster.
/// It stays in memory while it remembers failures; when the silo holding it goes, the bucket starts anew on another
/// (at worst one more window of attempts for a guesser, never a locked-out owner).
/// </summary>
public sealed class LoginThrottleGrain(TimeProvider clock) : Grain, ILoginThrottleGrain
{
    private readonly FailureBudget _budget = new();

    public Task<ThrottleDecision> BeginAsync(Guid attempt, ThrottleRule rule)
    {
        var now = clock.GetUtcNow();
        var decision = _budget.Begin(attempt, rule, now);
        KeepWhileRemembering(rule, now);
        return Task.FromResult(decision);
    }

    public Task EndAsync(Guid attempt, bool failed, ThrottleRule rule)
    {
        var now = clock.GetUtcNow();
        _budget.End(attempt, failed, rule, now);
        KeepWhileRemembering(rule, now);
        return Task.CompletedTask;
    }

    private void KeepWhileRemembering(ThrottleRule rule, DateTimeOffset now)
    {
        var drained = _budget.DrainedIn(rule, now);
        if (drained > TimeSpan.Zero)
            this.DelayDeactivation(drained);
    }
}
