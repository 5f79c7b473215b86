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

    [Fact]
    public async Task A_read_is_asked_again_after_rejections_and_answers_what_the_next_try_reads()
    {
        var tries = 0;
        var read = await ReadRetry.ReadAsync(() => ++tries < ReadRetry.Attempts
            ? Task.FromException<string>(new SiloUnavailableException("the silo is shutting down"))
            : Task.FromResult("found"));
        Assert.Equal("found", read);
        Assert.Equal(ReadRetry.Attempts, tries);
    }

    [Fact]
    public async Task A_read_rejected_every_time_fails_after_the_attempts_and_other_failures_at_once()
    {
        var tries = 0;
        await Assert.ThrowsAsync<SiloUnavailableException>(() => ReadRetry.ReadAsync<string>(() =>
        {
            tries++;
            return Task.FromException<string>(new SiloUnavailableException("gone"));
        }));
        Assert.Equal(ReadRetry.Attempts, tries);

        tries = 0;
        await Assert.ThrowsAsync<TimeoutException>(() => ReadRetry.ReadAsync<string>(() =>
        {
            tries++;
            return Task.FromException<string>(new TimeoutException());
        }));
        Assert.Equal(1, tries);
    }
}
