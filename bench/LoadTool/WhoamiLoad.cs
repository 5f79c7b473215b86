using System.Diagnostics;
using System.Net;
using HdrHistogram;
using Spectre.Console;

namespace OrleansSessions.Bench;

/// <summary>How a load runs: against which nodes, how hard, for how long.</summary>
public sealed record LoadPlan(IReadOnlyList<Uri> Targets, int Concurrency, double Rate, TimeSpan Warmup, TimeSpan Duration)
{
    /// <summary>Nodes that join and leave while the load runs (live-scale-out); when set, <see cref="Targets"/> is not used.</summary>
    public TargetSet? Rotation { get; init; }

    /// <summary>Per-second figures of the whole run, warm-up included (live-scale-out).</summary>
    public Timeline? Timeline { get; init; }

    /// <summary>Ends the measured window early (live-scale-out: when its last step is over); Duration is then an upper bound.</summary>
    public CancellationToken Stop { get; init; }

    /// <summary>No progress bar of its own (regions: several loads run at once, and Spectre draws one live display at a time).</summary>
    public bool Quiet { get; init; }
}

/// <summary>
/// Drives GET /sessions/whoami. Closed loop: <c>Concurrency</c> workers, each sending its next request when the last
/// answered. Open loop: requests are due at fixed intervals (1/rate); a worker takes the next due time, waits for it,
/// and the latency runs from that due time, so a stalled server is charged for the requests it delayed
/// (no coordinated omission). Requests are counted by their send (due) time: warm-up ones are not recorded.
/// </summary>
public static class WhoamiLoad
{
    private static readonly double TicksPerMicrosecond = Stopwatch.Frequency / 1_000_000.0;

    public static async Task<LoadResult> RunAsync(string label, LoadPlan plan, ICredentialSource credentials, CancellationToken cancellation)
    {
        using var handler = new SocketsHttpHandler
        {
            MaxConnectionsPerServer = plan.Concurrency,
            UseCookies = false,
            UseProxy = false,
            AllowAutoRedirect = false,
            AutomaticDecompression = DecompressionMethods.None,
            PooledConnectionLifetime = Timeout.InfiniteTimeSpan,
            ConnectTimeout = TimeSpan.FromSeconds(10),
        };
        using var invoker = new HttpMessageInvoker(handler);
        var rotation = plan.Rotation ?? new TargetSet(plan.Targets);

        var start = Stopwatch.GetTimestamp();
        var measureFrom = start + Ticks(plan.Warmup);
        var measureTo = measureFrom + Ticks(plan.Duration);
        // Past this, whatever is still in flight is abandoned (a server that stopped answering must not hang the run).
        using var hardStop = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
        hardStop.CancelAfter(plan.Warmup + plan.Duration + TimeSpan.FromSeconds(Math.Max(10, plan.Duration.TotalSeconds)));

        var schedule = plan.Rate > 0 ? new OpenLoopSchedule(start, Stopwatch.Frequency / plan.Rate) : null;
        var workers = Enumerable.Range(0, plan.Concurrency)
            .Select(i => new Worker(invoker, rotation, i, credentials, credentials.Start(i, plan.Concurrency), plan.Timeline))
            .ToArray();

        long stoppedAt = 0;
        using var onStop = plan.Stop.Register(() =>
        {
            Interlocked.CompareExchange(ref stoppedAt, Stopwatch.GetTimestamp(), 0);
            foreach (var worker in workers) worker.StopNow();
            hardStop.CancelAfter(TimeSpan.FromSeconds(60));
        });
        var running = Task.WhenAll(workers.Select(w => Task.Run(() => w.RunAsync(schedule, measureFrom, measureTo, hardStop.Token))));
        if (!plan.Quiet) await ShowProgressAsync(label, plan, workers, start, measureFrom, measureTo, running);
        await running;
        // Ctrl-C: no report from a load cut short.
        cancellation.ThrowIfCancellationRequested();

        if (Interlocked.Read(ref stoppedAt) is var stopped and > 0 && stopped < measureTo)
            plan = plan with { Duration = TimeSpan.FromSeconds(Math.Max(0.001, (stopped - measureFrom) / (double)Stopwatch.Frequency)) };
        var missed = schedule is null ? 0 : Math.Max(0, (long)(plan.Duration.TotalSeconds * plan.Rate) - workers.Sum(w => w.Measured));
        return LoadResult.Merge(label, plan, workers.Select(w => w.Tally).ToList(), missed);
    }

    private static long Ticks(TimeSpan time) => (long)(time.TotalSeconds * Stopwatch.Frequency);

    private static async Task ShowProgressAsync(string label, LoadPlan plan, Worker[] workers, long start, long measureFrom, long measureTo, Task running)
    {
        await AnsiConsole.Progress()
            .AutoClear(false)
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new ElapsedTimeColumn())
            .StartAsync(async progress =>
            {
                var task = progress.AddTask(label, maxValue: (plan.Warmup + plan.Duration).TotalSeconds);
                long lastCount = 0, lastAt = start;
                while (!running.IsCompleted)
                {
                    await Task.WhenAny(running, Task.Delay(500));
                    var now = Stopwatch.GetTimestamp();
                    long completed = 0, errors = 0;
                    foreach (var worker in workers)
                    {
                        completed += Volatile.Read(ref worker.Tally.Completed);
                        errors += Volatile.Read(ref worker.Tally.ErrorCount);
                    }
                    var perSecond = (completed - lastCount) / ((now - lastAt) / (double)Stopwatch.Frequency);
                    (lastCount, lastAt) = (completed, now);
                    var phase = now < measureFrom ? "warm-up" : now < measureTo ? "measuring" : "draining";
                    task.Description = $"{Markup.Escape(label)}: {phase}, {perSecond,8:N0} req/s, {errors} errors";
                    task.Value = Math.Min(task.MaxValue, (now - start) / (double)Stopwatch.Frequency);
                }
                task.Value = task.MaxValue;
            });
    }

    /// <summary>Due times of an open loop, handed out in order to whichever worker is free.</summary>
    private sealed class OpenLoopSchedule(long start, double interval)
    {
        private long _next = -1;

        public long NextDueTime() => start + (long)(Interlocked.Increment(ref _next) * interval);
    }

    private sealed class Worker(HttpMessageInvoker invoker, TargetSet rotation, int index, ICredentialSource credentials, long cursor, Timeline? timeline)
    {
        private readonly byte[] _buffer = new byte[16 * 1024];
        private long _cursor = cursor;
        private int _target = index;
        private volatile bool _stop;

        public void StopNow() => _stop = true;

        public WorkerTally Tally { get; } = new();
        public long Measured => Tally.Requests;

        public async Task RunAsync(OpenLoopSchedule? schedule, long measureFrom, long measureTo, CancellationToken cancellation)
        {
            while (!cancellation.IsCancellationRequested)
            {
                long due;
                if (schedule is null)
                {
                    due = Stopwatch.GetTimestamp();
                }
                else
                {
                    due = schedule.NextDueTime();
                    var wait = due - Stopwatch.GetTimestamp();
                    // Timers tick in about a millisecond: sleep for the bulk, send the rest early (measured from the send then).
                    if (wait > Stopwatch.Frequency / 1000)
                    {
                        try { await Task.Delay(TimeSpan.FromSeconds((double)wait / Stopwatch.Frequency), cancellation); }
                        catch (OperationCanceledException) { return; }
                    }
                }
                if (due >= measureTo || _stop) return;

                var credential = credentials.Next(ref _cursor);
                var target = rotation.Next(ref _target);
                var sent = Stopwatch.GetTimestamp();
                var revokedBeforeSend = credential.RevokedAt is var acked && acked != 0 && acked <= sent;
                var revoking = credential.RevokeStartedAt != 0;
                int status;
                string? failure = null;
                Interlocked.Increment(ref target.InFlight);
                try
                {
                    status = await SendAsync(target.Whoami, credential, cancellation);
                }
                catch (OperationCanceledException) when (cancellation.IsCancellationRequested)
                {
                    status = 0;
                    failure = "abandoned at the hard stop";
                }
                catch (Exception exception)
                {
                    status = 0;
                    failure = exception.GetType().Name;
                }
                finally
                {
                    Interlocked.Decrement(ref target.InFlight);
                }
                var done = Stopwatch.GetTimestamp();
                Interlocked.Increment(ref Tally.Completed);
                if (done >= measureFrom && done < measureTo) Tally.CompletedInWindow++;
                timeline?.Record(done, (long)((done - Math.Min(due, sent)) / TicksPerMicrosecond), status, failure);
                if (due < measureFrom) continue;

                var latency = (long)((done - Math.Min(due, sent)) / TicksPerMicrosecond);
                Tally.Record(latency, status, failure, revokedBeforeSend, revoking);
            }
        }

        private async Task<int> SendAsync(Uri whoami, Credential credential, CancellationToken cancellation)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, whoami);
            request.Headers.TryAddWithoutValidation(credential.HeaderName, credential.HeaderValue);
            using var response = await invoker.SendAsync(request, cancellation);
            await using var body = await response.Content.ReadAsStreamAsync(cancellation);
            while (await body.ReadAsync(_buffer, cancellation) > 0) { }
            return (int)response.StatusCode;
        }
    }
}

/// <summary>One worker's counts; merged at the end, read (racily, for display only) by the progress bar.</summary>
public sealed class WorkerTally
{
    public const long HighestMicroseconds = 120_000_000;

    public readonly LongHistogram Latency = new(HighestMicroseconds, 3);
    public readonly long[] Statuses = new long[600];
    public readonly Dictionary<string, long> Errors = new(StringComparer.Ordinal);
    /// <summary>Requests due in the measured window (recorded in the histogram).</summary>
    public long Requests;
    /// <summary>Answers that arrived in the measured window, whenever sent: the throughput.</summary>
    public long CompletedInWindow;
    public long Completed;
    public long ErrorCount;
    public long RevokedAnswered401;

    public void Record(long latencyMicroseconds, int status, string? failure, bool revokedBeforeSend, bool revoking)
    {
        Requests++;
        Latency.RecordValue(Math.Clamp(latencyMicroseconds, 0, HighestMicroseconds));
        if (status is > 0 and < 600) Statuses[status]++;
        string? error = failure is not null ? $"exception: {failure}"
            : revokedBeforeSend ? status switch { 401 => null, 200 => "200 for a revoked credential", _ => status.ToString() }
            : revoking ? status is 200 or 401 ? null : status.ToString()
            : status == 200 ? null : status.ToString();
        if (revokedBeforeSend && status == 401) RevokedAnswered401++;
        if (error is null) return;
        Interlocked.Increment(ref ErrorCount);
        Errors[error] = Errors.GetValueOrDefault(error) + 1;
    }
}
