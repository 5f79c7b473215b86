namespace OrleansSessions.Api.Tests.Infrastructure;

/// <summary>Waiting on a node's view of its cluster.</summary>
public static class ClusterMembership
{
    public static readonly TimeSpan FormationTimeout = TimeSpan.FromSeconds(60);

    /// <summary>
    /// Waits on the node's membership updates (a completion signal, no polling) until it sees
    /// <paramref name="count"/> active silos; fails after <see cref="FormationTimeout"/>.
    /// </summary>
    public static async Task WaitForActiveSilosAsync(this ServiceNode node, int count)
    {
        using var timeout = new CancellationTokenSource(FormationTimeout);
        var seen = 0;
        try
        {
            await foreach (var snapshot in node.Service<IClusterMembershipService>().MembershipUpdates.WithCancellation(timeout.Token))
            {
                seen = snapshot.Members.Values.Count(m => m.Status == SiloStatus.Active);
                if (seen == count)
                    return;
            }
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested)
        {
        }
        Assert.Fail($"node {node.PublicUrl} saw {seen} active silo(s), not {count}, within {FormationTimeout}");
    }
}
