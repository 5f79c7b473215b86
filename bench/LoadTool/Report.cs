using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using Spectre.Console;

namespace OrleansSessions.Bench;

/// <summary>The machine a run was measured on, as far as the tool can see it.</summary>
public sealed record MachineInfo(string Cpu, int LogicalCores, string Os, string Runtime, string LoadAverageAtStart, string LoadAverageAtEnd)
{
    public static string LoadAverage() => File.Exists("/proc/loadavg") ? string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3)) : "n/a";

    public static MachineInfo Read(string loadAtStart)
    {
        var cpu = File.Exists("/proc/cpuinfo")
            ? File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal))?.Split(':', 2)[1].Trim() ?? "unknown"
            : "unknown";
        return new MachineInfo(cpu, Environment.ProcessorCount, RuntimeInformation.OSDescription, RuntimeInformation.FrameworkDescription, loadAtStart, LoadAverage());
    }
}

/// <summary>One invocation's results: written as Markdown and JSON into the output folder, and shown on the console.</summary>
public sealed class Report(string scenario, DateTimeOffset startedAt, IReadOnlyDictionary<string, string> settings)
{
    private static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DictionaryKeyPolicy = null,
    };

    public string Scenario { get; } = scenario;
    public DateTimeOffset StartedAt { get; } = startedAt;
    public IReadOnlyDictionary<string, string> Settings { get; } = settings;
    public List<LoadResult> Runs { get; } = [];
    public List<string> Notes { get; } = [];
    /// <summary>Scenario-specific figures (revocation visibility, churn, scale-out), serialized as they are.</summary>
    public object? Details { get; set; }
    /// <summary>Scenario-specific Markdown, after the results table.</summary>
    public StringBuilder Sections { get; } = new();
    public MachineInfo? Machine { get; private set; }

    public string FileStem => $"{StartedAt.UtcDateTime:yyyyMMdd-HHmmss}-{Scenario}";

    public (string Markdown, string Json) Write(string directory, string loadAtStart)
    {
        Machine = MachineInfo.Read(loadAtStart);
        Directory.CreateDirectory(directory);
        var markdownPath = Path.Combine(directory, FileStem + ".md");
        var jsonPath = Path.Combine(directory, FileStem + ".json");
        File.WriteAllText(markdownPath, ToMarkdown());
        File.WriteAllText(jsonPath, JsonSerializer.Serialize(new
        {
            scenario = Scenario,
            started_at = StartedAt,
            machine = Machine,
            settings = Settings,
            runs = Runs,
            details = Details,
            notes = Notes,
        }, Json));
        return (markdownPath, jsonPath);
    }

    private string ToMarkdown()
    {
        var md = new StringBuilder();
        md.AppendLine(CultureInfo.InvariantCulture, $"# {Scenario}: {StartedAt.UtcDateTime:yyyy-MM-dd HH:mm:ss} UTC");
        md.AppendLine();
        md.AppendLine("Latencies in milliseconds, of the requests due (sent, in a closed loop) inside the measured window; req/s counts the answers that arrived inside it.");
        md.AppendLine();
        md.AppendLine("## Machine");
        md.AppendLine();
        md.AppendLine("| | |");
        md.AppendLine("| --- | --- |");
        md.AppendLine(CultureInfo.InvariantCulture, $"| CPU | {Machine!.Cpu}, {Machine.LogicalCores} logical cores |");
        md.AppendLine(CultureInfo.InvariantCulture, $"| OS, runtime | {Machine.Os}, {Machine.Runtime} |");
        md.AppendLine(CultureInfo.InvariantCulture, $"| load average (1, 5, 15 min) | start {Machine.LoadAverageAtStart}; end {Machine.LoadAverageAtEnd} |");
        md.AppendLine();
        md.AppendLine("## Settings");
        md.AppendLine();
        md.AppendLine("| option | value |");
        md.AppendLine("| --- | --- |");
        foreach (var (name, value) in Settings) md.AppendLine(CultureInfo.InvariantCulture, $"| {name} | {value} |");
        md.AppendLine();
        md.AppendLine("## Results");
        md.AppendLine();
        md.AppendLine("| run | mode | concurrency | requests | req/s | p50 | p90 | p99 | p99.9 | max | errors |");
        md.AppendLine("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
        foreach (var run in Runs)
        {
            var l = run.LatencyMicroseconds;
            var mode = run.TargetRate is { } rate ? $"open loop, {rate:0.#}/s" : run.Mode;
            md.AppendLine(CultureInfo.InvariantCulture,
                $"| {run.Label} | {mode} | {run.Concurrency} | {run.Requests} | {run.RequestsPerSecond:0} | {Ms(l.P50)} | {Ms(l.P90)} | {Ms(l.P99)} | {Ms(l.P999)} | {Ms(l.Max)} | {run.Errors} |");
        }
        md.AppendLine();
        foreach (var run in Runs)
        {
            md.AppendLine($"- {run.Label}: statuses {Describe(run.Statuses)}; errors {(run.Errors == 0 ? "none" : Describe(run.ErrorsByKind))}"
                + (run.RevokedCredentialsAnswered401 > 0 ? $"; revoked credentials answered 401 {run.RevokedCredentialsAnswered401} times (expected)" : "")
                + (run.OpenLoopRequestsNotSent > 0 ? $"; {run.OpenLoopRequestsNotSent} due requests not sent in the window (the tool or the server fell behind)" : ""));
        }
        md.AppendLine();
        md.Append(Sections);
        if (Notes.Count > 0)
        {
            md.AppendLine("## Notes");
            md.AppendLine();
            foreach (var note in Notes) md.AppendLine(CultureInfo.InvariantCulture, $"- {note}");
        }
        return md.ToString();
    }

    public void Show()
    {
        var table = new Table().Title($"{Scenario}").AddColumns("run", "req/s", "p50 ms", "p90 ms", "p99 ms", "p99.9 ms", "max ms", "errors");
        foreach (var run in Runs)
        {
            var l = run.LatencyMicroseconds;
            table.AddRow(Markup.Escape(run.Label), run.RequestsPerSecond.ToString("N0", CultureInfo.InvariantCulture), Ms(l.P50), Ms(l.P90), Ms(l.P99), Ms(l.P999), Ms(l.Max),
                run.Errors == 0 ? "0" : Markup.Escape($"{run.Errors}: {Describe(run.ErrorsByKind)}"));
        }
        AnsiConsole.Write(table);
        foreach (var note in Notes) AnsiConsole.MarkupLineInterpolated($"[grey]{note}[/]");
    }

    public static string Ms(long microseconds) => (microseconds / 1000.0).ToString("0.000", CultureInfo.InvariantCulture);

    private static string Describe(IReadOnlyDictionary<string, long> counts) =>
        counts.Count == 0 ? "none" : string.Join(", ", counts.Select(kv => $"{kv.Key}: {kv.Value}"));
}
