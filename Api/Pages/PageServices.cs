using Microsoft.AspNetCore.Antiforgery;

namespace OrleansSessions.Api.Pages;

/// <summary>What the pages need: Razor components rendered on the server, ASP.NET Core's antiforgery, the parsers.</summary>
public static class PageServices
{
    /// <summary>The anti-forgery cookie of our own forms (the login form has Kratos's <c>csrf_token</c> instead).</summary>
    public const string AntiforgeryCookie = "orleans_sessions_antiforgery";

    public static IServiceCollection AddPages(this IServiceCollection services)
    {
        services.AddRazorComponents();
        services.AddAntiforgery(options =>
        {
            options.Cookie.Name = AntiforgeryCookie;
            options.Cookie.SameSite = SameSiteMode.Strict;
            options.Cookie.HttpOnly = true;
            options.Cookie.SecurePolicy = CookieSecurePolicy.SameAsRequest;
            options.FormFieldName = "anti_forgery_token";
            // PagePolicy sends X-Frame-Options: DENY (antiforgery would send SAMEORIGIN).
            options.SuppressXFrameOptionsHeader = true;
        });
        services.AddSingleton<PagePolicy>();
        services.AddSingleton<UserAgents>();
        services.AddSingleton<AdminApiClient>();
        return services;
    }
}
