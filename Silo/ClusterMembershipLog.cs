namespace OrleansSessions.Silo;

/// <summary>
/// Logs every change of a silo's status as this node sees it (joining, active, shutting down, dead), with the
/// number of active silos: the one place an operator sees that a node was declared dead, and when. Orleans' own
/// membership logs are below the default log level.
/// </summary>
internal sealed partial class ClusterMembershipLog(IClusterMembershipService membership, ILogger<ClusterMembershipLog> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        ClusterMembershipSnapshot? previous = null;
        try
        {
            await foreach (var snapshot in membership.MembershipUpdates.WithCancellation(stoppingToken))
            {
                var active = snapshot.Members.Values.Count(m => m.Status == SiloStatus.Active);
                var changes = previous is null ? snapshot.Members.Values : snapshot.CreateUpdate(previous).Changes;
                foreach (var member in changes.OrderBy(m => m.SiloAddress.ToString(), StringComparer.Ordinal))
                    LogStatus(member.SiloAddress, member.Status, active);
                previous = snapshot;
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Cluster membership: silo {Silo} is {Status} ({Active} active)")]
    private partial void LogStatus(SiloAddress silo, SiloStatus status, int active);
}
