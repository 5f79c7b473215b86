using System.Globalization;
using OrleansSessions.Api.Errors;
using OrleansSessions.Json;
using OrleansSessions.Login;

namespace OrleansSessions.Api.Login;

/// <summary>Kratos's UI texts for login (<c>text/message_login.go</c>, <c>message_validation.go</c>): stable ids UIs translate.</summary>
public static class LoginTexts
{
    public static readonly LoginFlowMessage ReAuthenticate = Info(1010003, "Please confirm this action by verifying that it is you.");
    public static readonly LoginFlowMessage SecondFactor = Info(1010004, "Please complete the second authentication challenge.");

    public static readonly LoginFlowMessage InvalidCredentials = Error(4000006,
        "The provided credentials are invalid, check for spelling mistakes in your password or username, email address, or phone number.");

    public static readonly LoginFlowMessage NoStrategy = Error(4010002,
        "Could not find a strategy to log you in with. Did you fill out the form correctly?");

    public static readonly LoginFlowMessage InvalidTotp = Error(4000008, "The provided authentication code is invalid, please try again.") with { Node = "totp_code" };

    public static readonly LoginFlowMessage NoTotpDevice = Error(4000011, "You have no TOTP device set up.");

    /// <summary>A required field left out or empty (JSON Schema's "required"), shown on that field.</summary>
    public static LoginFlowMessage Missing(string property) =>
        Error(4000002, $"Property {property} is missing.") with { Node = property, Context = $$"""{"property":"{{property}}"}""" };

    /// <summary>On the flow that replaces an expired one.</summary>
    public static LoginFlowMessage Expired(TimeSpan ago, DateTimeOffset expiredAt) =>
        Error(4010001, string.Create(CultureInfo.InvariantCulture, $"The login flow expired {ago.TotalMinutes:F2} minutes ago, please try again.")) with
        {
            Context = $$"""{"expired_at":"{{Rfc3339.Write(expiredAt)}}"}""",
        };

    // Labels of the nodes (meta.label).
    public static readonly LoginFlowMessage LabelId = Info(1070004, "ID");
    public static readonly LoginFlowMessage LabelPassword = Info(1070001, "Password");
    public static readonly LoginFlowMessage LabelSignIn = Info(1010001, "Sign in");
    public static readonly LoginFlowMessage LabelSignInWithPassword = Info(1010022, "Sign in with password");
    public static readonly LoginFlowMessage LabelTotpCode = Info(1010006, "Authentication code");
    public static readonly LoginFlowMessage LabelUseAuthenticator = Info(1010009, "Use Authenticator");

    private static LoginFlowMessage Info(long id, string text) => new() { Id = id, Text = text, Type = "info" };

    private static LoginFlowMessage Error(long id, string text) => new() { Id = id, Text = text, Type = "error" };
}

/// <summary>The errors of the login and logout endpoints, with Kratos's ids, reasons and messages.</summary>
public static class LoginErrors
{
    public static readonly OryError AlreadyLoggedIn = new(StatusCodes.Status400BadRequest, "you are already logged in")
    {
        Id = "session_already_available",
        Reason = "A valid session was detected and thus login is not possible. Did you forget to set `?refresh=true`?",
    };

    public static readonly OryError SessionRequiredForHigherAal = new(StatusCodes.Status401Unauthorized, "aal2 and aal3 can only be requested if a session exists already")
    {
        Id = "session_aal1_required",
        Reason = "You can not requested a higher AAL (AAL2/AAL3) without an active session.",
    };

    /// <summary>Endpoints that need a session (logout) and found none.</summary>
    public static readonly OryError SessionInactive = new(StatusCodes.Status401Unauthorized, "request does not have a valid authentication session")
    {
        Id = "session_inactive",
        Reason = "No active session was found in this request.",
    };

    public static readonly OryError FlowNotFound = new(StatusCodes.Status404NotFound, "Unable to locate the resource");

    public static OryError InvalidAal(string aal) =>
        OryError.BadRequest($"Unable to parse AuthenticationMethod Assurance Level (AAL): expected one of [aal1, aal2] but got {aal}");

    public static OryError ReturnToNotAllowed(string returnTo) =>
        OryError.BadRequest($"Requested return_to URL \"{returnTo}\" is not allowed.") with { Id = "self_service_flow_return_to_forbidden" };

    // flow.EnsureCSRF for API flows: a browser's request (Origin, cookies) must use a browser flow.
    public static readonly OryError OriginNeedsBrowserFlow = OryError.BadRequest(
        "The HTTP Request Header included the \"Origin\" key, indicating that this request was made as part of an AJAX request in a Browser. The flow however was initiated as an API request. To prevent potential misuse and mitigate several attack vectors including CSRF, the request has been blocked. Please consult the documentation.");

    public static readonly OryError CookieNeedsBrowserFlow = OryError.BadRequest(
        "The HTTP Request Header included the \"Cookie\" key, indicating that this request was made by a Browser. The flow however was initiated as an API request. To prevent potential misuse and mitigate several attack vectors including CSRF, the request has been blocked. Please consult the documentation.");

    /// <summary>Kratos's <c>security_csrf_violation</c>, with the same hint and reject reason texts.</summary>
    public static OryError CsrfViolation(bool ajax, CsrfRejection rejection)
    {
        const string ajaxHint = "We detected an AJAX call, please ensure that CORS is enabled and configured correctly, and that your AJAX code sends cookies and has credentials enabled. For further debugging, check your browser's network tab to see what cookies are included or excluded.";
        const string serverHint = "We detected a regular browser or server-side call. To debug browser calls check your browser's network tab to see what cookies are included or excluded. If you are calling from a server ensure that the appropriate cookies are being forwarded and that the SDK method is called correctly.";
        var details = new Dictionary<string, string> { ["docs"] = "https://www.ory.sh/docs/kratos/debug/csrf" };
        switch (rejection)
        {
            case CsrfRejection.NoCookies:
                details["hint"] = ajax ? ajaxHint : serverHint;
                details["reject_reason"] = "The HTTP cookie header is empty or not set.";
                break;
            case CsrfRejection.CookieMissing:
                details["hint"] = ajax ? ajaxHint : serverHint;
                details["reject_reason"] = "The HTTP cookie header was set but did not include the anti-CSRF cookie.";
                break;
            case CsrfRejection.TokenNotSent:
                details["hint"] = "The anti-CSRF cookie was found but the CSRF token was not included in the HTTP request body (csrf_token) nor in the HTTP header (X-CSRF-Token).";
                break;
            default:
                details["hint"] = ajax ? ajaxHint : serverHint;
                details["reject_reason"] = "The HTTP cookie header was set and a CSRF token was sent but they do not match. We recommend deleting all cookies for this domain and retrying the flow.";
                break;
        }
        const string text = "The request was rejected to protect you from Cross-Site-Request-Forgery (CSRF) which could cause account takeover, leaking personal information, and other serious security issues.";
        return new OryError(StatusCodes.Status403Forbidden, text)
        {
            Id = "security_csrf_violation",
            Reason = "Please retry the flow and optionally clear your cookies. " + text,
            Details = details,
        };
    }

    /// <summary>A browser must go elsewhere to finish (an AJAX client cannot follow a redirect it did not ask for).</summary>
    public static OryError BrowserLocationChangeRequired(string redirectTo) =>
        new(StatusCodes.Status422UnprocessableEntity, "browser location change required")
        {
            Id = "browser_location_change_required",
            Reason = $"In order to complete this flow please redirect the browser to: {redirectTo}",
            RedirectBrowserTo = redirectTo,
        };

    public static OryError TooManyRequests(TimeSpan retryAfter) =>
        new(StatusCodes.Status429TooManyRequests, "Too many requests, please slow down")
        {
            Reason = string.Create(CultureInfo.InvariantCulture,
                $"Too many login attempts. Try again in {Math.Max(1, (int)Math.Ceiling(retryAfter.TotalSeconds))} seconds."),
        };
}

/// <summary>Why a browser submission failed its CSRF check (Kratos tells the client which).</summary>
public enum CsrfRejection
{
    NoCookies,
    CookieMissing,
    TokenNotSent,
    Mismatch,
}
