using OrleansSessions.Api.Errors;
using OrleansSessions.Api.Json;
using OrleansSessions.Api.Login;
using OrleansSessions.Api.Sessions;
using OrleansSessions.Json;

namespace OrleansSessions.Api.Logout;

/// <summary>
/// Kratos's logout: <c>performNativeLogout</c> (a native app hands in its token),
/// <c>createBrowserLogoutFlow</c> (a logout URL for the browser's session) and <c>updateLogoutFlow</c>
/// (the browser opens that URL: the session is revoked and the cookie expired).
/// </summary>
public static class LogoutApi
{
    private static readonly OryError TokenNotFound = new(StatusCodes.Status403Forbidden, "The requested action was forbidden")
    {
        Reason = "The provided Ory Session Token could not be found, is invalid, or otherwise malformed.",
    };

    private static readonly OryError TokenMismatch = new(StatusCodes.Status403Forbidden, "The requested action was forbidden")
    {
        Reason = "Unable to log out because the logout token in the URL query does not match the session cookie.",
    };

    public static RouteGroupBuilder MapLogoutApi(this IEndpointRouteBuilder routes)
    {
        var logout = routes.MapGroup("/self-service/logout");
        logout.MapDelete("/api", PerformNativeLogoutAsync).WithName("performNativeLogout");
        logout.MapGet("/browser", CreateBrowserLogoutFlowAsync).WithName("createBrowserLogoutFlow");
        logout.MapGet("", UpdateLogoutFlowAsync).WithName("updateLogoutFlow");
        return logout;
    }

    /// <summary>204 when the token's session is revoked now or was already; 403 when there is no such session.</summary>
    private static async Task<IResult> PerformNativeLogoutAsync(HttpRequest request, IGrainFactory grains)
    {
        var (document, error) = await JsonBody.ReadObjectAsync(request);
        if (document is null)
            return new OryErrorResult(error!);
        string? token;
        using (document)
        {
            if (!JsonBody.TryOptionalString(document.RootElement, "session_token", 256, out token, out error))
                return new OryErrorResult(error!);
        }
        if (token is null)
            return new OryErrorResult(OryError.BadRequest("session_token is required."));
        if (!SessionToken.IsWellFormed(token) || !await grains.SessionGrain(SessionToken.LookupKey(token)).RevokeAsync(SessionToken.RegionCode(token)))
            return new OryErrorResult(TokenNotFound);
        return TypedResults.NoContent();
    }

    private static async Task<IResult> CreateBrowserLogoutFlowAsync(HttpContext context, RequestSessions sessions, ReturnUrls returnUrls,
        IOptions<JsonRenderingOptions> rendering)
    {
        context.Response.Headers.CacheControl = WhoamiApi.NoStore;
        if (await sessions.FindAsync(context.Request, SessionChannel.Browser) is not { } session)
            return new OryErrorResult(LoginErrors.SessionInactive);
        var requested = context.Request.Query["return_to"].ToString();
        if (!returnUrls.TryResolve(requested, out var returnTo))
            return new OryErrorResult(LoginErrors.ReturnToNotAllowed(requested));
        var token = LogoutToken.For(session.Credential.Token);
        var url = $"{rendering.Value.PublicBaseUrl}self-service/logout?token={token}"
            + (returnTo is null ? "" : "&return_to=" + Uri.EscapeDataString(returnTo));
        return new JsonWriterResult(StatusCodes.Status200OK, w =>
        {
            w.WriteStartObject();
            w.WriteString("logout_url", url);
            w.WriteString("logout_token", token);
            w.WriteEndObject();
        });
    }

    private static async Task<IResult> UpdateLogoutFlowAsync(HttpContext context, RequestSessions sessions, ReturnUrls returnUrls,
        BrowserLogout logout)
    {
        context.Response.Headers.CacheControl = WhoamiApi.NoStore;
        var query = context.Request.Query;
        var token = query["token"].ToString();
        if (token.Length == 0)
            return new OryErrorResult(OryError.BadRequest("Please include a token in the URL query."));
        if (await sessions.FindAsync(context.Request, SessionChannel.Browser) is not { } session)
            return new OryErrorResult(LoginErrors.SessionInactive);
        if (!LogoutToken.Matches(session.Credential.Token, token))
            return new OryErrorResult(TokenMismatch);
        // Checked before anything is revoked, so that a bad link changes nothing.
        var requested = query["return_to"].ToString();
        if (!returnUrls.TryResolve(requested, out var returnTo))
            return new OryErrorResult(LoginErrors.ReturnToNotAllowed(requested));

        await logout.EndAsync(session, context.Response);
        return ContentNegotiation.IsJsonRequest(context.Request)
            ? TypedResults.NoContent()
            : new SeeOther(returnUrls.AfterLogout(returnTo));
    }
}
