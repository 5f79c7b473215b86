using System.Diagnostics;
using HdrHistogram;

namespace OrleansSessions.Bench;

/// <summary>One node the load can be sent to, with the requests in flight to it.</summary>
public sealed class LoadTarget(Uri node)
{
    public Uri Node { get; } = node;
    public Uri Whoami { get; } = new(node, "/sessions/whoami");
    public long InFlight;
}

/// <summary>
/// The nodes in rotation, as a load balancer has them: requests go round-robin over the current set; a node is
/// added once it is ready and taken out before it is stopped (<see cref="RemoveAsync"/> waits for its requests in
/// flight to finish, as a load balancer draining a backend).
/// </summary>
public sealed class TargetSet
{
    private volatile LoadTarget[] _targets;

    public TargetSet(IEnumerable<Uri> nodes)
    {
        _targets = [.. nodes.Select(n => new LoadTarget(n))];
        if (_targets.Length == 0) throw new ArgumentException("no target", nameof(nodes));
    }

    public IReadOnlyList<LoadTarget> Current => _targets;

    public LoadTarget Next(ref int cursor)
    {
        var targets = _targets;
        return targets[(int)((uint)cursor++ % (uint)targets.Length)];
    }

    public void Add(Uri node)
    {
        lock (this) _targets = [.. _targets, new LoadTarget(node)];
    }

    /// <summary>Out of rotation; answers once its requests in flight are done (or after <paramref name="limit"/>).</summary>
    public async Task<TimeSpan> RemoveAsync(Uri node, TimeSpan limit)
    {
        LoadTarget? removed;
        lock (this)
        {
            removed = _targets.FirstOrDefault(t => t.Node == node);
            if (removed is null) return TimeSpan.Zero;
            if (_targets.Length == 1) throw new InvalidOperationException("cannot take the last node out of rotation");
            _targets = [.. _targets.Where(t => t != removed)];
        }
        var started = Stopwatch.GetTimestamp();
        while (Interlocked.Read(ref removed.InFlight) > 0 && Stopwatch.GetElapsedTime(started) < limit)
            await Task.Delay(10);
        return Stopwatch.GetElapsedTime(started);
    }
}

/// <summary>
/// Per-second figures of a run, by the second in which each answer arrived (from <see cref="Origin"/>): answers
/// 2xx, other statuses, failed requests (no answer), and the latency histogram of that second.
/// </summary>
public sealed class Timeline(int seconds)
{
    private readonly Second[] _seconds = [.. Enumerable.Range(0, seconds).Select(_ => new Second())];

    public long Origin { get; private set; } = Stopwatch.GetTimestamp();

    public void Restart() => Origin = Stopwatch.GetTimestamp();

    public double Now => Stopwatch.GetElapsedTime(Origin).TotalSeconds;

    public int Length => _seconds.Length;

    public void Record(long done, long latencyMicroseconds, int status, string? failure)
    {
        var index = (long)((done - Origin) / (double)Stopwatch.Frequency);
        if (index < 0 || index >= _seconds.Length) return;
        var second = _seconds[index];
        lock (second)
        {
            if (failure is not null) second.Failed++;
            else if (status is >= 200 and < 300) second.Ok++;
            else second.Non2xx++;
            if (failure is null) second.Latency.RecordValue(Math.Clamp(latencyMicroseconds, 1, WorkerTally.HighestMicroseconds));
            if (failure is not null || status is < 200 or >= 300)
            {
                var kind = failure is not null ? $"exception: {failure}" : status.ToString(System.Globalization.CultureInfo.InvariantCulture);
                second.Kinds[kind] = second.Kinds.GetValueOrDefault(kind) + 1;
            }
        }
    }

    public IReadOnlyList<SecondFigures> Figures(int upTo) => [.. _seconds.Take(Math.Min(upTo, _seconds.Length)).Select((s, i) =>
    {
        lock (s)
            return new SecondFigures(i, s.Ok, s.Non2xx, s.Failed,
                s.Latency.TotalCount == 0 ? 0 : s.Latency.GetValueAtPercentile(50), s.Latency.TotalCount == 0 ? 0 : s.Latency.GetValueAtPercentile(99),
                new Dictionary<string, long>(s.Kinds));
    })];

    private sealed class Second
    {
        public readonly LongHistogram Latency = new(WorkerTally.HighestMicroseconds, 2);
        public readonly Dictionary<string, long> Kinds = new(StringComparer.Ordinal);
        public long Ok, Non2xx, Failed;
    }
}

/// <summary>One second of a timeline; latencies in microseconds (of the answers, failed requests left out).</summary>
public sealed record SecondFigures(int Second, long Ok, long Non2xx, long Failed, long P50, long P99, IReadOnlyDictionary<string, long> ErrorKinds);
