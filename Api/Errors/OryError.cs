using System.Text.Json;
using Microsoft.AspNetCore.WebUtilities;

namespace OrleansSessions.Api.Errors;

/// <summary>
/// An error in Kratos's envelope (herodot's <c>DefaultError</c>): <c>{"error":{id?, code, status,
/// request?, reason?, details?, message}}</c>, with the <c>Ory-Error-Id</c> header. Ids are stable
/// values clients switch on.
/// </summary>
public sealed record OryError(int Code, string Message)
{
    public string? Id { get; init; }
    public string? Reason { get; init; }
    /// <summary>Where a browser should go to resolve the error; written in <c>details</c> and beside <c>error</c>, as Kratos.</summary>
    public string? RedirectBrowserTo { get; init; }
    /// <summary>More members of <c>details</c> (string values), such as the hint of a CSRF violation.</summary>
    public IReadOnlyDictionary<string, string>? Details { get; init; }
    /// <summary>Members written beside <c>error</c> (Kratos's expired-flow error carries <c>expired_at</c>, <c>since</c>, <c>use_flow_id</c>).</summary>
    public Action<Utf8JsonWriter>? WriteBeside { get; init; }

    public OryError WithReason(string reason) => this with { Reason = reason };

    public static OryError BadRequest(string reason) =>
        new(StatusCodes.Status400BadRequest, "The request was malformed or contained invalid parameters") { Reason = reason };

    public static readonly OryError NotFound = new(StatusCodes.Status404NotFound, "The requested resource could not be found");

    public static readonly OryError Conflict = new(StatusCodes.Status409Conflict, "The resource could not be created due to a conflict");

    public static readonly OryError Internal =
        new(StatusCodes.Status500InternalServerError, "An internal server error occurred, please contact the system administrator");

    /// <summary>The store cannot be reached: the request was not acknowledged, and the same request may succeed later.</summary>
    public static readonly OryError StoreUnavailable =
        new(StatusCodes.Status503ServiceUnavailable, "The service is temporarily unavailable, please try again later")
        {
            Reason = "The session store cannot be reached right now. Retry later.",
        };

    /// <summary>A node of the cluster that held what the request needed stopped answering (it died, or is leaving).</summary>
    public static readonly OryError NodeUnavailable =
        new(StatusCodes.Status503ServiceUnavailable, "The service is temporarily unavailable, please try again later")
        {
            Reason = "A node of the cluster could not be reached. Retry later.",
        };

    /// <summary>
    /// With regions: the session (or its identity) belongs to a region this one has not heard from within the lease, so
    /// a revocation made there may not have arrived; not a 401 (the session may well be live), and not a 200.
    /// </summary>
    public static readonly OryError RegionSilent =
        new(StatusCodes.Status503ServiceUnavailable, "The service is temporarily unavailable, please try again later")
        {
            Reason = "The session's home region has not been heard from recently, so this region cannot vouch for it. Retry later.",
        };

    /// <summary>whoami without a valid credential: Kratos sends no id here.</summary>
    public static readonly OryError NoSessionCredentials =
        new(StatusCodes.Status401Unauthorized, "The request could not be authorized") { Reason = "No valid session credentials found in the request." };

    /// <summary>whoami (or GET /sessions) for a session below the identity's available AAL.</summary>
    public static OryError Aal2Required(string publicBaseUrl) =>
        new(StatusCodes.Status403Forbidden, "Session does not fulfill the requested Authenticator Assurance Level")
        {
            Id = "session_aal2_required",
            Reason = "An active session was found but it does not fulfill the requested Authenticator Assurance Level. Please verify yourself with a second factor to resolve this issue.",
            RedirectBrowserTo = $"{publicBaseUrl}self-service/login/browser?aal=aal2",
        };

    public static readonly OryError IdentityDisabled =
        new(StatusCodes.Status400BadRequest, "identity is disabled") { Id = "identity_disabled", Reason = "This account was disabled." };

    /// <summary>A generic error for a bare status code (unknown route, wrong method, body too large …).</summary>
    public static OryError ForStatus(int code) => code switch
    {
        StatusCodes.Status404NotFound => NotFound,
        StatusCodes.Status400BadRequest => BadRequest("The request could not be read."),
        _ => new OryError(code, ReasonPhrases.GetReasonPhrase(code) is { Length: > 0 } phrase ? phrase : "Error"),
    };

    public async Task WriteAsync(HttpContext context)
    {
        var response = context.Response;
        response.StatusCode = Code;
        response.Headers.ContentType = "application/json";
        response.Headers["Ory-Error-Id"] = Id ?? "";
        if (HttpMethods.IsHead(context.Request.Method))
            return;
        await using var w = new Utf8JsonWriter(response.BodyWriter);
        w.WriteStartObject();
        w.WriteStartObject("error");
        if (Id is not null) w.WriteString("id", Id);
        w.WriteNumber("code", Code);
        w.WriteString("status", ReasonPhrases.GetReasonPhrase(Code));
        if (RequestId(context) is { } request) w.WriteString("request", request);
        if (Reason is not null) w.WriteString("reason", Reason);
        if (RedirectBrowserTo is not null || Details is not null)
        {
            w.WriteStartObject("details");
            if (RedirectBrowserTo is not null)
                w.WriteString("redirect_browser_to", RedirectBrowserTo);
            if (Details is not null)
                foreach (var (name, value) in Details)
                    w.WriteString(name, value);
            w.WriteEndObject();
        }
        w.WriteString("message", Message);
        w.WriteEndObject();
        if (RedirectBrowserTo is not null)
            w.WriteString("redirect_browser_to", RedirectBrowserTo);
        WriteBeside?.Invoke(w);
        w.WriteEndObject();
    }

    /// <summary>Kratos echoes <c>X-Request-ID</c> as <c>request</c>; we keep it short.</summary>
    private static string? RequestId(HttpContext context)
    {
        var value = context.Request.Headers["X-Request-ID"];
        if (value.Count == 0 || string.IsNullOrEmpty(value[0]))
            return null;
        var id = value[0]!;
        return id.Length <= 128 ? id : id[..128];
    }
}

/// <summary>An <see cref="OryError"/> as a minimal-API result.</summary>
public sealed class OryErrorResult(OryError error) : IResult, IStatusCodeHttpResult
{
    public OryError Error => error;

    public int? StatusCode => error.Code;

    public Task ExecuteAsync(HttpContext httpContext) => error.WriteAsync(httpContext);

    public static implicit operator OryErrorResult(OryError error) => new(error);
}
