using Microsoft.AspNetCore.Cors.Infrastructure;
using Microsoft.Extensions.Configuration;

namespace OrleansSessions.Api.Configuration;

/// <summary>
/// <c>serve:public:cors</c>, Kratos's <c>serve.public.cors.*</c>: cross-origin calls of the public API from browser
/// apps on other origins. Off by default. ASP.NET Core's CORS middleware answers preflights and adds the headers.
/// </summary>
public sealed class CorsSettings
{
    public const string Section = "serve:public:cors";
    public const string Policy = "public-cors";

    public bool Enabled { get; set; }

    /// <summary>Exact origins, <c>https://*.example.com</c> for its subdomains, or <c>*</c> for any.</summary>
    [ConfigurationKeyName("allowed_origins")]
    public List<string> AllowedOrigins { get; set; } = [];

    [ConfigurationKeyName("allowed_methods")]
    public List<string> AllowedMethods { get; set; } = ["POST", "GET", "PUT", "PATCH", "DELETE"];

    [ConfigurationKeyName("allowed_headers")]
    public List<string> AllowedHeaders { get; set; } = ["Authorization", "Content-Type", "X-Session-Token", "X-CSRF-Token", "Cookie"];

    [ConfigurationKeyName("exposed_headers")]
    public List<string> ExposedHeaders { get; set; } = ["Content-Type", "Set-Cookie"];

    [ConfigurationKeyName("allow_credentials")]
    public bool AllowCredentials { get; set; } = true;

    /// <summary>Seconds a browser may cache a preflight's answer (0: the browser's default).</summary>
    [ConfigurationKeyName("max_age")]
    public int MaxAge { get; set; }

    public CorsPolicy Build()
    {
        var policy = new CorsPolicyBuilder();
        if (AllowedOrigins.Contains("*"))
        {
            // With credentials a browser needs the origin itself echoed, never "*".
            if (AllowCredentials) policy.SetIsOriginAllowed(_ => true);
            else policy.AllowAnyOrigin();
        }
        else
        {
            policy.WithOrigins([.. AllowedOrigins]).SetIsOriginAllowedToAllowWildcardSubdomains();
        }
        policy.WithMethods([.. AllowedMethods]).WithHeaders([.. AllowedHeaders]).WithExposedHeaders([.. ExposedHeaders]);
        if (AllowCredentials)
            policy.AllowCredentials();
        if (MaxAge > 0)
            policy.SetPreflightMaxAge(TimeSpan.FromSeconds(MaxAge));
        return policy.Build();
    }

    /// <summary>The exact origins (no wildcard), which the service also trusts for cookie-authenticated changes.</summary>
    public IEnumerable<string> ExactOrigins => Enabled ? AllowedOrigins.Where(o => !o.Contains('*')) : [];
}
