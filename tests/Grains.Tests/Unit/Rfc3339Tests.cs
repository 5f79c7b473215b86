namespace OrleansSessions.Tests.Unit;

public sealed class Rfc3339Tests
{
    private static readonly DateTimeOffset Whole = new(2024, 2, 29, 23, 59, 58, TimeSpan.Zero);

    [Fact]
    public void Whole_seconds_are_written_without_a_fraction()
    {
        Assert.Equal("2024-02-29T23:59:58Z", Rfc3339.Write(Whole));
    }

    [Theory]
    [InlineData(5_000_000, "2024-02-29T23:59:58.5Z")]
    [InlineData(1_234_500, "2024-02-29T23:59:58.12345Z")]
    [InlineData(1_000_000, "2024-02-29T23:59:58.1Z")]
    [InlineData(10, "2024-02-29T23:59:58.000001Z")]
    [InlineData(9_999_990, "2024-02-29T23:59:58.999999Z")]
    [InlineData(1_234_560, "2024-02-29T23:59:58.123456Z")]
    public void Fraction_is_written_without_trailing_zeros(long ticks, string expected)
    {
        Assert.Equal(expected, Rfc3339.Write(Whole.AddTicks(ticks)));
        Assert.Equal(expected, WrittenAsJsonMember(Whole.AddTicks(ticks)));
    }

    /// <summary>The UTF-8 writer of a whoami body writes what <see cref="Rfc3339.Write"/> does, whatever the offset.</summary>
    [Theory]
    [InlineData(0, 0)]
    [InlineData(1_234_567, 2)]
    [InlineData(9_999_999, -5)]
    public void Writing_into_json_is_the_same_text(long ticks, int offsetHours)
    {
        var value = Whole.AddTicks(ticks).ToOffset(TimeSpan.FromHours(offsetHours));

        Assert.Equal(Rfc3339.Write(value), WrittenAsJsonMember(value));
    }

    private static string WrittenAsJsonMember(DateTimeOffset value)
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>();
        using (var w = new System.Text.Json.Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            Rfc3339.WriteTo(w, System.Text.Json.JsonEncodedText.Encode("at"), value);
            w.WriteEndObject();
        }
        return System.Text.Json.JsonDocument.Parse(buffer.WrittenMemory).RootElement.GetProperty("at").GetString()!;
    }

    /// <summary>Below a microsecond nothing is written: 100 ns digits are dropped, never rounded up.</summary>
    [Theory]
    [InlineData(1_234_567, "2024-02-29T23:59:58.123456Z")]
    [InlineData(9_999_999, "2024-02-29T23:59:58.999999Z")]
    [InlineData(5, "2024-02-29T23:59:58Z")]
    public void Sub_microsecond_digits_are_dropped(long ticks, string expected)
    {
        Assert.Equal(expected, Rfc3339.Write(Whole.AddTicks(ticks)));
    }

    [Fact]
    public void Offsets_are_converted_to_UTC_and_always_end_in_Z()
    {
        var berlin = new DateTimeOffset(2024, 3, 1, 1, 59, 58, TimeSpan.FromHours(2)).AddTicks(5_000_000);
        var newYork = new DateTimeOffset(2024, 2, 29, 18, 59, 58, TimeSpan.FromHours(-5));

        Assert.Equal("2024-02-29T23:59:58.5Z", Rfc3339.Write(berlin));
        Assert.Equal("2024-02-29T23:59:58Z", Rfc3339.Write(newYork));
    }

    [Fact]
    public void Truncate_drops_sub_microsecond_ticks_and_converts_to_UTC()
    {
        var value = new DateTimeOffset(2024, 3, 1, 1, 59, 58, TimeSpan.FromHours(2)).AddTicks(1_234_567);

        var truncated = Rfc3339.Truncate(value);

        Assert.Equal(TimeSpan.Zero, truncated.Offset);
        Assert.Equal(Whole.AddTicks(1_234_560), truncated);
        Assert.Equal(truncated, Rfc3339.Truncate(truncated));
    }
}
