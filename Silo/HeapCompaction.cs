using System.Diagnostics;
using OrleansSessions.Api.Configuration;

namespace OrleansSessions.Silo;

/// <summary>
/// When a silo's heap is worth compacting. A silo holds its sessions as millions of small long-lived objects; when
/// many of them leave memory at once (sessions and identities idle past their eviction age), the holes they leave in
/// the oldest generation stay committed: the background collections that keep pauses short never compact, and the
/// GC compacts on its own only in a blocking full collection, which a node that has stopped allocating may not run
/// for hours. The policy asks for one compacting collection when the holes are both a share of the heap and large,
/// at most once per interval. Pure: the host reads the GC and runs the collection.
/// </summary>
public sealed class HeapCompactionPolicy(double fragmentationShare, long minimumFragmentedBytes, TimeSpan interval)
{
    private DateTimeOffset? _lastCompaction;

    /// <summary>The share of the heap that must be holes (0 &lt; share &lt; 1).</summary>
    public double FragmentationShare { get; } = fragmentationShare;

    /// <summary>How often the heap is looked at, and the least time between two compactions.</summary>
    public TimeSpan Interval { get; } = interval;

    /// <summary>
    /// What to do at <paramref name="now"/> given the last collection's heap and holes: nothing; a background
    /// collection first, when none has run since the last check (the holes of objects that died since are not
    /// known before one has); or a compacting one.
    /// </summary>
    public HeapAction Decide(DateTimeOffset now, long heapBytes, long fragmentedBytes, bool fullCollectionSinceLastCheck)
    {
        if (_lastCompaction is { } last && now - last < Interval)
            return HeapAction.None;
        if (heapBytes <= 0)
            return HeapAction.None;
        if (fragmentedBytes >= minimumFragmentedBytes && fragmentedBytes >= FragmentationShare * heapBytes)
        {
            _lastCompaction = now;
            return HeapAction.Compact;
        }
        // A heap too small to hold holes worth compacting is not surveyed either.
        return fullCollectionSinceLastCheck || heapBytes < 4 * minimumFragmentedBytes ? HeapAction.None : HeapAction.Survey;
    }
}

public enum HeapAction
{
    None,
    /// <summary>A background full collection (no pause beyond its short phases): it finds what died, and the holes.</summary>
    Survey,
    /// <summary>One blocking, compacting full collection, the large-object heap included, that returns the freed memory.</summary>
    Compact,
}

/// <summary>Reads <c>memory:compaction_threshold</c> (a percentage or <c>off</c>) and <c>memory:compaction_interval</c>.</summary>
public static class HeapCompactionSettings
{
    public const long MinimumFragmentedBytes = 64L * 1024 * 1024;

    /// <summary>The policy, or null when compaction is off.</summary>
    public static HeapCompactionPolicy? Read(IConfiguration configuration)
    {
        var threshold = configuration["memory:compaction_threshold"] ?? "10%";
        var interval = GoDuration.Parse(configuration["memory:compaction_interval"] ?? "30m", "memory:compaction_interval");
        if (interval <= TimeSpan.Zero)
            throw new ArgumentException("memory:compaction_interval must be positive");
        if (string.Equals(threshold, "off", StringComparison.OrdinalIgnoreCase))
            return null;
        var text = threshold.EndsWith('%') ? threshold[..^1] : threshold;
        if (!double.TryParse(text, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var percent)
            || percent <= 0 || percent >= 100)
            throw new ArgumentException($"memory:compaction_threshold must be a percentage between 0 and 100 (exclusive) or \"off\", not \"{threshold}\"");
        return new HeapCompactionPolicy(percent / 100, MinimumFragmentedBytes, interval);
    }
}

/// <summary>Checks the heap every interval and runs what <see cref="HeapCompactionPolicy"/> decides, logging each compaction.</summary>
internal sealed partial class HeapCompaction(HeapCompactionPolicy policy, TimeProvider clock, ILogger<HeapCompaction> logger)
    : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(policy.Interval, clock);
        var fullCollections = GC.CollectionCount(2);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                var info = GC.GetGCMemoryInfo(GCKind.Any);
                var sinceLastCheck = GC.CollectionCount(2) != fullCollections;
                switch (policy.Decide(clock.GetUtcNow(), info.HeapSizeBytes, info.FragmentedBytes, sinceLastCheck))
                {
                    case HeapAction.Survey:
                        GC.Collect(2, GCCollectionMode.Forced, blocking: false, compacting: false);
                        break;
                    case HeapAction.Compact:
                        var started = Stopwatch.GetTimestamp();
                        // Aggressive: compacts every generation, the large-object heap too, and gives the freed memory
                        // back to the OS at once (a forced compaction alone keeps the emptied regions committed).
                        GC.Collect(2, GCCollectionMode.Aggressive, blocking: true, compacting: true);
                        var after = GC.GetGCMemoryInfo(GCKind.FullBlocking);
                        LogCompacted(info.HeapSizeBytes >> 20, info.FragmentedBytes >> 20, after.HeapSizeBytes >> 20,
                            (long)Stopwatch.GetElapsedTime(started).TotalMilliseconds);
                        break;
                }
                fullCollections = GC.CollectionCount(2);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    [LoggerMessage(Level = LogLevel.Information,
        Message = "Heap compacted: {HeapMiB} MiB of which {FragmentedMiB} MiB holes before, {AfterMiB} MiB after, paused {PauseMs} ms")]
    private partial void LogCompacted(long heapMiB, long fragmentedMiB, long afterMiB, long pauseMs);
}
