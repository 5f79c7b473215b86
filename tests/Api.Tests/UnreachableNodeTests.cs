namespace OrleansSessions.Api.Tests;

/// <summary>What the API's 503 for an unreachable cluster node relies on in Orleans.</summary>
public sealed class UnreachableNodeTests
{
    /// <summary>
    /// The API answers <see cref="OrleansMessageRejectionException"/> with 503; a call whose target silo died fails
    /// with <see cref="SiloUnavailableException"/>, which must stay one of them for that answer to cover it.
    /// </summary>
    [Fact]
    public void A_call_to_a_dead_silo_fails_with_a_message_rejection()
    {
        Assert.True(typeof(SiloUnavailableException).IsSubclassOf(typeof(OrleansMessageRejectionException)));
    }
}
