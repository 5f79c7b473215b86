using System.Diagnostics;
using System.Globalization;
using HdrHistogram;

namespace OrleansSessions.Bench;

/// <summary>
/// mixed: whoami load while a steady trickle replaces sessions (issue one, revoke the one it replaces). A share of
/// the requests presents revoked credentials; once the revocation was acknowledged each must answer 401, and a 200
/// counts as an error.
/// </summary>
public static class MixedScenario
{
    public static async Task RunAsync(BenchRun run)
    {
        var settings = run.Settings;
        await run.UseServiceAsync();
        using var admin = run.CreateAdmin();
        var identities = await Seeding.SeedAsync(admin, settings.Sessions, settings.SessionsPerIdentity ?? 1, cookies: false, settings.SeedParallelism, run.Cancellation);
        var pool = new ChurningCredentials(identities.SelectMany(i => i.Sessions).ToList(), settings.RevokedShare);

        using var stopChurn = CancellationTokenSource.CreateLinkedTokenSource(run.Cancellation);
        var churn = new Churn(admin, pool, identities);
        var churning = settings.ChurnRate > 0 ? churn.RunAsync(settings.ChurnRate, stopChurn.Token) : Task.CompletedTask;
        var result = await WhoamiLoad.RunAsync("service, mixed", run.Plan(run.Targets), pool, run.Cancellation);
        await stopChurn.CancelAsync();
        await churning;
        run.Report.Runs.Add(result);

        var issue = Latencies.Of(churn.IssueLatency);
        var revoke = Latencies.Of(churn.RevokeLatency);
        var violations = result.ErrorsByKind.GetValueOrDefault("200 for a revoked credential");
        run.Report.Details = new
        {
            churn_rate_per_second = settings.ChurnRate,
            sessions_issued = churn.Issued,
            sessions_revoked = churn.Revoked,
            churn_failures = churn.Failures,
            issue_latency_microseconds = issue,
            revoke_latency_microseconds = revoke,
            revoked_credentials_answered_401 = result.RevokedCredentialsAnswered401,
            revoked_credentials_answered_200 = violations,
        };
        var s = run.Report.Sections;
        s.AppendLine("## Churn (whole run, warm-up included)");
        s.AppendLine();
        s.AppendLine("| | count | p50 ms | p99 ms | max ms |");
        s.AppendLine("| --- | ---: | ---: | ---: | ---: |");
        s.AppendLine(CultureInfo.InvariantCulture, $"| sessions issued | {churn.Issued} | {Report.Ms(issue.P50)} | {Report.Ms(issue.P99)} | {Report.Ms(issue.Max)} |");
        s.AppendLine(CultureInfo.InvariantCulture, $"| sessions revoked | {churn.Revoked} | {Report.Ms(revoke.P50)} | {Report.Ms(revoke.P99)} | {Report.Ms(revoke.Max)} |");
        s.AppendLine();
        s.AppendLine(CultureInfo.InvariantCulture, $"Revoked credentials presented after their revocation was acknowledged: {result.RevokedCredentialsAnswered401} answered 401, **{violations} answered 200** (must be 0). Failed churn calls: {churn.Failures}.");
        s.AppendLine();
        run.Report.Notes.Add($"churn: {churn.Issued} sessions issued, {churn.Revoked} revoked; revoked credentials answering 200: {violations}");
        run.Finish();
    }

    /// <summary>At a fixed pace: issue a session to a seeded identity, put it in a slot, revoke the one it replaced.</summary>
    private sealed class Churn(AdminApi admin, ChurningCredentials pool, IReadOnlyList<SeededIdentity> identities)
    {
        public LongHistogram IssueLatency { get; } = new(WorkerTally.HighestMicroseconds, 3);
        public LongHistogram RevokeLatency { get; } = new(WorkerTally.HighestMicroseconds, 3);
        public long Issued { get; private set; }
        public long Revoked { get; private set; }
        public long Failures { get; private set; }

        public async Task RunAsync(double perSecond, CancellationToken cancellation)
        {
            using var timer = new PeriodicTimer(TimeSpan.FromSeconds(1 / perSecond));
            var random = new Random(7);
            try
            {
                while (await timer.WaitForNextTickAsync(cancellation))
                {
                    try
                    {
                        await ReplaceOneAsync(random.Next(pool.LiveCount), identities[random.Next(identities.Count)].Id, cancellation);
                    }
                    catch (HttpRequestException)
                    {
                        Failures++;
                    }
                }
            }
            catch (OperationCanceledException) when (cancellation.IsCancellationRequested) { }
        }

        private async Task ReplaceOneAsync(int slot, string identityId, CancellationToken cancellation)
        {
            var started = Stopwatch.GetTimestamp();
            var fresh = await admin.IssueSessionAsync(identityId, cookie: false, cancellation);
            IssueLatency.RecordValue(Micros(started));
            Issued++;

            var old = pool.Replace(slot, fresh);
            started = Stopwatch.GetTimestamp();
            old.MarkRevokeStarted(started);
            var status = await admin.RevokeSessionAsync(old.SessionId, cancellation);
            if ((int)status != 204)
            {
                Failures++;
                return;
            }
            old.MarkRevoked(Stopwatch.GetTimestamp());
            RevokeLatency.RecordValue(Micros(started));
            Revoked++;
            pool.AddRevoked(old);
        }

        private static long Micros(long since) =>
            Math.Min(WorkerTally.HighestMicroseconds, (long)Stopwatch.GetElapsedTime(since).TotalMicroseconds);
    }
}
