namespace OrleansSessions.Sessions;

/// <summary>How session grains behave, set by the host from configuration.</summary>
public sealed class SessionBehaviour
{
    /// <summary><c>session.idle_timeout</c>: a session unused this long answers 401; null: no idle timeout.</summary>
    public TimeSpan? IdleTimeout { get; set; }

    /// <summary>
    /// How stale the stored last-seen time may be. Last use is kept in memory on every whoami and
    /// written at most once per this interval per session, in batches.
    /// </summary>
    public TimeSpan LastSeenWriteInterval { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary><c>session.cleanup.retention</c>: how long an expired session stays listable before cleanup deletes it.</summary>
    public TimeSpan CleanupRetention { get; set; } = TimeSpan.FromDays(30);

    /// <summary>
    /// <c>selfservice.flows.login.lifespan</c>: a stored login flow untouched for longer than this (and the time an
    /// expired flow stays known) has expired, and the cleanup deletes it.
    /// </summary>
    public TimeSpan LoginFlowLifespan { get; set; } = TimeSpan.FromHours(1);

    /// <summary><c>session.cleanup.batch_size</c>: rows per delete statement.</summary>
    public int CleanupBatchSize { get; set; } = 1000;
}
