
namespace OrleansSessions.Api.Pages;

/// <summary>
/// The response headers of every page, and its stylesheet. No script at all and no inline style: the
/// <c>Content-Security-Policy</c> allows the one stylesheet of this origin, forms that post here or to a
/// page a flow may send the browser on to (a redirect after a form post is checked against <c>form-action</c>),
/// and no framing. Nothing a page shows is cached or sent on as a referrer.
/// </summary>
public sealed class PagePolicy
{
    private readonly string _contentSecurityPolicy;

    public PagePolicy(Sessions.TrustedOrigins origins) =>
        _contentSecurityPolicy = "default-src 'none'; style-src 'self'; img-src 'self'; base-uri 'none'; frame-ancestors 'none'; "
            + "form-action 'self' " + string.Join(' ', origins.All);

    public string ContentSecurityPolicy => _contentSecurityPolicy;

    public void Apply(HttpResponse response)
    {
        var headers = response.Headers;
        headers.ContentSecurityPolicy = _contentSecurityPolicy;
        headers.XFrameOptions = "DENY";
        headers.XContentTypeOptions = "nosniff";
        headers["Referrer-Policy"] = "no-referrer";
        headers["Cross-Origin-Opener-Policy"] = "same-origin";
        headers["Permissions-Policy"] = "camera=(), microphone=(), geolocation=(), interest-cohort=()";
        // As antiforgery wants it on every answer that carries a token.
        headers.CacheControl = "no-cache, no-store";
        headers.Pragma = "no-cache";
    }

    /// <summary>Endpoint filter of a group of pages: their headers on every answer.</summary>
    public static RouteGroupBuilder On(RouteGroupBuilder pages)
    {
        pages.AddEndpointFilter(async (context, next) =>
        {
            context.HttpContext.RequestServices.GetRequiredService<PagePolicy>().Apply(context.HttpContext.Response);
            return await next(context);
        });
        return pages;
    }

    /// <summary>A page: a Razor component rendered on the server with these parameters, under this status.</summary>
    internal static Microsoft.AspNetCore.Http.HttpResults.RazorComponentResult<T> Render<T>(object parameters, int status = StatusCodes.Status200OK)
        where T : Microsoft.AspNetCore.Components.IComponent =>
        new(parameters) { StatusCode = status };

    private static readonly byte[] Stylesheet = ReadStylesheet();

    /// <summary><c>site.css</c>, cacheable for a day (it changes only with the build).</summary>
    public static IResult StylesheetResult(HttpContext context)
    {
        context.Response.Headers.CacheControl = "public, max-age=86400";
        context.Response.Headers.XContentTypeOptions = "nosniff";
        return TypedResults.Bytes(Stylesheet, "text/css; charset=utf-8");
    }

    private static byte[] ReadStylesheet()
    {
        using var stream = typeof(PagePolicy).Assembly.GetManifestResourceStream("OrleansSessions.Api.Pages.site.css")
            ?? throw new InvalidOperationException("The pages' stylesheet is not embedded in the assembly.");
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        return copy.ToArray();
    }
}
