using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;

namespace OrleansSessions.Api.Pages;

/// <summary>What the admin API answered a page: the status and, when there was one, the JSON body.</summary>
public sealed record AdminAnswer(int Status, JsonElement? Body)
{
    public bool Ok => Status is >= 200 and < 300;

    /// <summary>The reason of an error in Kratos's envelope (<c>error.reason</c>, else <c>error.message</c>).</summary>
    public string Problem => Body is { } body && body.ValueKind == JsonValueKind.Object && body.TryGetProperty("error", out var error)
        ? (error.TryGetProperty("reason", out var reason) ? reason.GetString() : null)
            ?? (error.TryGetProperty("message", out var message) ? message.GetString() : null) ?? $"HTTP {Status}"
        : $"HTTP {Status}";
}

/// <summary>
/// The admin page's way to act: every read and every change is a request to the admin API of the listener the
/// page was reached on, with the page's own admin key (the password of its Basic authentication, sent as
/// <c>Authorization: Bearer</c>). The page can do exactly what the API allows, with the API's own checks, and
/// nothing more. The key is never logged.
/// </summary>
public sealed class AdminApiClient : IDisposable
{
    private readonly HttpClient _http;

    public AdminApiClient(Configuration.ListenerCertificates certificates)
    {
        // Over HTTPS the page calls its own listener: the certificate it presents is this node's own, trusted as such
        // (a self-signed one included) and compared by its hash; any other needs a chain the machine trusts.
        var own = certificates.Admin?.GetCertHash(System.Security.Cryptography.HashAlgorithmName.SHA256);
        _http = new HttpClient(new SocketsHttpHandler
        {
            UseCookies = false,
            AllowAutoRedirect = false,
            PooledConnectionLifetime = TimeSpan.FromMinutes(2),
            SslOptions =
            {
                RemoteCertificateValidationCallback = (_, certificate, _, errors) =>
                    errors == System.Net.Security.SslPolicyErrors.None
                    || (certificate is not null && own is { } hash
                        && certificate.GetCertHash(System.Security.Cryptography.HashAlgorithmName.SHA256).AsSpan().SequenceEqual(hash)),
            },
        })
        {
            Timeout = TimeSpan.FromSeconds(15),
        };
    }

    public Task<AdminAnswer> GetAsync(HttpContext page, string path) => SendAsync(page, HttpMethod.Get, path, null);

    public async Task<AdminAnswer> SendAsync(HttpContext page, HttpMethod method, string path, string? json)
    {
        using var request = new HttpRequestMessage(method, AdminUrl(page, path));
        // TLS checks the name the browser used, not the loopback address.
        request.Headers.Host = page.Request.Host.Value;
        if (Admin.AdminKeys.PresentedKey(page.Request, allowBasic: true) is { } key)
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
        if (json is not null)
            request.Content = new StringContent(json, Encoding.UTF8, "application/json");
        using var response = await _http.SendAsync(request, page.RequestAborted);
        var bytes = await response.Content.ReadAsByteArrayAsync(page.RequestAborted);
        JsonElement? body = null;
        if (bytes.Length > 0)
        {
            try
            {
                using var document = JsonDocument.Parse(bytes);
                body = document.RootElement.Clone();
            }
            catch (JsonException)
            {
                // Not JSON: the status says enough.
            }
        }
        return new AdminAnswer((int)response.StatusCode, body);
    }

    /// <summary>The admin listener the page came in on, as the page's connection reached it.</summary>
    private static Uri AdminUrl(HttpContext page, string path)
    {
        var address = page.Connection.LocalIpAddress ?? IPAddress.Loopback;
        if (address.IsIPv4MappedToIPv6)
            address = address.MapToIPv4();
        var host = address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? $"[{address}]" : address.ToString();
        return new Uri($"{page.Request.Scheme}://{host}:{page.Connection.LocalPort}/admin/{path.TrimStart('/')}");
    }

    public void Dispose() => _http.Dispose();
}
