using OrleansSessions.Storage;

namespace OrleansSessions.Health;

/// <summary>Checks the store from the silo nearest to the caller.</summary>
[StatelessWorker]
public sealed class ReadinessGrain(IStoreProbe store) : Grain, IReadinessGrain
{
    public async Task<string?> CheckAsync()
    {
        try
        {
            await store.ProbeAsync();
            return null;
        }
        catch (Exception e) when (e is System.Data.Common.DbException or TimeoutException or InvalidOperationException)
        {
            return "The store does not answer.";
        }
    }
}
