namespace OrleansSessions.Json;

/// <summary>Timestamps as Kratos writes them: RFC 3339 in UTC, fractional seconds without trailing zeros.</summary>
public static class Rfc3339
{
    private const string Format = "yyyy'-'MM'-'dd'T'HH':'mm':'ss.FFFFFF'Z'";

    /// <summary>Drops sub-microsecond precision, which neither store keeps.</summary>
    public static DateTimeOffset Truncate(DateTimeOffset value) =>
        new(value.UtcTicks - value.UtcTicks % 10, TimeSpan.Zero);

    public static string Write(DateTimeOffset value) =>
        value.UtcDateTime.ToString(Format, System.Globalization.CultureInfo.InvariantCulture);
}
