using OrleansSessions.Api.Sessions;
using OrleansSessions.Storage;

namespace OrleansSessions.Api.Tests;

/// <summary>Which failed reads whoami asks again: only those Orleans rejected (the silo left or died), and not forever.</summary>
public sealed class ReadRetryTests
{
    [Fact]
    public void A_call_rejected_because_its_silo_left_is_asked_again_up_to_the_attempts()
    {
        var left = new SiloUnavailableException("the silo is shutting down");

        Assert.True(ReadRetry.AgainAfter(left, 1));
        Assert.True(ReadRetry.AgainAfter(left, ReadRetry.Attempts - 1));
        Assert.False(ReadRetry.AgainAfter(left, ReadRetry.Attempts));
    }

    [Fact]
    public void Other_failures_are_not_asked_again()
    {
        Assert.False(ReadRetry.AgainAfter(new TimeoutException(), 1));
        Assert.False(ReadRetry.AgainAfter(new StoreUnavailableException(), 1));
        Assert.False(ReadRetry.AgainAfter(new InvalidOperationException(), 1));
    }
}
