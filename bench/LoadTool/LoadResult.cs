using System.Text.Json.Serialization;
using HdrHistogram;

namespace OrleansSessions.Bench;

/// <summary>Latency percentiles in microseconds.</summary>
public sealed record Latencies(long P50, long P90, long P99, long P999, long Max, double Mean)
{
    public static Latencies Of(HistogramBase histogram) => histogram.TotalCount == 0
        ? new Latencies(0, 0, 0, 0, 0, 0)
        : new Latencies(histogram.GetValueAtPercentile(50), histogram.GetValueAtPercentile(90), histogram.GetValueAtPercentile(99),
            histogram.GetValueAtPercentile(99.9), histogram.GetMaxValue(), Math.Round(histogram.GetMean(), 1));
}

/// <summary>What one measured load came to: counts, rate, latencies, errors by kind. No credential in it.</summary>
public sealed record LoadResult(
    string Label,
    string Mode,
    int Concurrency,
    double? TargetRate,
    double DurationSeconds,
    long Requests,
    /// <summary>Answers that arrived inside the window, per second (in an open loop below the rate once the server falls behind).</summary>
    double RequestsPerSecond,
    Latencies LatencyMicroseconds,
    IReadOnlyDictionary<string, long> Statuses,
    long Errors,
    IReadOnlyDictionary<string, long> ErrorsByKind,
    [property: JsonPropertyName("revoked_credentials_answered_401")] long RevokedCredentialsAnswered401,
    long OpenLoopRequestsNotSent)
{
    [JsonIgnore] public HistogramBase? Histogram { get; init; }

    public static LoadResult Merge(string label, LoadPlan plan, IReadOnlyList<WorkerTally> tallies, long missed)
    {
        var histogram = new LongHistogram(WorkerTally.HighestMicroseconds, 3);
        var statuses = new long[600];
        var errors = new SortedDictionary<string, long>(StringComparer.Ordinal);
        long requests = 0, errorCount = 0, revoked401 = 0, answered = 0;
        foreach (var tally in tallies)
        {
            histogram.Add(tally.Latency);
            for (var s = 0; s < statuses.Length; s++) statuses[s] += tally.Statuses[s];
            foreach (var (kind, count) in tally.Errors) errors[kind] = errors.GetValueOrDefault(kind) + count;
            requests += tally.Requests;
            answered += tally.CompletedInWindow;
            errorCount += tally.ErrorCount;
            revoked401 += tally.RevokedAnswered401;
        }
        var seconds = plan.Duration.TotalSeconds;
        return new LoadResult(label, plan.Rate > 0 ? "open loop" : "closed loop", plan.Concurrency, plan.Rate > 0 ? plan.Rate : null,
            seconds, requests, Math.Round(answered / seconds, 1), Latencies.Of(histogram),
            statuses.Select((count, status) => (count, status)).Where(x => x.count > 0).ToDictionary(x => x.status.ToString(), x => x.count),
            errorCount, errors, revoked401, missed)
        { Histogram = histogram };
    }
}
