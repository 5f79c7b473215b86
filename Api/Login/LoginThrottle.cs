using System.Globalization;
using OrleansSessions.Api.Sessions;
using OrleansSessions.Login;

namespace OrleansSessions.Api.Login;

/// <summary>
/// Brute-force limits on failed login attempts, shared by every node of the cluster: one
/// <see cref="ILoginThrottleGrain"/> per bucket, per identifier (for a second factor: per identity) and per client
/// address. Only failures count (a wrong password, an unknown identifier alike, a wrong code); each bucket forgets
/// <c>permits</c> failures per <c>window</c>, so a guesser is slowed to that rate and nobody is locked out. A success
/// costs nothing and clears its identifier's failures (not its address's: anyone behind a shared address could).
/// </summary>
public sealed class LoginThrottle(IGrainFactory grains, Devices devices, IOptions<SelfServiceSettings> settings)
{
    private readonly ThrottleRule _perIdentifier = Rule(settings.Value.Flows.Login.RateLimit.PerIdentifier, clearOnSuccess: true);
    private readonly ThrottleRule _perAddress = Rule(settings.Value.Flows.Login.RateLimit.PerAddress, clearOnSuccess: false);

    /// <summary>
    /// Starts an attempt on <paramref name="subject"/> (<c>identifier:…</c> or <c>identity:…</c>) from the request's client
    /// address; null with the time to wait when either bucket is spent. The attempt must be ended, failed or not.
    /// </summary>
    public async Task<(LoginAttempt? Attempt, TimeSpan RetryAfter)> BeginAsync(HttpContext context, string subject)
    {
        var id = Guid.NewGuid();
        var address = "address:" + (devices.ClientAddress(context)?.ToString() ?? "unknown");
        var bySubject = grains.GetGrain<ILoginThrottleGrain>(subject);
        var byAddress = grains.GetGrain<ILoginThrottleGrain>(address);
        var subjectDecision = await bySubject.BeginAsync(id, _perIdentifier);
        if (!subjectDecision.Allowed)
            return (null, subjectDecision.RetryAfter);
        var addressDecision = await byAddress.BeginAsync(id, _perAddress);
        if (!addressDecision.Allowed)
        {
            await bySubject.EndAsync(id, failed: false, _perIdentifier with { ClearOnSuccess = false });
            return (null, addressDecision.RetryAfter);
        }
        return (new LoginAttempt(id, bySubject, byAddress, _perIdentifier, _perAddress), TimeSpan.Zero);
    }

    public static Task WriteTooManyAsync(HttpContext context, TimeSpan retryAfter)
    {
        context.Response.Headers.RetryAfter = Math.Max(1, (int)Math.Ceiling(retryAfter.TotalSeconds)).ToString(CultureInfo.InvariantCulture);
        return LoginErrors.TooManyRequests(retryAfter).WriteAsync(context);
    }

    private static ThrottleRule Rule(RateLimitWindow limit, bool clearOnSuccess) =>
        new() { Permits = limit.Permits, Window = limit.ParsedWindow, ClearOnSuccess = clearOnSuccess };
}

/// <summary>One login attempt under way in both its buckets.</summary>
public sealed class LoginAttempt(Guid id, ILoginThrottleGrain subject, ILoginThrottleGrain address, ThrottleRule subjectRule, ThrottleRule addressRule)
{
    public Task FailedAsync() => EndAsync(failed: true);

    public Task SucceededAsync() => EndAsync(failed: false);

    private Task EndAsync(bool failed) =>
        Task.WhenAll(subject.EndAsync(id, failed, subjectRule), address.EndAsync(id, failed, addressRule));
}
