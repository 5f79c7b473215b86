using OrleansSessions.Json;

namespace OrleansSessions.Api.Login;

/// <summary>
/// Where browsers may be sent after a flow (Kratos's <c>x.SecureRedirectTo</c>): a <c>return_to</c> must
/// match an entry of <c>selfservice.allowed_return_urls</c> (or the public URL of this service) by scheme,
/// host with port, and path prefix; a relative one is resolved against the default return URL.
/// </summary>
public sealed class ReturnUrls(IOptions<SelfServiceSettings> settings, IOptions<JsonRenderingOptions> rendering)
{
    private readonly SelfServiceSettings _settings = settings.Value;
    private readonly Uri[] _allowed =
        [.. settings.Value.AllowedReturnUrls.Select(u => new Uri(u)), new Uri(rendering.Value.PublicBaseUrl)];

    /// <summary>
    /// Checks a requested <c>return_to</c>: true with null when none was given, true with the absolute URL when
    /// it is allowed, false when it is not.
    /// </summary>
    public bool TryResolve(string? requested, out string? returnTo)
    {
        returnTo = null;
        if (string.IsNullOrEmpty(requested))
            return true;
        if (requested.Length > 2048 || !Uri.TryCreate(new Uri(_settings.DefaultBrowserReturnUrl), requested, out var uri)
            || uri.Scheme is not ("http" or "https") || !_allowed.Any(a => Matches(a, uri)))
            return false;
        returnTo = uri.AbsoluteUri;
        return true;
    }

    public string AfterLogin(string? returnTo) =>
        returnTo ?? _settings.Flows.Login.After.DefaultBrowserReturnUrl ?? _settings.DefaultBrowserReturnUrl;

    public string AfterLogout(string? returnTo) =>
        returnTo ?? _settings.Flows.Logout.After.DefaultBrowserReturnUrl ?? _settings.DefaultBrowserReturnUrl;

    private static bool Matches(Uri allowed, Uri candidate) =>
        string.Equals(allowed.Scheme, candidate.Scheme, StringComparison.OrdinalIgnoreCase)
        && string.Equals(allowed.Authority, candidate.Authority, StringComparison.OrdinalIgnoreCase)
        && candidate.AbsolutePath.StartsWith(allowed.AbsolutePath, StringComparison.Ordinal);
}
