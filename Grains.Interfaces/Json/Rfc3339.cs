using System.Globalization;
using System.Text.Json;

namespace OrleansSessions.Json;

/// <summary>Timestamps as Kratos writes them: RFC 3339 in UTC, fractional seconds without trailing zeros.</summary>
public static class Rfc3339
{
    private const string Format = "yyyy'-'MM'-'dd'T'HH':'mm':'ss.FFFFFF'Z'";

    /// <summary>Drops sub-microsecond precision, which neither store keeps.</summary>
    public static DateTimeOffset Truncate(DateTimeOffset value) =>
        new(value.UtcTicks - value.UtcTicks % 10, TimeSpan.Zero);

    public static string Write(DateTimeOffset value) =>
        value.UtcDateTime.ToString(Format, CultureInfo.InvariantCulture);

    /// <summary>Writes <paramref name="value"/> as the member <paramref name="name"/>: the text of <see cref="Write"/>, formatted straight into UTF-8.</summary>
    public static void WriteTo(Utf8JsonWriter w, JsonEncodedText name, DateTimeOffset value)
    {
        Span<byte> utf8 = stackalloc byte[MaxLength];
        w.WriteString(name, utf8[..FormatUtf8(value.UtcDateTime, utf8)]);
    }

    private const int MaxLength = 27; // yyyy-MM-ddTHH:mm:ss.ffffffZ

    /// <summary>The digits written by hand: a custom format string is parsed again on every call, and a whoami writes four.</summary>
    private static int FormatUtf8(DateTime utc, Span<byte> into)
    {
        Digits(into[..4], utc.Year);
        into[4] = (byte)'-';
        Digits(into.Slice(5, 2), utc.Month);
        into[7] = (byte)'-';
        Digits(into.Slice(8, 2), utc.Day);
        into[10] = (byte)'T';
        Digits(into.Slice(11, 2), utc.Hour);
        into[13] = (byte)':';
        Digits(into.Slice(14, 2), utc.Minute);
        into[16] = (byte)':';
        Digits(into.Slice(17, 2), utc.Second);
        var length = 19;
        var micros = (int)(utc.Ticks % TimeSpan.TicksPerSecond / 10);
        if (micros != 0)
        {
            into[19] = (byte)'.';
            Digits(into.Slice(20, 6), micros);
            length = 26;
            while (into[length - 1] == (byte)'0')
                length--;
        }
        into[length] = (byte)'Z';
        return length + 1;
    }

    private static void Digits(Span<byte> into, int value)
    {
        for (var i = into.Length - 1; i >= 0; i--)
        {
            into[i] = (byte)('0' + value % 10);
            value /= 10;
        }
    }
}
