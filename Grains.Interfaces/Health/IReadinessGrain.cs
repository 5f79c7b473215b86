namespace OrleansSessions.Health;

/// <summary>
/// Answers <c>/health/ready</c>: a call that reaches it proves this node can reach the cluster's
/// grains, and it asks the store to answer too.
/// </summary>
[Alias("os.IReadinessGrain")]
public interface IReadinessGrain : IGrainWithIntegerKey
{
    /// <summary>Null when ready; otherwise what is not.</summary>
    [ReadOnly, Alias("Check")]
    Task<string?> CheckAsync();
}
