using Microsoft.Extensions.Configuration;
using OrleansSessions.Api.Configuration;

namespace OrleansSessions.Api.Login;

/// <summary>Configuration section <c>selfservice</c> (Kratos's <c>selfservice.*</c> keys, as far as login and logout go).</summary>
public sealed class SelfServiceSettings
{
    public const string Section = "selfservice";

    /// <summary>
    /// Where browsers go after login or logout when no <c>return_to</c> was given. Default: the service's own
    /// sessions page (<c>&lt;public base URL&gt;ui/sessions</c>).
    /// </summary>
    [ConfigurationKeyName("default_browser_return_url")]
    public string DefaultBrowserReturnUrl { get; set; } = "";

    /// <summary>
    /// URLs a <c>return_to</c> may point at: same scheme and host (with port), and a path that starts with
    /// the allowed one. The public URL of this service is always allowed.
    /// </summary>
    [ConfigurationKeyName("allowed_return_urls")]
    public List<string> AllowedReturnUrls { get; set; } = [];

    public SelfServiceFlows Flows { get; set; } = new();

    /// <summary>Fills the defaults that are pages of this service, then checks every URL and duration.</summary>
    internal void Resolve(string publicBaseUrl)
    {
        if (string.IsNullOrEmpty(DefaultBrowserReturnUrl))
            DefaultBrowserReturnUrl = publicBaseUrl + "ui/sessions";
        if (string.IsNullOrEmpty(Flows.Login.UiUrl))
            Flows.Login.UiUrl = publicBaseUrl + "ui/login";
        RequireAbsolute(DefaultBrowserReturnUrl, "selfservice:default_browser_return_url");
        foreach (var url in AllowedReturnUrls)
            RequireAbsolute(url, "selfservice:allowed_return_urls");
        RequireAbsolute(Flows.Login.UiUrl, "selfservice:flows:login:ui_url");
        if (Flows.Login.After.DefaultBrowserReturnUrl is { } afterLogin)
            RequireAbsolute(afterLogin, "selfservice:flows:login:after:default_browser_return_url");
        if (Flows.Logout.After.DefaultBrowserReturnUrl is { } afterLogout)
            RequireAbsolute(afterLogout, "selfservice:flows:logout:after:default_browser_return_url");
        Flows.Login.ParsedLifespan = Positive(Flows.Login.Lifespan, "selfservice:flows:login:lifespan");
        Flows.Settings.ParsedPrivilegedSessionMaxAge = Positive(Flows.Settings.PrivilegedSessionMaxAge, "selfservice:flows:settings:privileged_session_max_age");
        Flows.Login.RateLimit.PerIdentifier.Resolve("selfservice:flows:login:rate_limit:per_identifier");
        Flows.Login.RateLimit.PerAddress.Resolve("selfservice:flows:login:rate_limit:per_address");
    }

    internal static TimeSpan Positive(string text, string key)
    {
        var value = GoDuration.Parse(text, key);
        if (value <= TimeSpan.Zero)
            throw new OptionsValidationException(key, typeof(SelfServiceSettings), [$"{key} must be positive."]);
        return value;
    }

    private static void RequireAbsolute(string url, string key)
    {
        if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https"))
            throw new OptionsValidationException(key, typeof(SelfServiceSettings), [$"{key} must be an absolute http(s) URL: '{url}'."]);
    }
}

/// <summary><c>selfservice.flows.*</c>.</summary>
public sealed class SelfServiceFlows
{
    public LoginFlowSettings Login { get; set; } = new();

    public LogoutFlowSettings Logout { get; set; } = new();

    public SettingsFlowSettings Settings { get; set; } = new();
}

/// <summary><c>selfservice.flows.settings.*</c>: as far as the sessions page goes.</summary>
public sealed class SettingsFlowSettings
{
    /// <summary>
    /// How recently the user must have signed in to end sessions on the sessions page (Kratos's key for its settings
    /// flow; default 15m). Older, the page asks for the password again first.
    /// </summary>
    [ConfigurationKeyName("privileged_session_max_age")]
    public string PrivilegedSessionMaxAge { get; set; } = "15m";

    public TimeSpan ParsedPrivilegedSessionMaxAge { get; internal set; }
}

/// <summary><c>selfservice.flows.login.*</c>.</summary>
public sealed class LoginFlowSettings
{
    /// <summary>
    /// The login page of the UI; browsers are sent there with <c>?flow=&lt;id&gt;</c>. Default: the service's own
    /// sign-in page (<c>&lt;public base URL&gt;ui/login</c>).
    /// </summary>
    [ConfigurationKeyName("ui_url")]
    public string UiUrl { get; set; } = "";

    /// <summary>How long a flow can be submitted after it was created.</summary>
    public string Lifespan { get; set; } = "1h";

    public AfterSettings After { get; set; } = new();

    [ConfigurationKeyName("rate_limit")]
    public LoginRateLimitSettings RateLimit { get; set; } = new();

    public TimeSpan ParsedLifespan { get; internal set; }
}

/// <summary><c>selfservice.flows.logout.*</c>.</summary>
public sealed class LogoutFlowSettings
{
    public AfterSettings After { get; set; } = new();
}

/// <summary><c>…after.*</c>: where a browser goes once the flow is done.</summary>
public sealed class AfterSettings
{
    /// <summary>Overrides <c>selfservice.default_browser_return_url</c> for this flow.</summary>
    [ConfigurationKeyName("default_browser_return_url")]
    public string? DefaultBrowserReturnUrl { get; set; }
}

/// <summary>
/// Our addition: brute-force limits on failed login attempts (<c>selfservice.flows.login.rate_limit.*</c>), shared by
/// every node. Successful logins are never counted.
/// </summary>
public sealed class LoginRateLimitSettings
{
    /// <summary>Failed attempts naming one identifier (or, for a second factor, one identity), from anywhere.</summary>
    [ConfigurationKeyName("per_identifier")]
    public RateLimitWindow PerIdentifier { get; set; } = new() { Permits = 10, Window = "15m" };

    /// <summary>Failed attempts from one client address, whatever they name.</summary>
    [ConfigurationKeyName("per_address")]
    public RateLimitWindow PerAddress { get; set; } = new() { Permits = 100, Window = "1m" };
}

/// <summary>At most <see cref="Permits"/> failures at once, forgotten at <see cref="Permits"/> per <see cref="Window"/> (a leaky bucket).</summary>
public sealed class RateLimitWindow
{
    public int Permits { get; set; }

    public string Window { get; set; } = "1m";

    public TimeSpan ParsedWindow { get; private set; }

    internal void Resolve(string key)
    {
        ParsedWindow = SelfServiceSettings.Positive(Window, key + ":window");
        if (Permits < 1)
            throw new OptionsValidationException(key, typeof(RateLimitWindow), [$"{key}:permits must be at least 1."]);
    }
}
