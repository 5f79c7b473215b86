using System.Globalization;
using System.Threading.RateLimiting;
using Microsoft.AspNetCore.RateLimiting;

namespace OrleansSessions.Api.Login;

/// <summary>
/// Brute-force limits on login submissions, with ASP.NET Core rate limiting: per client address by the
/// rate-limiting middleware (policy <see cref="AddressPolicy"/> on the submit endpoint), and per identifier
/// (for a second factor: per identity) by a partitioned limiter the handler acquires once it has read the
/// body. Fixed windows; limits are per node.
/// </summary>
public sealed class LoginThrottle : IDisposable
{
    public const string AddressPolicy = "login-per-address";

    private readonly PartitionedRateLimiter<string> _perIdentifier;
    private readonly TimeSpan _window;

    public LoginThrottle(IOptions<SelfServiceSettings> settings)
    {
        var limit = settings.Value.Flows.Login.RateLimit.PerIdentifier;
        _window = limit.ParsedWindow;
        _perIdentifier = PartitionedRateLimiter.Create<string, string>(key =>
            RateLimitPartition.GetFixedWindowLimiter(key, _ => WindowOptions(limit)));
    }

    /// <summary>Takes one attempt for <paramref name="key"/>; false with the time to wait when its window is used up.</summary>
    public bool TryAcquire(string key, out TimeSpan retryAfter)
    {
        using var lease = _perIdentifier.AttemptAcquire(key);
        retryAfter = lease.IsAcquired ? TimeSpan.Zero : RetryAfter(lease, _window);
        return lease.IsAcquired;
    }

    /// <summary>Registers the per-address policy and the 429 answer in Kratos's error envelope.</summary>
    public static void Configure(RateLimiterOptions options)
    {
        options.AddPolicy(AddressPolicy, context =>
        {
            var limit = context.RequestServices.GetRequiredService<IOptions<SelfServiceSettings>>().Value.Flows.Login.RateLimit.PerAddress;
            var address = context.Connection.RemoteIpAddress?.ToString() ?? "";
            return RateLimitPartition.GetFixedWindowLimiter(address, _ => WindowOptions(limit));
        });
        options.OnRejected = (rejected, _) =>
        {
            var window = rejected.HttpContext.RequestServices.GetRequiredService<IOptions<SelfServiceSettings>>()
                .Value.Flows.Login.RateLimit.PerAddress.ParsedWindow;
            return new ValueTask(WriteTooManyAsync(rejected.HttpContext, RetryAfter(rejected.Lease, window)));
        };
    }

    public static Task WriteTooManyAsync(HttpContext context, TimeSpan retryAfter)
    {
        context.Response.Headers.RetryAfter = Math.Max(1, (int)Math.Ceiling(retryAfter.TotalSeconds)).ToString(CultureInfo.InvariantCulture);
        return LoginErrors.TooManyRequests(retryAfter).WriteAsync(context);
    }

    private static FixedWindowRateLimiterOptions WindowOptions(RateLimitWindow limit) => new()
    {
        PermitLimit = limit.Permits,
        Window = limit.ParsedWindow,
        QueueLimit = 0,
        AutoReplenishment = true,
    };

    private static TimeSpan RetryAfter(RateLimitLease lease, TimeSpan window) =>
        lease.TryGetMetadata(MetadataName.RetryAfter, out var retryAfter) ? retryAfter : window;

    public void Dispose() => _perIdentifier.Dispose();
}
