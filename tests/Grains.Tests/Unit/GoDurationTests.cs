using OrleansSessions.Api.Configuration;

namespace OrleansSessions.Tests.Unit;

public sealed class GoDurationTests
{
    public static TheoryData<string, TimeSpan> Valid => new()
    {
        { "24h", TimeSpan.FromHours(24) },
        { "1h30m", TimeSpan.FromMinutes(90) },
        { "1.5h", TimeSpan.FromMinutes(90) },
        { "90s", TimeSpan.FromSeconds(90) },
        { "500ms", TimeSpan.FromMilliseconds(500) },
        { "1m30s", TimeSpan.FromSeconds(90) },
        { "2h45m30s", new TimeSpan(2, 45, 30) },
        { "250us", TimeSpan.FromMicroseconds(250) },
        { "250µs", TimeSpan.FromMicroseconds(250) },
        { "1500ns", TimeSpan.FromTicks(15) },
        { "0", TimeSpan.Zero },
        { "0s", TimeSpan.Zero },
        { " 15m ", TimeSpan.FromMinutes(15) },
        { "01:00:00", TimeSpan.FromHours(1) },
        { "00:00:30", TimeSpan.FromSeconds(30) },
        { "1.00:00:00", TimeSpan.FromDays(1) },
    };

    [Theory]
    [MemberData(nameof(Valid))]
    public void TryParse_accepts_Go_durations_and_hh_mm_ss(string text, TimeSpan expected)
    {
        Assert.True(GoDuration.TryParse(text, out var value));
        Assert.Equal(expected, value);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("   ")]
    [InlineData("h")]
    [InlineData("10x")]
    [InlineData("10")] // a number needs a unit, except 0
    [InlineData("-1h")]
    [InlineData("+1h")]
    [InlineData("1.2.3h")]
    [InlineData(".h")]
    [InlineData("1h 30m")]
    [InlineData("1H")]
    [InlineData("1d")] // Go has no day unit
    [InlineData("1e3s")]
    public void TryParse_rejects_what_is_not_a_duration(string? text)
    {
        Assert.False(GoDuration.TryParse(text, out var value));
        Assert.Equal(TimeSpan.Zero, value);
    }

    [Fact]
    public void TryParse_rejects_a_duration_beyond_TimeSpan()
    {
        Assert.False(GoDuration.TryParse("99999999999h", out _));
    }

    [Fact]
    public void Parse_names_the_key_when_the_text_is_not_a_duration()
    {
        var error = Assert.Throws<Microsoft.Extensions.Options.OptionsValidationException>(() => GoDuration.Parse("soon", "session:lifespan"));

        Assert.Contains("session:lifespan", error.Message, StringComparison.Ordinal);
        Assert.Contains("soon", error.Message, StringComparison.Ordinal);
        Assert.Equal(TimeSpan.FromHours(24), GoDuration.Parse("24h", "session:lifespan"));
    }
}
