using System.Diagnostics;
using System.Globalization;
using Spectre.Console;

namespace OrleansSessions.Bench;

/// <summary>
/// revoke-visibility: while whoami load runs on other identities, revokes all sessions of one identity after the
/// other (DELETE /admin/identities/{id}/sessions) and measures, from the revoke call, until every one of its
/// credentials answers 401 on every --target. A 200 after the call was acknowledged is a violation.
/// </summary>
public static class RevokeVisibilityScenario
{
    private static readonly TimeSpan GiveUpAfter = TimeSpan.FromSeconds(30);
    // An upper bound of one round (checks before, the call, the checks after, at 100,000 sessions) for the load's window.
    private static readonly TimeSpan MaxRoundTime = TimeSpan.FromMinutes(5);

    public sealed record Victim(
        int Sessions,
        int Resident,
        int Nodes,
        int RevokeStatus,
        double RevokeCallMs,
        double? AllAnswer401AfterMs,
        int FirstCheckPairs,
        int FirstCheckAnswered401,
        int Answered200AfterAck,
        int NotLiveBeforeRevoke,
        int Not401OnFinalCheck,
        bool WarmUp = false);

    public static async Task RunAsync(BenchRun run)
    {
        var settings = run.Settings;
        await run.UseServiceAsync();
        using var admin = run.CreateAdmin();
        var identities = await Seeding.SeedAsync(admin, settings.Sessions, settings.SessionsPerIdentity ?? 10, cookies: false, settings.SeedParallelism, run.Cancellation);
        // One more identity than measured rounds is set aside: it is revoked during the warm-up (the first revoke-all
        // a process serves runs code not yet compiled by the JIT), reported, and left out of the median and p99.
        var victimCount = Math.Min(settings.RevokeIdentities, identities.Count - 2);
        if (victimCount < 1)
            throw new InvalidOperationException("revoke-visibility needs at least three identities (one for load, one for the warm-up round, one measured): raise --sessions or lower --sessions-per-identity");
        var warmUpVictim = identities[0];
        var victims = identities.Skip(1).Take(victimCount).ToList();
        var loaded = identities.Skip(victimCount + 1).SelectMany(i => i.Sessions).ToList();

        using var checker = new HttpClient(new SocketsHttpHandler { UseCookies = false, MaxConnectionsPerServer = 32 }) { Timeout = TimeSpan.FromSeconds(10) };
        // The load runs until the last round is over (--duration spaces the rounds; a round of 100,000 sessions takes
        // longer than that): every revocation is measured under it. Its measured window ends with the last round.
        var spaced = run.Plan(run.Targets);
        using var roundsOver = new CancellationTokenSource();
        var plan = spaced with { Duration = spaced.Duration + MaxRoundTime * (victimCount + 1), Stop = roundsOver.Token };
        var load = WhoamiLoad.RunAsync("service, during revocations", plan, new FixedCredentials(loaded), run.Cancellation);

        // Spread the revocations over the measured window.
        var results = new List<Victim>();
        var warmUpStarted = Stopwatch.GetTimestamp();
        results.Add(await MeasureAsync(admin, checker, run.Targets, warmUpVictim, settings.ResidentShare, run.Cancellation) with { WarmUp = true });
        var warmUpLeft = spaced.Warmup - Stopwatch.GetElapsedTime(warmUpStarted);
        var spacing = spaced.Duration / (victimCount + 1);
        await Task.Delay((warmUpLeft > TimeSpan.Zero ? warmUpLeft : TimeSpan.Zero) + spacing, run.Cancellation);
        foreach (var victim in victims)
        {
            var started = Stopwatch.GetTimestamp();
            results.Add(await MeasureAsync(admin, checker, run.Targets, victim, settings.ResidentShare, run.Cancellation));
            var left = spacing - Stopwatch.GetElapsedTime(started);
            if (left > TimeSpan.Zero && victim != victims[^1]) await Task.Delay(left, run.Cancellation);
        }
        await roundsOver.CancelAsync();
        run.Report.Runs.Add(await load);
        Describe(run.Report, results);
        run.Finish();
    }

    private static async Task<Victim> MeasureAsync(AdminApi admin, HttpClient checker, IReadOnlyList<Uri> targets, SeededIdentity victim,
        double residentShare, CancellationToken cancellation)
    {
        var pairs = victim.Sessions.SelectMany(c => targets.Select(t => (Credential: c, Whoami: new Uri(t, "/sessions/whoami")))).ToList();
        // The first share of the credentials is looked up on every node (each session grain then held by one of
        // them); the rest stay out of memory until the checks after the revoke load them.
        var resident = (int)Math.Round(victim.Sessions.Count * residentShare);
        var notLive = (await CheckAsync(checker, pairs.Take(resident * targets.Count).ToList(), cancellation)).Count(status => status != 200);

        var started = Stopwatch.GetTimestamp();
        var status = await admin.RevokeAllAsync(victim.Id, cancellation);
        var acked = Stopwatch.GetElapsedTime(started);

        var pending = pairs;
        int firstAnswered401 = -1, answered200 = 0;
        TimeSpan? allVisible = null;
        while (pending.Count > 0 && Stopwatch.GetElapsedTime(started) < GiveUpAfter)
        {
            var statuses = await CheckAsync(checker, pending, cancellation);
            if (firstAnswered401 < 0) firstAnswered401 = statuses.Count(s => s == 401);
            answered200 += statuses.Count(s => s == 200);
            pending = pending.Where((_, i) => statuses[i] != 401).ToList();
            if (pending.Count == 0) allVisible = Stopwatch.GetElapsedTime(started);
        }
        var stillNot401 = (await CheckAsync(checker, pairs, cancellation)).Count(s => s != 401);
        var victimResult = new Victim(victim.Sessions.Count, resident, targets.Count, (int)status, Math.Round(acked.TotalMilliseconds, 3),
            allVisible is { } visible ? Math.Round(visible.TotalMilliseconds, 3) : null, pairs.Count, firstAnswered401, answered200, notLive, stillNot401);
        AnsiConsole.MarkupLineInterpolated(
            $"[grey]revoked {victim.Sessions.Count} sessions: call {victimResult.RevokeCallMs:0.0} ms, all 401 on {targets.Count} node(s) after {(allVisible is null ? "never (gave up)" : $"{victimResult.AllAnswer401AfterMs:0.0} ms")}, 200s after ack {answered200}[/]");
        return victimResult;
    }

    /// <summary>
    /// One whoami per pair, at most <see cref="ChecksInFlight"/> at once (a request's timeout then counts from when it
    /// is sent, not from when it was queued behind thousands of others); the statuses in order (0: failed or timed out).
    /// </summary>
    private static async Task<int[]> CheckAsync(HttpClient checker, IReadOnlyList<(Credential Credential, Uri Whoami)> pairs, CancellationToken cancellation)
    {
        using var slots = new SemaphoreSlim(ChecksInFlight);
        return await Task.WhenAll(pairs.Select(async pair =>
        {
            await slots.WaitAsync(cancellation);
            try
            {
                using var request = new HttpRequestMessage(HttpMethod.Get, pair.Whoami);
                request.Headers.TryAddWithoutValidation(pair.Credential.HeaderName, pair.Credential.HeaderValue);
                using var response = await checker.SendAsync(request, cancellation);
                return (int)response.StatusCode;
            }
            catch (Exception e) when (e is HttpRequestException || (e is TaskCanceledException && !cancellation.IsCancellationRequested))
            {
                return 0;
            }
            finally
            {
                slots.Release();
            }
        }));
    }

    private const int ChecksInFlight = 64;

    private static void Describe(Report report, List<Victim> all)
    {
        var victims = all.Where(v => !v.WarmUp).ToList();
        var visible = victims.Where(v => v.AllAnswer401AfterMs is not null).Select(v => v.AllAnswer401AfterMs!.Value).Order().ToList();
        var calls = victims.Select(v => v.RevokeCallMs).Order().ToList();
        double? Median(List<double> xs) => xs.Count == 0 ? null : xs[xs.Count / 2];
        double? Max(List<double> xs) => xs.Count == 0 ? null : xs[^1];
        // Nearest rank: with fewer than 100 rounds, the p99 is the largest.
        double? P99(List<double> xs) => xs.Count == 0 ? null : xs[Math.Min(xs.Count - 1, (int)Math.Ceiling(0.99 * xs.Count) - 1)];
        var violations = all.Sum(v => v.Answered200AfterAck); // the warm-up round's count too
        report.Details = new
        {
            victims = all,
            revoke_call_ms_median = Median(calls),
            revoke_call_ms_p99 = P99(calls),
            revoke_call_ms_max = Max(calls),
            all_401_after_ms_median = Median(visible),
            all_401_after_ms_max = Max(visible),
            never_all_401 = victims.Count(v => v.AllAnswer401AfterMs is null),
            answered_200_after_ack = violations,
        };
        var s = report.Sections;
        s.AppendLine("## Revocation visibility");
        s.AppendLine();
        s.AppendLine("Time from the start of `DELETE /admin/identities/{id}/sessions` until every credential of the identity answered 401 on every node; the checks start once the call returned, so the figure is at least the call's own time.");
        s.AppendLine();
        s.AppendLine("| # | sessions | resident before | nodes | status | revoke call ms | all 401 after ms | 401 at first check | 200 after ack | not live before | not 401 at final check |");
        s.AppendLine("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
        for (var i = 0; i < all.Count; i++)
        {
            var v = all[i];
            s.AppendLine(CultureInfo.InvariantCulture,
                $"| {(v.WarmUp ? "warm-up" : i.ToString(CultureInfo.InvariantCulture))} | {v.Sessions} | {v.Resident} | {v.Nodes} | {v.RevokeStatus} | {v.RevokeCallMs:0.000} | {(v.AllAnswer401AfterMs is { } ms ? ms.ToString("0.000", CultureInfo.InvariantCulture) : "never (30 s)")} | {v.FirstCheckAnswered401}/{v.FirstCheckPairs} | {v.Answered200AfterAck} | {v.NotLiveBeforeRevoke} | {v.Not401OnFinalCheck} |");
        }
        s.AppendLine();
        s.AppendLine(CultureInfo.InvariantCulture, $"Revoke call median {Median(calls):0.000} ms, p99 {P99(calls):0.000} ms over {calls.Count} rounds (the warm-up round left out); every credential 401 everywhere after median {Median(visible):0.000} ms, max {Max(visible):0.000} ms. **200 answers after the acknowledgement: {violations}** (must be 0).");
        s.AppendLine();
        report.Notes.Add($"revocations: {victims.Count} measured and 1 warm-up; 200 answers after the acknowledgement: {violations}");
    }
}
