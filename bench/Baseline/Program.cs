using System.Collections.Concurrent;
using System.Text;
using System.Text.Json.Serialization;
using Microsoft.Extensions.Primitives;

// The ceiling of the HTTP stack on this machine: /sessions/whoami answered from a dictionary with the bytes and
// headers the service wrote for the same credential (the load tool seeds them through POST /seed). No Orleans,
// no grain call, no credential decoding: what is left is Kestrel, routing and the write.
var builder = WebApplication.CreateSlimBuilder(args);
builder.Logging.SetMinimumLevel(LogLevel.Warning);
// As the service: no Server header, so both answers are byte for byte the same size.
builder.WebHost.ConfigureKestrel(kestrel => kestrel.AddServerHeader = false);
builder.Services.ConfigureHttpJsonOptions(options => options.SerializerOptions.TypeInfoResolverChain.Insert(0, BaselineJson.Default));
var cookieName = builder.Configuration["cookie_name"] ?? "ory_kratos_session";

var app = builder.Build();
var sessions = new WhoamiAnswers(cookieName);

app.MapPost("/seed", (SeedEntry[] entries) =>
{
    foreach (var entry in entries) sessions.Add(entry);
    return TypedResults.Ok(new SeedCount(sessions.Count));
});
app.Map("/sessions/whoami", sessions.WriteAsync);
app.Lifetime.ApplicationStarted.Register(() => Console.Out.WriteLine($"Baseline ready: {string.Join(", ", app.Urls)}"));
app.Run();

/// <summary>The seeded answers, by token and by cookie value, and the whoami handler that writes them.</summary>
internal sealed class WhoamiAnswers(string cookieName)
{
    private const string NoStore = "private, no-cache, no-store, must-revalidate";
    private static readonly byte[] Unauthorized = Encoding.UTF8.GetBytes(
        """{"error":{"code":401,"status":"Unauthorized","reason":"No valid session credentials found in the request.","message":"The request could not be authorized"}}""");

    private readonly ConcurrentDictionary<string, SeedEntry> _byToken = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, SeedEntry> _byCookie = new(StringComparer.Ordinal);
    private readonly string _cookiePrefix = cookieName + "=";

    public int Count => _byToken.Count + _byCookie.Count;

    public void Add(SeedEntry entry) => (entry.Cookie ? _byCookie : _byToken)[entry.Credential] = entry;

    public async Task WriteAsync(HttpContext context)
    {
        var response = context.Response;
        response.Headers.CacheControl = NoStore;
        if (Find(context.Request) is not { } entry)
        {
            response.StatusCode = StatusCodes.Status401Unauthorized;
            response.Headers.ContentType = "application/json";
            response.ContentLength = Unauthorized.Length;
            await response.Body.WriteAsync(Unauthorized);
            return;
        }
        response.StatusCode = StatusCodes.Status200OK;
        response.Headers.ContentType = "application/json; charset=utf-8";
        response.Headers["X-Kratos-Authenticated-Identity-Id"] = entry.IdentityId;
        response.ContentLength = entry.Body.Length;
        if (!HttpMethods.IsHead(context.Request.Method))
            await response.Body.WriteAsync(entry.Body);
    }

    private SeedEntry? Find(HttpRequest request)
    {
        if (request.Headers.TryGetValue("X-Session-Token", out var token) && token.Count > 0)
            return _byToken.GetValueOrDefault(token[0]!);
        return CookieValue(request.Headers.Cookie) is { } cookie
            ? _byCookie.GetAlternateLookup<ReadOnlySpan<char>>().TryGetValue(cookie, out var entry) ? entry : null
            : null;
    }

    /// <summary>The session cookie's value, as a slice of the header (no allocation).</summary>
    private ReadOnlySpan<char> CookieValue(StringValues header)
    {
        foreach (var value in header)
        {
            var rest = value.AsSpan();
            while (!rest.IsEmpty)
            {
                var end = rest.IndexOf(';');
                var pair = (end < 0 ? rest : rest[..end]).Trim();
                if (pair.StartsWith(_cookiePrefix, StringComparison.Ordinal)) return pair[_cookiePrefix.Length..];
                rest = end < 0 ? default : rest[(end + 1)..];
            }
        }
        return default;
    }
}

/// <summary>One credential's whoami answer as the service wrote it.</summary>
internal sealed record SeedEntry(
    [property: JsonPropertyName("credential")] string Credential,
    [property: JsonPropertyName("cookie")] bool Cookie,
    [property: JsonPropertyName("identity_id")] string IdentityId,
    [property: JsonPropertyName("body")] byte[] Body);

internal sealed record SeedCount([property: JsonPropertyName("sessions")] int Sessions);

[JsonSerializable(typeof(SeedEntry[]))]
[JsonSerializable(typeof(SeedCount))]
internal sealed partial class BaselineJson : JsonSerializerContext;
