using Spectre.Console;

namespace OrleansSessions.Bench;

/// <summary>Seeds sessions through the admin API in parallel, with a progress bar.</summary>
public static class Seeding
{
    public static Task<List<SeededIdentity>> SeedAsync(AdminApi admin, int sessions, int perIdentity, bool cookies,
        int parallelism, CancellationToken cancellation) =>
        SeedAsync([admin], sessions, perIdentity, cookies, parallelism, cancellation);

    /// <summary>
    /// Through several nodes, as sign-ins arrive through a load balancer: identity i and its sessions through node
    /// i mod n, so that Orleans places the grains of each on the node that issued them (its default placement
    /// prefers the local silo) and the cluster's sessions are spread over all of them.
    /// </summary>
    public static async Task<List<SeededIdentity>> SeedAsync(IReadOnlyList<AdminApi> admins, int sessions, int perIdentity, bool cookies,
        int parallelism, CancellationToken cancellation)
    {
        var identityCount = (sessions + perIdentity - 1) / perIdentity;
        var identities = new SeededIdentity[identityCount];
        var run = Guid.NewGuid().ToString("N")[..12];
        await AnsiConsole.Progress()
            .AutoClear(false)
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn(), new RemainingTimeColumn())
            .StartAsync(async progress =>
            {
                var task = progress.AddTask($"seeding {sessions} {(cookies ? "cookie" : "token")} sessions for {identityCount} identities", maxValue: sessions);
                await Parallel.ForEachAsync(Enumerable.Range(0, identityCount),
                    new ParallelOptions { MaxDegreeOfParallelism = parallelism, CancellationToken = cancellation },
                    async (i, token) =>
                    {
                        var admin = admins[i % admins.Count];
                        var identityId = await admin.CreateIdentityAsync($"bench-{run}-{i}@example.com", token);
                        var count = Math.Min(perIdentity, sessions - i * perIdentity);
                        var credentials = new List<Credential>(count);
                        for (var s = 0; s < count; s++)
                        {
                            credentials.Add(await admin.IssueSessionAsync(identityId, cookies, token));
                            task.Increment(1);
                        }
                        identities[i] = new SeededIdentity(identityId, credentials);
                    });
            });
        return [.. identities];
    }
}
