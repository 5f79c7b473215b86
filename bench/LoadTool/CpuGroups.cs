using System.Globalization;
using Spectre.Console;

namespace OrleansSessions.Bench;

/// <summary>
/// cgroup v1 CPU groups (the <c>cpu</c> controller under /sys/fs/cgroup/cpu), one per process the tool starts, to
/// give each a CPU budget of its own: a quota of <c>cpu.cfs_quota_us</c> per <c>cpu.cfs_period_us</c>. All of a
/// run's groups live under one parent, <c>orleans-sessions-bench-&lt;stamp&gt;</c>, removed when the run ends
/// (processes still in a group are moved back to the root first); empty parents left by a killed run are removed
/// at the next start.
/// </summary>
public sealed class CpuGroups : IAsyncDisposable
{
    public const string Root = "/sys/fs/cgroup/cpu";
    private const string Prefix = "orleans-sessions-bench-";
    private readonly List<CpuGroup> _groups = [];

    public string Path { get; }
    public TimeSpan Period { get; }

    private CpuGroups(string path, TimeSpan period)
    {
        Path = path;
        Period = period;
    }

    public static bool Available => File.Exists(System.IO.Path.Combine(Root, "cgroup.procs")) && File.Exists(System.IO.Path.Combine(Root, "cpu.cfs_quota_us"));

    /// <param name="shares">
    /// <c>cpu.shares</c> of the parent: under contention with other work on the machine (whose processes sit in the
    /// root group with 1024 each) the run's groups get this weight; their quotas still cap them.
    /// </param>
    public static CpuGroups Create(string stamp, TimeSpan period, int shares)
    {
        if (!Available) throw new InvalidOperationException($"the cgroup v1 cpu controller is not mounted at {Root} (or not writable): run without CPU quotas");
        RemoveStale();
        var path = System.IO.Path.Combine(Root, Prefix + stamp);
        Directory.CreateDirectory(path);
        var groups = new CpuGroups(path, period);
        File.WriteAllText(System.IO.Path.Combine(path, "cpu.shares"), shares.ToString(CultureInfo.InvariantCulture));
        return groups;
    }

    /// <summary>A group for one process, capped at <paramref name="share"/> of one core (null: no cap).</summary>
    public CpuGroup Add(string name, double? share)
    {
        var group = new CpuGroup(System.IO.Path.Combine(Path, name), Period);
        Directory.CreateDirectory(group.Path);
        group.SetQuota(share);
        lock (_groups) _groups.Add(group);
        return group;
    }

    public async ValueTask DisposeAsync()
    {
        List<CpuGroup> groups;
        lock (_groups) groups = [.. _groups];
        foreach (var group in groups) await group.RemoveAsync();
        try { Directory.Delete(Path); }
        catch (IOException exception) { AnsiConsole.MarkupLineInterpolated($"[yellow]could not remove {Path}: {exception.Message}[/]"); }
        AnsiConsole.MarkupLineInterpolated($"[grey]removed CPU groups {Path}[/]");
    }

    /// <summary>Parents of earlier runs with no process left in them (a run that was killed could not remove its own).</summary>
    private static void RemoveStale()
    {
        foreach (var parent in Directory.EnumerateDirectories(Root, Prefix + "*"))
        {
            try
            {
                foreach (var child in Directory.EnumerateDirectories(parent))
                    if (File.ReadAllText(System.IO.Path.Combine(child, "cgroup.procs")).Trim().Length == 0) Directory.Delete(child);
                if (!Directory.EnumerateDirectories(parent).Any() && File.ReadAllText(System.IO.Path.Combine(parent, "cgroup.procs")).Trim().Length == 0)
                    Directory.Delete(parent);
            }
            catch (IOException) { }
        }
    }

    /// <summary>"10%", "0.1" (of one core), "none"/"0"/"" (no cap).</summary>
    public static bool TryParseShare(string? text, out double? share)
    {
        share = null;
        if (text is null) return true;
        text = text.Trim();
        if (text.Length == 0 || text is "none" or "0" or "0%") return true;
        var percent = text.EndsWith('%');
        if (!double.TryParse(percent ? text[..^1] : text, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) || value <= 0) return false;
        share = percent ? value / 100 : value;
        return share <= 64;
    }

    public static string Describe(double? share) => share is { } s ? $"{s * 100:0.#}% of a core" : "no cap";
}

/// <summary>One process's group: its quota, the program wrapped so that it starts inside it, its throttling.</summary>
public sealed class CpuGroup(string path, TimeSpan period)
{
    public string Path { get; } = path;
    public string Name => System.IO.Path.GetFileName(Path);
    public double? Share { get; private set; }

    /// <summary>Changes the cap (null: none) of a running group.</summary>
    public void SetQuota(double? share)
    {
        var periodUs = (long)(period.TotalMilliseconds * 1000);
        File.WriteAllText(System.IO.Path.Combine(Path, "cpu.cfs_period_us"), periodUs.ToString(CultureInfo.InvariantCulture));
        // The kernel's smallest quota is 1 ms.
        var quota = share is { } s ? Math.Max(1000, (long)Math.Round(periodUs * s)) : -1;
        File.WriteAllText(System.IO.Path.Combine(Path, "cpu.cfs_quota_us"), quota.ToString(CultureInfo.InvariantCulture));
        Share = share;
    }

    /// <summary>
    /// The command line that runs <paramref name="program"/> inside this group from its first instruction: a shell
    /// writes its own pid to cgroup.procs and execs the program (so the pid is the program's, and the runtime sees
    /// the quota at start-up).
    /// </summary>
    public (string Program, IReadOnlyList<string> Arguments) Wrap(string program, IEnumerable<string> arguments)
    {
        var procs = System.IO.Path.Combine(Path, "cgroup.procs");
        return ("sh", ["-c", $"echo $$ > '{procs}' && exec \"$@\"", "sh", program, .. arguments]);
    }

    /// <summary>Moves a running process (all its threads) into the group.</summary>
    public void Enter(int pid) => File.WriteAllText(System.IO.Path.Combine(Path, "cgroup.procs"), pid.ToString(CultureInfo.InvariantCulture));

    public IReadOnlyList<int> Processes()
    {
        try
        {
            return [.. File.ReadAllLines(System.IO.Path.Combine(Path, "cgroup.procs")).Where(l => l.Length > 0).Select(int.Parse)];
        }
        catch (IOException) { return []; }
    }

    /// <summary>cpu.stat: periods, periods in which the group was throttled, time throttled.</summary>
    public Throttling ReadThrottling()
    {
        long periods = 0, throttled = 0, ns = 0;
        foreach (var line in File.ReadLines(System.IO.Path.Combine(Path, "cpu.stat")))
        {
            var parts = line.Split(' ');
            if (parts.Length != 2 || !long.TryParse(parts[1], out var value)) continue;
            switch (parts[0])
            {
                case "nr_periods": periods = value; break;
                case "nr_throttled": throttled = value; break;
                case "throttled_time": ns = value; break;
            }
        }
        return new Throttling(periods, throttled, TimeSpan.FromTicks(ns / 100));
    }

    internal async Task RemoveAsync()
    {
        // A process still here (the run failed before stopping it) goes back to the root group first.
        foreach (var pid in Processes())
        {
            try { File.WriteAllText(System.IO.Path.Combine(CpuGroups.Root, "cgroup.procs"), pid.ToString(CultureInfo.InvariantCulture)); }
            catch (IOException) { }
        }
        for (var attempt = 0; attempt < 20; attempt++)
        {
            try
            {
                Directory.Delete(Path);
                return;
            }
            catch (IOException) when (attempt < 19 && Directory.Exists(Path))
            {
                // The kernel lets a group go a moment after its last process left.
                await Task.Delay(50);
            }
            catch (DirectoryNotFoundException)
            {
                return;
            }
            catch (IOException exception)
            {
                AnsiConsole.MarkupLineInterpolated($"[yellow]could not remove CPU group {Path}: {exception.Message}[/]");
            }
        }
    }
}

public readonly record struct Throttling(long Periods, long ThrottledPeriods, TimeSpan ThrottledTime)
{
    public static Throttling operator -(Throttling a, Throttling b) =>
        new(a.Periods - b.Periods, a.ThrottledPeriods - b.ThrottledPeriods, a.ThrottledTime - b.ThrottledTime);

    public double ThrottledShare => Periods == 0 ? 0 : (double)ThrottledPeriods / Periods;
}

/// <summary>CPU time (user + system) a process used, from /proc/PID/stat.</summary>
public static class ProcessCpu
{
    private static readonly double TicksPerSecond = 100; // USER_HZ on Linux

    /// <summary>Null when the process is gone.</summary>
    public static TimeSpan? Read(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            // The command name is in parentheses and may hold spaces: fields are counted after the last ')'.
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            // Fields 14 and 15 of the line (utime, stime) are the 12th and 13th after the name.
            var ticks = long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
            return TimeSpan.FromSeconds(ticks / TicksPerSecond);
        }
        catch (Exception exception) when (exception is IOException or FormatException or IndexOutOfRangeException)
        {
            return null;
        }
    }

    /// <summary>The sum over several processes (PostgreSQL's server and backends); those gone count zero.</summary>
    public static TimeSpan Sum(IEnumerable<int> pids) => pids.Aggregate(TimeSpan.Zero, (sum, pid) => sum + (Read(pid) ?? TimeSpan.Zero));
}
