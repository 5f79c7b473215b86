namespace OrleansSessions.Api.Sessions;

/// <summary>
/// When a grain call that only reads is asked again: Orleans rejected it because the silo it went to is leaving or
/// gone (<see cref="OrleansMessageRejectionException"/>, <see cref="SiloUnavailableException"/> among them). Such a
/// call was not served, and asking again is safe for a read: Orleans has dropped the address it used, and the next
/// call finds the grain where it is now (or activates it on a silo that stays). A scale-in under whoami load then
/// costs no request; a cluster that keeps rejecting still answers 503 after <see cref="Attempts"/> tries.
/// </summary>
public static class ReadRetry
{
    /// <summary>Tries in all, the first one included.</summary>
    public const int Attempts = 3;

    /// <summary>Whether a read that failed with <paramref name="exception"/> on try <paramref name="attempt"/> (from 1) is tried again.</summary>
    public static bool AgainAfter(Exception exception, int attempt) =>
        exception is OrleansMessageRejectionException && attempt < Attempts;

    /// <summary>
    /// <paramref name="read"/>, asked again while <see cref="AgainAfter"/> says so: for the admin and self-service
    /// reads (whoami keeps its own loop, which allocates nothing).
    /// </summary>
    public static async Task<T> ReadAsync<T>(Func<Task<T>> read)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return await read();
            }
            catch (Exception e) when (AgainAfter(e, attempt))
            {
            }
        }
    }
}
