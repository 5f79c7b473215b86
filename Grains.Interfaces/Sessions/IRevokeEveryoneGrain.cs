namespace OrleansSessions.Sessions;

/// <summary>
/// Ends every session of every identity (ASVS 5.0 7.4.5: administrators end all users' sessions), identity by
/// identity through each identity's own revocation (<see cref="Identities.IIdentityGrain.RevokeSessionsAsync"/>):
/// one mark per identity, told to every silo, so no session of an identity it reached answers 200 again. One
/// activation in the cluster (key 0) runs one job at a time, in the background, a page of identities per turn.
/// </summary>
[Alias("os.IRevokeEveryoneGrain")]
public interface IRevokeEveryoneGrain : IGrainWithIntegerKey
{
    /// <summary>Starts a job, unless one is running; the job's status either way.</summary>
    [Alias("Start")]
    Task<RevokeEveryoneStatus> StartAsync();

    /// <summary>The latest job's status; null when none ran since this grain was activated.</summary>
    [ReadOnly, Alias("Status")]
    Task<RevokeEveryoneStatus?> StatusAsync();

    /// <summary>The latest job's status once it has finished, or as it stands after <paramref name="timeout"/>.</summary>
    [AlwaysInterleave, Alias("Wait")]
    Task<RevokeEveryoneStatus?> WaitAsync(TimeSpan timeout);
}

/// <summary>Where a job of <see cref="IRevokeEveryoneGrain"/> stands.</summary>
[GenerateSerializer, Immutable, Alias("os.RevokeEveryoneStatus")]
public sealed record RevokeEveryoneStatus
{
    [Id(0)] public required DateTimeOffset StartedAt { get; init; }
    /// <summary>When it reached the last identity; null while it runs.</summary>
    [Id(1)] public DateTimeOffset? FinishedAt { get; init; }
    /// <summary>Identities it has been through so far.</summary>
    [Id(2)] public long Identities { get; init; }
    /// <summary>Sessions those identities' marks revoked.</summary>
    [Id(3)] public long SessionsRevoked { get; init; }
    /// <summary>Why the last page failed (it is tried again), or null.</summary>
    [Id(4)] public string? LastError { get; init; }

    public bool Running => FinishedAt is null;
}
