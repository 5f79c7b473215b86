using OrleansSessions.Login;

namespace OrleansSessions.Tests.Unit;

public sealed class FailureBudgetTests
{
    private static readonly DateTimeOffset T0 = new(2030, 1, 2, 3, 4, 5, TimeSpan.Zero);

    /// <summary>3 failures, forgotten at 3 per minute: one every 20 seconds.</summary>
    private static readonly ThrottleRule Rule = new() { Permits = 3, Window = TimeSpan.FromMinutes(1), ClearOnSuccess = true };

    private static void Fail(FailureBudget budget, DateTimeOffset at)
    {
        var attempt = Guid.NewGuid();
        Assert.True(budget.Begin(attempt, Rule, at).Allowed);
        budget.End(attempt, failed: true, Rule, at);
    }

    [Fact]
    public void Failures_up_to_the_permits_pass_then_the_next_waits_for_one_to_leak_away()
    {
        var budget = new FailureBudget();
        for (var i = 0; i < 3; i++)
            Fail(budget, T0);
        var refused = budget.Begin(Guid.NewGuid(), Rule, T0);
        Assert.False(refused.Allowed);
        Assert.Equal(TimeSpan.FromSeconds(20), refused.RetryAfter);
        Assert.False(budget.Begin(Guid.NewGuid(), Rule, T0.AddSeconds(19)).Allowed);
        // Slowed to the rate, never locked: one more attempt every 20 seconds, for as long as it goes on.
        for (var i = 1; i <= 10; i++)
        {
            Fail(budget, T0.AddSeconds(20 * i));
            Assert.False(budget.Begin(Guid.NewGuid(), Rule, T0.AddSeconds(20 * i)).Allowed);
        }
    }

    [Fact]
    public void Successes_cost_nothing_and_clear_an_identifiers_failures()
    {
        var budget = new FailureBudget();
        for (var i = 0; i < 1000; i++)
        {
            var attempt = Guid.NewGuid();
            Assert.True(budget.Begin(attempt, Rule, T0).Allowed);
            budget.End(attempt, failed: false, Rule, T0);
        }
        Fail(budget, T0);
        Fail(budget, T0);
        var success = Guid.NewGuid();
        Assert.True(budget.Begin(success, Rule, T0).Allowed);
        budget.End(success, failed: false, Rule, T0);
        Assert.Equal(0, budget.Failures(Rule, T0));

        // A shared address's failures stay when someone behind it signs in.
        var address = new FailureBudget();
        var shared = Rule with { ClearOnSuccess = false };
        foreach (var failed in new[] { true, true, false })
        {
            var attempt = Guid.NewGuid();
            Assert.True(address.Begin(attempt, shared, T0).Allowed);
            address.End(attempt, failed, shared, T0);
        }
        Assert.Equal(2, address.Failures(shared, T0));
    }

    [Fact]
    public void Attempts_under_way_hold_their_place_so_many_at_once_cannot_all_pass()
    {
        var budget = new FailureBudget();
        var started = Enumerable.Range(0, 10).Select(_ => budget.Begin(Guid.NewGuid(), Rule, T0)).ToList();
        Assert.Equal(3, started.Count(d => d.Allowed));
        // One that never ends (its node died) stops holding its place after the timeout.
        Assert.False(budget.Begin(Guid.NewGuid(), Rule, T0 + FailureBudget.PendingTimeout - TimeSpan.FromSeconds(1)).Allowed);
        Assert.True(budget.Begin(Guid.NewGuid(), Rule, T0 + FailureBudget.PendingTimeout).Allowed);
    }

    [Fact]
    public void Failures_leak_away_continuously_and_the_bucket_drains()
    {
        var budget = new FailureBudget();
        for (var i = 0; i < 3; i++)
            Fail(budget, T0);
        Assert.Equal(1.5, budget.Failures(Rule, T0.AddSeconds(30)), 6);
        Assert.Equal(TimeSpan.FromSeconds(30), budget.DrainedIn(Rule, T0.AddSeconds(30)));
        Assert.Equal(0, budget.Failures(Rule, T0.AddMinutes(5)));
        Assert.Equal(TimeSpan.Zero, budget.DrainedIn(Rule, T0.AddMinutes(5)));
        for (var i = 0; i < 3; i++)
            Fail(budget, T0.AddMinutes(5));
    }
}
