using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Routing.Matching;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using OrleansSessions.Api.Admin;
using OrleansSessions.Api.Configuration;
using OrleansSessions.Api.Credentials;
using OrleansSessions.Api.Errors;
using OrleansSessions.Api.Identities;
using OrleansSessions.Api.Login;
using OrleansSessions.Api.Logout;
using OrleansSessions.Api.Pages;
using OrleansSessions.Api.Sessions;
using OrleansSessions.Api.Surfaces;
using OrleansSessions.Api.Tokenizer;
using OrleansSessions.Json;
using OrleansSessions.Storage;

namespace OrleansSessions.Api;

/// <summary>The HTTP surfaces of the service: what they need, and what they map.</summary>
public static class SessionApi
{
    /// <summary>Registers options and the services the endpoints use.</summary>
    public static IServiceCollection AddSessionApi(this IServiceCollection services, IConfiguration configuration, bool dev)
    {
        services.AddOptions<ServeOptions>().Bind(configuration.GetSection(ServeOptions.Section));
        services.AddOptions<SessionSettings>().Bind(configuration.GetSection(SessionSettings.Section))
            .PostConfigure(o => o.Resolve()).ValidateOnStart();
        services.AddOptions<JsonRenderingOptions>().Configure<IOptions<ServeOptions>>((o, serve) =>
            o.PublicBaseUrl = serve.Value.Public.EffectiveBaseUrl);
        services.AddSingleton(new DevMode(dev));
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton(Regions.RegionMap.None);
        services.TryAddSingleton(ListenerCertificates.None);
        services.AddSingleton<SessionCookie>();
        services.AddSingleton<OpenedCookies>();
        services.AddSingleton<SessionCredentials>();
        services.AddOptions<TrustedProxySettings>().Bind(configuration.GetSection(TrustedProxySettings.Section));
        services.AddOptions<DeviceSettings>().Bind(configuration.GetSection(DeviceSettings.Section));
        services.AddSingleton<Devices>();
        services.AddOptions<AdminKeySettings>().Bind(configuration.GetSection(AdminKeySettings.Section));
        services.AddSingleton<AdminKeys>();
        services.AddOptions<Argon2Settings>().Bind(configuration.GetSection(Argon2Settings.Section));
        services.AddSingleton<PasswordHasher>();
        services.AddSingleton<TotpCodes>();
        services.AddIdentities(configuration);
        services.AddLoginApi(configuration);
        services.AddSingleton<OwnSessions>();
        services.AddSingleton<TrustedOrigins>();
        services.AddOptions<CorsSettings>().Bind(configuration.GetSection(CorsSettings.Section));
        var cors = configuration.GetSection(CorsSettings.Section).Get<CorsSettings>() ?? new CorsSettings();
        if (cors.Enabled)
            services.AddCors(options => options.AddPolicy(CorsSettings.Policy, cors.Build()));
        services.AddSingleton<BrowserLogout>();
        services.AddPages();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<MatcherPolicy, SurfaceMatcherPolicy>());
        services.AddProblemDetails();
        return services;
    }

    /// <summary>The middleware and routes of both listeners.</summary>
    public static WebApplication MapSessionApi(this WebApplication app)
    {
        UseErrorEnvelope(app);
        app.Use(AddMissingHost);
        app.Use(AddAdminPrefix);
        // Resolved now, so that a node without admin keys outside dev mode (or with a malformed trusted proxy) does not start.
        app.Use(app.Services.GetRequiredService<AdminKeys>().GuardAsync);
        app.Use(RejectUndecodableFormCharset);
        app.Services.GetRequiredService<Devices>();
        app.UseRouting();
        // CORS on the public listener only, and only when configured (serve:public:cors:enabled).
        if (app.Services.GetRequiredService<IOptions<CorsSettings>>().Value.Enabled)
            app.UseWhen(context => ApiSurfaces.Of(context) == ApiSurface.Public, branch => branch.UseCors(CorsSettings.Policy));
        MapHealth(app);

        app.MapWhoamiApi().OnSurface(ApiSurface.Public);
        app.MapSelfServiceSessionsApi().OnSurface(ApiSurface.Public);
        app.MapIdentitySchemasApi().OnSurface(ApiSurface.Public);
        app.MapLoginApi().OnSurface(ApiSurface.Public);
        app.MapLogoutApi().OnSurface(ApiSurface.Public);
        app.MapJwksApi().OnSurface(ApiSurface.Public);
        app.MapUserPages().OnSurface(ApiSurface.Public);

        var admin = app.MapGroup("/admin").OnSurface(ApiSurface.Admin);
        admin.MapIdentitiesAdminApi();
        admin.MapSessionIssuanceApi();
        admin.MapAdminSessionsApi();
        admin.MapKeyRotationApi();
        admin.MapAdminPages();
        return app;
    }

    /// <summary>A silo of the split deploy mode: no API, only the health routes (and metrics) on its admin listener.</summary>
    public static WebApplication MapHealthOnly(this WebApplication app)
    {
        UseErrorEnvelope(app);
        app.Use(AddAdminPrefix);
        // Metrics (when enabled) share the listener: they need the admin key as on any node.
        app.Use(app.Services.GetRequiredService<AdminKeys>().GuardAsync);
        app.UseRouting();
        MapHealth(app);
        return app;
    }

    /// <summary>Every error, ours or the framework's, leaves in Kratos's envelope.</summary>
    private static void UseErrorEnvelope(WebApplication app)
    {
        app.UseExceptionHandler(new ExceptionHandlerOptions { ExceptionHandler = WriteUnhandledAsync, SuppressDiagnosticsCallback = _ => true });
        app.UseStatusCodePages(context => OryError.ForStatus(context.HttpContext.Response.StatusCode).WriteAsync(context.HttpContext));
    }

    /// <summary>Kratos's health routes, on both listeners, without an admin key.</summary>
    private static void MapHealth(WebApplication app)
    {
        app.MapGet("/health/alive", () => TypedResults.Ok(new { status = "ok" }));
        app.MapGet("/health/ready", ReadyAsync);
    }

    /// <summary>
    /// Ready when a grain call succeeds (the node has joined its cluster) and the store answers, within
    /// two seconds; 503 in the envelope otherwise.
    /// </summary>
    private static async Task<IResult> ReadyAsync(IGrainFactory grains)
    {
        string? problem;
        try
        {
            problem = await grains.GetGrain<OrleansSessions.Health.IReadinessGrain>(0).CheckAsync().WaitAsync(TimeSpan.FromSeconds(2));
        }
        catch (Exception e) when (e is TimeoutException or OrleansException or InvalidOperationException)
        {
            problem = "The node has not joined its cluster.";
        }
        return problem is null
            ? TypedResults.Ok(new { status = "ok" })
            : new OryErrorResult(new OryError(StatusCodes.Status503ServiceUnavailable, "The service is not ready") { Reason = problem });
    }

    /// <summary>
    /// An HTTP/1.0 request may come without Host (Kestrel accepts it, as Go's server does): its target URI then has
    /// the authority of the listener it reached (RFC 9112, section 3.3), so that nothing downstream (the pages' base
    /// URI, say) is handed an empty host.
    /// </summary>
    private static Task AddMissingHost(HttpContext context, RequestDelegate next)
    {
        if (!context.Request.Host.HasValue && context.Connection.LocalIpAddress is { } address)
        {
            if (address.IsIPv4MappedToIPv6)
                address = address.MapToIPv4();
            var host = address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? $"[{address}]" : address.ToString();
            context.Request.Host = new HostString(host, context.Connection.LocalPort);
        }
        return next(context);
    }

    private static readonly OryError UndecodableCharset = new(StatusCodes.Status415UnsupportedMediaType, "Unsupported Media Type")
    {
        Reason = "The form's charset cannot be decoded; send it as UTF-8.",
    };

    /// <summary>
    /// A form in a charset .NET refuses to decode (UTF-7, disabled since .NET 5: reading the form throws
    /// NotSupportedException) is a 415 before anything reads it.
    /// </summary>
    private static Task RejectUndecodableFormCharset(HttpContext context, RequestDelegate next)
    {
        if (context.Request.HasFormContentType
            && Microsoft.Net.Http.Headers.MediaTypeHeaderValue.TryParse(context.Request.ContentType, out var type))
        {
            try
            {
                _ = type.Encoding;
            }
            catch (NotSupportedException)
            {
                return UndecodableCharset.WriteAsync(context);
            }
        }
        return next(context);
    }

    /// <summary>As Kratos, the admin listener also answers its routes without the <c>/admin</c> prefix.</summary>
    private static Task AddAdminPrefix(HttpContext context, RequestDelegate next)
    {
        var path = context.Request.Path;
        var surface = ApiSurfaces.Of(context);
        if (surface == ApiSurface.Admin && !path.StartsWithSegments("/admin") && !path.StartsWithSegments("/health"))
            context.Request.Path = new PathString("/admin").Add(path);
        // Nothing exists under /admin on the public listener. Routing alone would answer 405 to an admin
        // path with another method (its 405 endpoint carries no surface), telling which admin routes exist.
        else if (surface == ApiSurface.Public && path.StartsWithSegments("/admin"))
            return OryError.NotFound.WriteAsync(context);
        return next(context);
    }

    /// <summary>Seconds a client is asked to wait before it retries a request answered 503.</summary>
    private const string RetryAfterSeconds = "5";

    /// <summary>
    /// Client mistakes Kestrel or the framework caught become their 4xx; an unreachable store or cluster node a 503
    /// that asks to retry (the cause is logged by the silo that saw it); anything else a 500 without details.
    /// </summary>
    private static Task WriteUnhandledAsync(HttpContext context)
    {
        var exception = context.Features.Get<IExceptionHandlerFeature>()?.Error;
        if (exception is BadHttpRequestException bad)
            return OryError.ForStatus(bad.StatusCode).WriteAsync(context);
        // The anti-forgery check of a page's form could not read the form (a form over its limits, a broken body).
        if (exception is Microsoft.AspNetCore.Antiforgery.AntiforgeryValidationException)
            return OryError.BadRequest("The form could not be read.").WriteAsync(context);
        var log = context.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger("OrleansSessions.Api");
        var route = context.GetEndpoint()?.DisplayName ?? "(no route)";
        // SiloUnavailableException is an OrleansMessageRejectionException: the call's target silo died or left.
        if (exception is StoreUnavailableException or OrleansMessageRejectionException)
        {
            log.LogWarning("{Method} {Route} answered 503: {Cause}", context.Request.Method, route, exception.GetType().Name);
            context.Response.Headers.RetryAfter = RetryAfterSeconds;
            return (exception is StoreUnavailableException ? OryError.StoreUnavailable : OryError.NodeUnavailable).WriteAsync(context);
        }
        log.LogError(exception, "Unhandled error serving {Method} {Route}", context.Request.Method, route);
        return OryError.Internal.WriteAsync(context);
    }
}
