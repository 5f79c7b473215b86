using System.Globalization;
using Spectre.Console;

namespace OrleansSessions.Bench;

/// <summary>whoami and whoami-cookie: seeded sessions, whoami at a fixed concurrency or rate; optionally the baseline after.</summary>
public static class WhoamiScenario
{
    public static async Task RunAsync(BenchRun run, bool cookies)
    {
        var settings = run.Settings;
        await run.UseServiceAsync();
        List<SeededIdentity> identities;
        using (var admin = run.CreateAdmin())
            identities = await Seeding.SeedAsync(admin, settings.Sessions, settings.SessionsPerIdentity ?? 1, cookies, settings.SeedParallelism, run.Cancellation);
        var credentials = identities.SelectMany(i => i.Sessions).ToList();

        var service = await WhoamiLoad.RunAsync("service", run.Plan(run.Targets), new FixedCredentials(credentials), run.Cancellation);
        run.Report.Runs.Add(service);

        if (settings.Baseline is null && !settings.SpawnBaseline)
        {
            run.Finish();
            return;
        }
        Uri baselineUrl;
        if (settings.Baseline is { } given)
        {
            baselineUrl = new Uri(given);
        }
        else
        {
            var (process, url) = await Nodes.SpawnBaselineAsync(settings.BaselineDll, settings.ServerCpus, run.WorkDirectory);
            run.Track(process);
            baselineUrl = url;
        }
        AnsiConsole.MarkupLine("[grey]seeding the baseline with the service's own whoami answers[/]");
        await Nodes.SeedBaselineAsync(baselineUrl, run.Targets[0], credentials, run.Cancellation);
        var baseline = await WhoamiLoad.RunAsync("baseline", run.Plan([baselineUrl]), new FixedCredentials(credentials), run.Cancellation);
        run.Report.Runs.Add(baseline);
        AddComparison(run.Report, service, baseline);
        run.Finish();
    }

    /// <summary>Service against baseline, side by side: the share of the HTTP stack's ceiling the service reaches.</summary>
    private static void AddComparison(Report report, LoadResult service, LoadResult baseline)
    {
        string Ratio(double a, double b) => b == 0 ? "n/a" : (a / b).ToString("0.00", CultureInfo.InvariantCulture);
        var rows = new (string Name, string Service, string Baseline, string Ratio)[]
        {
            ("req/s", service.RequestsPerSecond.ToString("0", CultureInfo.InvariantCulture), baseline.RequestsPerSecond.ToString("0", CultureInfo.InvariantCulture), Ratio(service.RequestsPerSecond, baseline.RequestsPerSecond)),
            ("p50 ms", Report.Ms(service.LatencyMicroseconds.P50), Report.Ms(baseline.LatencyMicroseconds.P50), Ratio(service.LatencyMicroseconds.P50, baseline.LatencyMicroseconds.P50)),
            ("p90 ms", Report.Ms(service.LatencyMicroseconds.P90), Report.Ms(baseline.LatencyMicroseconds.P90), Ratio(service.LatencyMicroseconds.P90, baseline.LatencyMicroseconds.P90)),
            ("p99 ms", Report.Ms(service.LatencyMicroseconds.P99), Report.Ms(baseline.LatencyMicroseconds.P99), Ratio(service.LatencyMicroseconds.P99, baseline.LatencyMicroseconds.P99)),
            ("p99.9 ms", Report.Ms(service.LatencyMicroseconds.P999), Report.Ms(baseline.LatencyMicroseconds.P999), Ratio(service.LatencyMicroseconds.P999, baseline.LatencyMicroseconds.P999)),
        };
        var table = new Table().Title("service / baseline").AddColumns("", "service", "baseline", "service ÷ baseline");
        report.Sections.AppendLine("## Service against baseline");
        report.Sections.AppendLine();
        report.Sections.AppendLine("| | service | baseline | service ÷ baseline |");
        report.Sections.AppendLine("| --- | ---: | ---: | ---: |");
        foreach (var row in rows)
        {
            table.AddRow(row.Name, row.Service, row.Baseline, row.Ratio);
            report.Sections.AppendLine(CultureInfo.InvariantCulture, $"| {row.Name} | {row.Service} | {row.Baseline} | {row.Ratio} |");
        }
        report.Sections.AppendLine();
        AnsiConsole.Write(table);
        report.Details = new { service_over_baseline_requests_per_second = service.RequestsPerSecond / Math.Max(1e-9, baseline.RequestsPerSecond) };
    }
}
