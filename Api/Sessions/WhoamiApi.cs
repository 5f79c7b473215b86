using System.Buffers;
using OrleansSessions.Api.Configuration;
using OrleansSessions.Api.Errors;
using System.Diagnostics;
using OrleansSessions.Json;
using OrleansSessions.Telemetry;

namespace OrleansSessions.Api.Sessions;

/// <summary>
/// <c>/sessions/whoami</c>, on every HTTP method as Kratos (Oathkeeper forwards the original one).
/// The hot path: read the credential, one call to the session grain, write the bytes it rendered.
/// </summary>
public static class WhoamiApi
{
    public const string NoStore = "private, no-cache, no-store, must-revalidate";
    public const string IdentityIdHeader = "X-Kratos-Authenticated-Identity-Id";

    public static IEndpointConventionBuilder MapWhoamiApi(this IEndpointRouteBuilder routes)
    {
        var credentials = routes.ServiceProvider.GetRequiredService<SessionCredentials>();
        var cookie = routes.ServiceProvider.GetRequiredService<SessionCookie>();
        var grains = routes.ServiceProvider.GetRequiredService<IGrainFactory>();
        var clock = routes.ServiceProvider.GetRequiredService<TimeProvider>();
        var requireHighestAal = routes.ServiceProvider.GetRequiredService<IOptions<SessionSettings>>().Value.Whoami.RequiresHighestAvailable;
        var aal2Required = OryError.Aal2Required(routes.ServiceProvider.GetRequiredService<IOptions<JsonRenderingOptions>>().Value.PublicBaseUrl);
        return routes.Map("/sessions/whoami", context => WhoamiAsync(context, credentials, cookie, grains, clock, requireHighestAal, aal2Required))
            .WithName("toSession");
    }

    private static async Task WhoamiAsync(HttpContext context, SessionCredentials credentials, SessionCookie cookie,
        IGrainFactory grains, TimeProvider clock, bool requireHighestAal, OryError aal2Required)
    {
        var started = Stopwatch.GetTimestamp();
        var response = context.Response;
        response.Headers.CacheControl = NoStore;
        if (!credentials.TryRead(context.Request, out var credential))
        {
            await OryError.NoSessionCredentials.WriteAsync(context);
            Record(started, WhoamiOutcome.Unauthorized, tokenized: false);
            return;
        }
        var grain = grains.SessionGrain(credential.LookupKey);
        // tokenize_as: the same decision, and the session as a JWT too (an unknown template is a 400 once the session passed).
        string? template = null;
        if (context.Request.QueryString.HasValue && context.Request.Query.TryGetValue("tokenize_as", out var values) && values.ToString() is { Length: > 0 } name)
            template = name;
        WhoamiAnswer answer;
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                answer = template is not null
                    ? await grain.TokenizeAsync(credential.Carrier, requireHighestAal, template, credential.Home)
                    : await grain.WhoamiAsync(credential.Carrier, requireHighestAal, credential.Home);
                break;
            }
            catch (Exception e) when (ReadRetry.AgainAfter(e, attempt))
            {
                // The silo it went to is leaving or gone: asked again, Orleans finds the session where it is now.
            }
        }
        try
        {
            await WriteAsync(context, answer, credential, cookie, clock, aal2Required);
        }
        finally
        {
            Record(started, answer.Outcome, tokenized: template is not null);
        }
    }

    private static readonly KeyValuePair<string, object?>[][] OutcomeTags =
    [
        .. Enum.GetValues<WhoamiOutcome>().SelectMany(o => new[] { Tags(o, false), Tags(o, true) }),
    ];

    private static KeyValuePair<string, object?>[] Tags(WhoamiOutcome outcome, bool tokenized) =>
    [
        new("outcome", outcome switch
        {
            WhoamiOutcome.Active => "active",
            WhoamiOutcome.Aal2Required => "aal2_required",
            WhoamiOutcome.TokenizeFailed => "tokenize_failed",
            WhoamiOutcome.RegionSilent => "region_silent",
            _ => "unauthorized",
        }),
        new("tokenized", tokenized),
    ];

    private static void Record(long started, WhoamiOutcome outcome, bool tokenized) =>
        ServiceTelemetry.WhoamiDuration.Record(Stopwatch.GetElapsedTime(started).TotalSeconds, OutcomeTags[(int)outcome * 2 + (tokenized ? 1 : 0)]);

    private static async Task WriteAsync(HttpContext context, WhoamiAnswer answer, PresentedCredential credential, SessionCookie cookie,
        TimeProvider clock, OryError aal2Required)
    {
        var response = context.Response;
        if (answer.Outcome == WhoamiOutcome.TokenizeFailed)
        {
            await OryError.BadRequest(answer.Problem ?? "The session could not be tokenized.").WriteAsync(context);
            return;
        }
        if (answer.Outcome == WhoamiOutcome.Aal2Required)
        {
            await aal2Required.WriteAsync(context);
            return;
        }
        if (answer.Outcome == WhoamiOutcome.RegionSilent)
        {
            response.Headers.RetryAfter = "1";
            await OryError.RegionSilent.WriteAsync(context);
            return;
        }
        if (answer.Outcome != WhoamiOutcome.Active || answer.Body is not { } body)
        {
            await OryError.NoSessionCredentials.WriteAsync(context);
            return;
        }

        // The session outlives the cookie (it was extended): hand the browser a cookie that lasts as long.
        if (credential.Carrier == SessionChannel.Browser
            && credential.CookieExpiresAt.ToUnixTimeSeconds() < answer.ExpiresAt.ToUnixTimeSeconds())
            cookie.Append(response, cookie.Seal(credential.Token, answer.ExpiresAt), answer.ExpiresAt, clock.GetUtcNow());

        response.StatusCode = StatusCodes.Status200OK;
        response.Headers.ContentType = "application/json; charset=utf-8";
        response.Headers[IdentityIdHeader] = answer.IdentityId;
        // Ordinal: methods are case-sensitive (RFC 9110), and Kestrel frames "head" as a request that expects a body;
        // HttpMethods.IsHead ignores case, and a "head" whoami promised 792 bytes and sent none (Kestrel's 500).
        // A 2xx answer to CONNECT has no content at all (RFC 9110, 9.3.6): Kestrel refuses a Content-Length on one.
        var method = context.Request.Method;
        var connect = string.Equals(method, HttpMethods.Connect, StringComparison.Ordinal);
        if (WriteBody(response, body, headOnly: connect || string.Equals(method, HttpMethods.Head, StringComparison.Ordinal), withLength: !connect))
            await response.BodyWriter.FlushAsync();
    }

    /// <summary>Sets the length (unless not <paramref name="withLength"/>) and (unless <paramref name="headOnly"/>) writes the body into the response's pipe; true when something was written.</summary>
    private static bool WriteBody(HttpResponse response, WhoamiBody body, bool headOnly, bool withLength = true)
    {
        var written = body.Written();
        if (withLength)
            response.ContentLength = written.Length;
        if (headOnly)
            return false;
        response.BodyWriter.Write(written);
        return true;
    }
}
