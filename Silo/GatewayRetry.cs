namespace OrleansSessions.Silo;

/// <summary>
/// An API node starting before its silos (or while they restart) waits for a gateway instead of
/// failing at once: it retries every second until <paramref name="timeout"/> has passed since the
/// first failure, then start-up fails with Orleans' own error.
/// </summary>
internal sealed class GatewayRetry(TimeSpan timeout, TimeProvider time) : IClientConnectionRetryFilter
{
    private static readonly TimeSpan Pause = TimeSpan.FromSeconds(1);
    private long? _firstFailure;

    public async Task<bool> ShouldRetryConnectionAttempt(Exception exception, CancellationToken cancellationToken)
    {
        _firstFailure ??= time.GetTimestamp();
        if (time.GetElapsedTime(_firstFailure.Value) >= timeout)
            return false;
        await Task.Delay(Pause, time, cancellationToken);
        return true;
    }
}
