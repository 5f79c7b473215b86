using System.Globalization;

namespace OrleansSessions.Api.Configuration;

/// <summary>
/// Durations as Kratos's configuration writes them (Go's <c>time.ParseDuration</c>: "24h", "1h30m",
/// "90s", "1.5h", "500ms"), and .NET's "hh:mm:ss" for those who prefer it.
/// </summary>
public static class GoDuration
{
    private static readonly (string Unit, double Ticks)[] Units =
    [
        ("ns", 0.01), ("us", 10), ("µs", 10), ("ms", TimeSpan.TicksPerMillisecond),
        ("s", TimeSpan.TicksPerSecond), ("m", TimeSpan.TicksPerMinute), ("h", TimeSpan.TicksPerHour),
    ];

    public static bool TryParse(string? text, out TimeSpan value)
    {
        value = default;
        if (string.IsNullOrWhiteSpace(text) || text.Length > 64)
            return false;
        text = text.Trim();
        if (text.Contains(':'))
            return TimeSpan.TryParse(text, CultureInfo.InvariantCulture, out value) && value >= TimeSpan.Zero;
        if (text == "0")
            return true;

        double ticks = 0;
        var rest = text.AsSpan();
        while (!rest.IsEmpty)
        {
            var numberLength = 0;
            while (numberLength < rest.Length && (char.IsAsciiDigit(rest[numberLength]) || rest[numberLength] == '.'))
                numberLength++;
            if (numberLength == 0 || !double.TryParse(rest[..numberLength], NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var number))
                return false;
            rest = rest[numberLength..];
            var unitLength = 0;
            while (unitLength < rest.Length && !char.IsAsciiDigit(rest[unitLength]) && rest[unitLength] != '.')
                unitLength++;
            var unit = rest[..unitLength].ToString();
            var match = Array.FindIndex(Units, u => u.Unit == unit);
            if (match < 0)
                return false;
            ticks += number * Units[match].Ticks;
            rest = rest[unitLength..];
        }
        if (ticks > TimeSpan.MaxValue.Ticks)
            return false;
        value = TimeSpan.FromTicks((long)ticks);
        return true;
    }

    public static TimeSpan Parse(string text, string key) =>
        TryParse(text, out var value) ? value : throw new OptionsValidationException(key, typeof(TimeSpan),
            [$"'{key}' is not a duration (examples: 24h, 1h30m, 90s): '{text}'"]);
}
