namespace OrleansSessions.Login;

/// <summary>
/// One throttling bucket of failed login attempts (an identifier, an identity's second factor, or a client address),
/// one activation in the whole cluster, so every node spends the same budget. Key: the bucket's name.
/// </summary>
[Alias("os.ILoginThrottleGrain")]
public interface ILoginThrottleGrain : IGrainWithStringKey
{
    /// <summary>
    /// Starts an attempt: allowed while the failures so far, plus the attempts still under way, are below the rule's
    /// permits (failures leak away at permits per window); otherwise refused with how long to wait.
    /// </summary>
    [Alias("Begin")]
    Task<ThrottleDecision> BeginAsync(Guid attempt, ThrottleRule rule);

    /// <summary>Ends an attempt: a failure is counted; a success clears the failures when the rule says so.</summary>
    [Alias("End")]
    Task EndAsync(Guid attempt, bool failed, ThrottleRule rule);
}

/// <summary>At most <see cref="Permits"/> failed attempts, forgotten at <see cref="Permits"/> per <see cref="Window"/>.</summary>
[GenerateSerializer, Immutable, Alias("os.ThrottleRule")]
public sealed record ThrottleRule
{
    [Id(0)] public required int Permits { get; init; }
    [Id(1)] public required TimeSpan Window { get; init; }
    /// <summary>A success forgets the failures (an identifier's owner signed in); not for a shared address.</summary>
    [Id(2)] public bool ClearOnSuccess { get; init; }
}

[GenerateSerializer, Immutable, Alias("os.ThrottleDecision")]
public readonly record struct ThrottleDecision
{
    [Id(0)] public bool Allowed { get; init; }
    [Id(1)] public TimeSpan RetryAfter { get; init; }
}
