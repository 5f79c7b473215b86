using OrleansSessions.Api.Errors;
using OrleansSessions.Api.Login;
using OrleansSessions.Json;

namespace OrleansSessions.Api.Sessions;

/// <summary>
/// The origins the service trusts as its own web: its public URL, and the pages flows send browsers to (the default
/// return URLs, the login UI, every allowed return URL). The pages' <c>form-action</c> lists them, and a
/// cookie-authenticated change coming from any other site is refused.
/// </summary>
public sealed class TrustedOrigins
{
    private readonly HashSet<string> _origins;

    public TrustedOrigins(IOptions<SelfServiceSettings> selfService, IOptions<JsonRenderingOptions> rendering, IOptions<Configuration.CorsSettings> cors)
    {
        var settings = selfService.Value;
        string?[] urls =
        [
            rendering.Value.PublicBaseUrl, settings.DefaultBrowserReturnUrl, settings.Flows.Login.UiUrl,
            settings.Flows.Login.After.DefaultBrowserReturnUrl, settings.Flows.Logout.After.DefaultBrowserReturnUrl,
            .. settings.AllowedReturnUrls, .. cors.Value.ExactOrigins,
        ];
        _origins = new HashSet<string>(
            urls.Select(url => url is not null && Uri.TryCreate(url, UriKind.Absolute, out var uri) ? uri.GetLeftPart(UriPartial.Authority) : null).OfType<string>(),
            StringComparer.OrdinalIgnoreCase);
        All = [.. _origins];
    }

    /// <summary>Every trusted origin, as <c>scheme://host[:port]</c>.</summary>
    public IReadOnlyList<string> All { get; }

    /// <summary>403 in Kratos's envelope, for a cookie-authenticated change another site asked for.</summary>
    public static readonly OryError CrossSite = new(StatusCodes.Status403Forbidden, "the request was rejected to protect you from Cross-Site-Request-Forgery")
    {
        Id = "security_csrf_violation",
        Reason = "A request carrying the session cookie came from another site, so it was not acted on.",
    };

    /// <summary>
    /// Whether a browser sent this request on behalf of another site: an <c>Origin</c> that is not one of ours, or,
    /// without one, <c>Sec-Fetch-Site: cross-site</c>. A request without either (a server, a native client) is not.
    /// </summary>
    public bool IsCrossSite(HttpRequest request)
    {
        var origin = request.Headers.Origin.ToString();
        if (origin.Length > 0)
            return !_origins.Contains(origin);
        return string.Equals(request.Headers["Sec-Fetch-Site"].ToString(), "cross-site", StringComparison.OrdinalIgnoreCase);
    }
}
