using Microsoft.Net.Http.Headers;

namespace OrleansSessions.Api.Login;

/// <summary>
/// Kratos's content negotiation (gddo's <c>httputil.NegotiateContentType</c>): which of the offers the
/// <c>Accept</c> header prefers, by quality, then exact over <c>type/*</c> over <c>*/*</c>, then offer order.
/// </summary>
public static class ContentNegotiation
{
    private static readonly string[] JsonFirst = ["application/json", "text/html", "text/*", "*/*"];
    private static readonly string[] HtmlFirst = ["text/html", "application/json"];
    private static readonly string[] JsonOnly = ["application/json"];

    /// <summary>Kratos's <c>x.IsJSONRequest</c>: an AJAX or API client (answers JSON instead of redirecting).</summary>
    public static bool IsJsonRequest(HttpRequest request) => Negotiate(request, JsonFirst, "text/*") == "application/json";

    /// <summary>Kratos's <c>x.AcceptToRedirectOrJSON</c>: JSON only when asked for more than HTML.</summary>
    public static bool PrefersJsonToRedirect(HttpRequest request) => Negotiate(request, HtmlFirst, "text/html") == "application/json";

    /// <summary>How Kratos tells an AJAX call from a browser navigation when explaining a CSRF failure.</summary>
    public static bool LooksLikeAjax(HttpRequest request) =>
        request.Headers["Sec-Fetch-Mode"].ToString() is "cors" or "no-cors" || Negotiate(request, JsonOnly, "text/html") == "application/json";

    public static string Negotiate(HttpRequest request, IReadOnlyList<string> offers, string defaultOffer)
    {
        if (!MediaTypeHeaderValue.TryParseList(request.Headers.Accept, out var specs))
            return defaultOffer;
        var best = defaultOffer;
        var bestQ = -1.0;
        var bestWild = 3;
        foreach (var offer in offers)
        {
            foreach (var spec in specs)
            {
                var q = spec.Quality ?? 1.0;
                var value = spec.MediaType.Value?.ToLowerInvariant() ?? "";
                if (q == 0.0 || q < bestQ)
                    continue;
                if (value == "*/*")
                {
                    if (q > bestQ || bestWild > 2)
                        (best, bestQ, bestWild) = (offer, q, 2);
                }
                else if (value.EndsWith("/*", StringComparison.Ordinal))
                {
                    if (offer.StartsWith(value[..^1], StringComparison.Ordinal) && (q > bestQ || bestWild > 1))
                        (best, bestQ, bestWild) = (offer, q, 1);
                }
                else if (value == offer && (q > bestQ || bestWild > 0))
                {
                    (best, bestQ, bestWild) = (offer, q, 0);
                }
            }
        }
        return best;
    }
}
