using System.Globalization;
using System.Net;

namespace OrleansSessions.LinkProxy;

/// <summary>The command line: one proxy per process, so one --listen and one --to.</summary>
public sealed record LinkOptions(IPEndPoint Listen, EndPoint Target, TimeSpan Delay, IPEndPoint? Control)
{
    public const string Usage =
        "usage: OrleansSessions.LinkProxy --listen <ip:port> --to <host:port> [--delay <50ms|0.05s|1s>] [--control <ip:port>]";

    /// <summary>Reads the arguments; anything wrong is a <see cref="FormatException"/> whose message says what.</summary>
    public static LinkOptions Parse(IReadOnlyList<string> args)
    {
        IPEndPoint? listen = null, control = null;
        EndPoint? target = null;
        var delay = TimeSpan.Zero;
        for (var i = 0; i < args.Count; i++)
        {
            var name = args[i];
            string? value = null;
            var equals = name.IndexOf('=');
            if (name.StartsWith("--", StringComparison.Ordinal) && equals > 0)
                (name, value) = (name[..equals], name[(equals + 1)..]);
            string Value() => value ?? (i + 1 < args.Count ? args[++i] : throw new FormatException($"{name} needs a value"));
            switch (name)
            {
                case "--listen":
                    listen = ParseListen(Value(), name);
                    break;
                case "--to":
                    target = ParseTarget(Value());
                    break;
                case "--delay":
                    delay = ParseDuration(Value());
                    break;
                case "--control":
                    control = ParseListen(Value(), name);
                    break;
                default:
                    throw new FormatException($"unknown argument {name}");
            }
        }
        return new LinkOptions(
            listen ?? throw new FormatException("--listen is required"),
            target ?? throw new FormatException("--to is required"),
            delay,
            control);
    }

    /// <summary><c>50ms</c>, <c>0.05s</c>, <c>1s</c>; a bare <c>0</c> is no delay. Other numbers need a unit, so 50 is never read as seconds.</summary>
    public static TimeSpan ParseDuration(string text)
    {
        var trimmed = text.Trim();
        var (number, scale) = trimmed.EndsWith("ms", StringComparison.OrdinalIgnoreCase) ? (trimmed[..^2], 1.0)
            : trimmed.EndsWith('s') || trimmed.EndsWith('S') ? (trimmed[..^1], 1000.0)
            : (trimmed, 0.0);
        if (!double.TryParse(number, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var value)
            || double.IsInfinity(value) || (scale == 0 && value != 0))
            throw new FormatException($"not a duration: '{text}' (say 50ms, 0.05s or 1s)");
        return TimeSpan.FromMilliseconds(value * scale);
    }

    /// <summary>An IP endpoint (<c>127.0.0.1:5432</c>, <c>[::1]:5432</c>) or a host name and port (<c>localhost:5432</c>).</summary>
    public static EndPoint ParseTarget(string text)
    {
        if (IPEndPoint.TryParse(text, out var ip) && ip.Port != 0 && HasPort(text))
            return ip;
        var colon = text.LastIndexOf(':');
        if (colon > 0 && !text[..colon].Contains(':') && int.TryParse(text[(colon + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out var port)
            && port is > 0 and <= IPEndPoint.MaxPort)
            return new DnsEndPoint(text[..colon], port);
        throw new FormatException($"--to: not a host:port: '{text}'");
    }

    /// <summary>How an endpoint is printed: <c>host:port</c>, without the address family a <see cref="DnsEndPoint"/> puts first.</summary>
    public static string Describe(EndPoint endPoint) => endPoint switch
    {
        DnsEndPoint dns => $"{dns.Host}:{dns.Port}",
        _ => endPoint.ToString() ?? "",
    };

    /// <summary>A delay as printed: whole milliseconds where it is whole (50), up to three decimals where not (0.5).</summary>
    public static string Milliseconds(TimeSpan delay) => delay.TotalMilliseconds.ToString("0.###", CultureInfo.InvariantCulture);

    // Port 0 is allowed: the ready line says which port was given.
    private static IPEndPoint ParseListen(string text, string name)
    {
        if (!IPEndPoint.TryParse(text, out var endPoint) || !HasPort(text))
            throw new FormatException($"{name}: not an ip:port: '{text}'");
        return endPoint;
    }

    // IPEndPoint.TryParse takes a bare address as port 0; a port must be written out.
    private static bool HasPort(string text) => text.StartsWith('[') ? text.Contains("]:", StringComparison.Ordinal) : text.Contains(':') && text.IndexOf(':') == text.LastIndexOf(':');
}
