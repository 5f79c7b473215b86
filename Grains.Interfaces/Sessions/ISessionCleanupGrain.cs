namespace OrleansSessions.Sessions;

/// <summary>
/// Deletes sessions that expired longer ago than the retention. One activation in the cluster
/// (key 0), so one node cleans at a time; every node's scheduler only asks it to run.
/// </summary>
[Alias("os.ISessionCleanupGrain")]
public interface ISessionCleanupGrain : IGrainWithIntegerKey
{
    /// <summary>Deletes expired sessions in batches until none is left; returns how many it deleted.</summary>
    [Alias("Run")]
    Task<int> RunAsync();
}
