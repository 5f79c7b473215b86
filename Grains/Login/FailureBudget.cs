namespace OrleansSessions.Login;

/// <summary>
/// The arithmetic of one throttling bucket, plain and clock-free (instants are passed in): a leaky counter of failed
/// attempts that forgets <c>permits</c> failures per <c>window</c>, continuously, so it slows a guesser down to that rate
/// and never locks anyone out. Attempts under way count as failures until they end, so that many attempts at once
/// cannot all pass before the first failure is counted; one that never ends (its node died) stops counting after
/// <see cref="PendingTimeout"/>. Successful attempts cost nothing.
/// </summary>
public sealed class FailureBudget
{
    /// <summary>How long an attempt may be under way before it no longer holds a place (a login takes well under a second).</summary>
    public static readonly TimeSpan PendingTimeout = TimeSpan.FromSeconds(30);

    private readonly Dictionary<Guid, DateTimeOffset> _pending = [];
    private double _failures;
    private DateTimeOffset _at;

    /// <summary>Failures counted now (after leaking), without the attempts under way.</summary>
    public double Failures(ThrottleRule rule, DateTimeOffset now)
    {
        Leak(rule, now);
        return _failures;
    }

    public ThrottleDecision Begin(Guid attempt, ThrottleRule rule, DateTimeOffset now)
    {
        Leak(rule, now);
        foreach (var (id, started) in _pending.ToList())
            if (now - started >= PendingTimeout)
                _pending.Remove(id);
        var taken = _failures + _pending.Count;
        if (taken <= rule.Permits - 1)
        {
            _pending[attempt] = now;
            return new ThrottleDecision { Allowed = true };
        }
        // Until the counter has leaked enough for one more attempt (pending ones ending as failures, the worst case).
        var perFailure = rule.Window.TotalSeconds / rule.Permits;
        var wait = TimeSpan.FromSeconds((taken - (rule.Permits - 1)) * perFailure);
        return new ThrottleDecision { Allowed = false, RetryAfter = wait };
    }

    public void End(Guid attempt, bool failed, ThrottleRule rule, DateTimeOffset now)
    {
        Leak(rule, now);
        _pending.Remove(attempt);
        if (failed)
            _failures += 1;
        else if (rule.ClearOnSuccess)
            _failures = 0;
    }

    /// <summary>How long until nothing is left to remember (then the bucket may be forgotten).</summary>
    public TimeSpan DrainedIn(ThrottleRule rule, DateTimeOffset now)
    {
        Leak(rule, now);
        var failures = TimeSpan.FromSeconds(_failures * rule.Window.TotalSeconds / rule.Permits);
        return _pending.Count > 0 && failures < PendingTimeout ? PendingTimeout : failures;
    }

    private void Leak(ThrottleRule rule, DateTimeOffset now)
    {
        if (now > _at && _failures > 0)
            _failures = Math.Max(0, _failures - (now - _at).TotalSeconds * rule.Permits / rule.Window.TotalSeconds);
        if (now > _at)
            _at = now;
    }
}
