using OrleansSessions.Api.Configuration;
using OrleansSessions.Api.Errors;
using OrleansSessions.Api.Json;
using OrleansSessions.Api.Login;
using OrleansSessions.Json;

namespace OrleansSessions.Api.Sessions;

/// <summary>
/// A user's own sessions, on the public port (Kratos's <c>listMySessions</c>, <c>disableMyOtherSessions</c>,
/// <c>disableMySession</c>). The caller is the session its request carries, through any carrier; the
/// current session is never listed and never ended here (that is logout).
/// </summary>
public static class SelfServiceSessionsApi
{
    /// <summary>Kratos's 401 on these routes: a reason of its own, and no error id.</summary>
    public static readonly OryError NoSessionFound =
        new(StatusCodes.Status401Unauthorized, "The request could not be authorized") { Reason = "No valid session cookie found." };

    private static readonly OryError CannotRevokeCurrent = new(StatusCodes.Status400BadRequest, "cannot revoke current session");

    /// <summary>What the self-service session endpoints use, injected per request.</summary>
    public readonly record struct SelfServiceServices(
        RequestSessions Sessions,
        OwnSessions Own,
        TrustedOrigins Origins,
        TimeProvider Clock,
        IOptions<SessionSettings> SessionOptions,
        IOptions<JsonRenderingOptions> Rendering);

    public static RouteGroupBuilder MapSelfServiceSessionsApi(this IEndpointRouteBuilder routes)
    {
        var sessions = routes.MapGroup("/sessions");
        sessions.MapGet("", ListMySessionsAsync).WithName("listMySessions");
        sessions.MapDelete("", DisableMyOtherSessionsAsync).WithName("disableMyOtherSessions");
        sessions.MapDelete("/{id}", DisableMySessionAsync).WithName("disableMySession");
        return sessions;
    }

    /// <summary>The caller's other active sessions, newest first, each with its identity and devices.</summary>
    private static async Task<IResult> ListMySessionsAsync(HttpContext context, [AsParameters] SelfServiceServices s)
    {
        context.Response.Headers.CacheControl = WhoamiApi.NoStore;
        var (current, outcome) = await s.Sessions.FindAsync(context.Request, s.SessionOptions.Value.Whoami.RequiresHighestAvailable);
        if (outcome == WhoamiOutcome.Aal2Required)
            return new OryErrorResult(OryError.Aal2Required(s.Rendering.Value.PublicBaseUrl));
        if (current is null)
            return new OryErrorResult(NoSessionFound);

        var page = OffsetPage.Parse(context.Request.Query);
        var now = s.Clock.GetUtcNow();
        var listed = await s.Own.ListAsync(current, page.Offset, page.PerPage, exceptCurrent: true, now);
        page.WriteHeaders(context, listed.Total);
        return SessionResults.List(listed.Sessions, SessionJsonShape.Full, now, s.Rendering.Value.PublicBaseUrl);
    }

    /// <summary>
    /// A change authenticated by the cookie must come from one of our own origins: the cookie's <c>SameSite=Lax</c> keeps
    /// it off other sites' requests in today's browsers, and this refuses what a browser marks as coming from elsewhere
    /// (a sibling subdomain is same-site for the cookie, but not one of our origins). Tokens are not sent by browsers on
    /// their own, so token-authenticated calls need no such check.
    /// </summary>
    private static OryErrorResult? CrossSiteWithCookie(HttpRequest request, Login.CurrentSession current, SelfServiceServices s) =>
        current.Credential.Carrier == SessionChannel.Browser && s.Origins.IsCrossSite(request) ? new OryErrorResult(TrustedOrigins.CrossSite) : null;

    /// <summary>Revokes every other session of the caller's identity: <c>{"count": N}</c>.</summary>
    private static async Task<IResult> DisableMyOtherSessionsAsync(HttpContext context, [AsParameters] SelfServiceServices s)
    {
        var (current, _) = await s.Sessions.FindAsync(context.Request, requireHighestAal: false);
        if (current is null)
            return new OryErrorResult(NoSessionFound);
        if (CrossSiteWithCookie(context.Request, current, s) is { } refused)
            return refused;
        var count = await s.Own.EndOthersAsync(current);
        return new JsonWriterResult(StatusCodes.Status200OK, w =>
        {
            w.WriteStartObject();
            w.WriteNumber("count", count);
            w.WriteEndObject();
        });
    }

    /// <summary>
    /// Revokes one of the caller's other sessions. 204 also for an unknown, foreign or already revoked id, as
    /// Kratos: the answer tells nothing about sessions that are not the caller's.
    /// </summary>
    private static async Task<IResult> DisableMySessionAsync(string id, HttpContext context, [AsParameters] SelfServiceServices s)
    {
        var (current, _) = await s.Sessions.FindAsync(context.Request, requireHighestAal: false);
        if (current is null)
            return new OryErrorResult(NoSessionFound);
        if (CrossSiteWithCookie(context.Request, current, s) is { } refused)
            return refused;
        if (!SessionParameters.TryParseUuid(id, out var sessionId, out var error))
            return new OryErrorResult(error!);
        return await s.Own.EndAsync(current, sessionId) ? TypedResults.NoContent() : new OryErrorResult(CannotRevokeCurrent);
    }
}
