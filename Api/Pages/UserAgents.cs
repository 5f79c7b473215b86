using System.Collections.Concurrent;
using UAParser;

namespace OrleansSessions.Api.Pages;

/// <summary>
/// "Firefox 133 on Windows 10" from a session's user agent, with ua-parser's regexes (the UAParser package).
/// The parser compiles its regexes once, on the first page that needs it; answers are remembered per user
/// agent (bounded, as the strings come from clients).
/// </summary>
public sealed class UserAgents
{
    private const int Remembered = 4096;

    private readonly Lazy<Parser> _parser = new(() => Parser.GetDefault(new ParserOptions { UseCompiledRegex = false }));
    private readonly ConcurrentDictionary<string, (string Browser, string System)> _seen = new(StringComparer.Ordinal);

    /// <summary>Browser and operating system, each with its major version when the agent tells it; "Unknown …" otherwise.</summary>
    public (string Browser, string System) Describe(string? userAgent)
    {
        if (string.IsNullOrWhiteSpace(userAgent))
            return ("Unknown browser", "unknown system");
        if (_seen.TryGetValue(userAgent, out var known))
            return known;
        var client = _parser.Value.Parse(userAgent);
        var browser = Named(client.UA.Family, client.UA.Major, "Unknown browser");
        var system = Named(client.OS.Family, client.OS.Major, "unknown system");
        if (_seen.Count < Remembered)
            _seen.TryAdd(userAgent, (browser, system));
        return (browser, system);
    }

    private static string Named(string? family, string? major, string unknown) =>
        string.IsNullOrEmpty(family) || family == "Other" ? unknown : string.IsNullOrEmpty(major) ? family : $"{family} {major}";
}
