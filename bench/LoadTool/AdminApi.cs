using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;

namespace OrleansSessions.Bench;

/// <summary>The few admin calls the tool makes: create identities, issue sessions, revoke them.</summary>
public sealed class AdminApi : IDisposable
{
    private readonly HttpClient _http;

    public AdminApi(Uri baseUrl, string? adminKey, int parallelism)
    {
        _http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = parallelism, UseCookies = false, PooledConnectionLifetime = TimeSpan.FromMinutes(10) })
        {
            BaseAddress = baseUrl,
            Timeout = TimeSpan.FromSeconds(60),
        };
        if (adminKey is not null)
            _http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", adminKey);
    }

    /// <summary>Creates an identity with a unique e-mail; answers its id.</summary>
    public async Task<string> CreateIdentityAsync(string email, CancellationToken cancellation)
    {
        using var response = await _http.PostAsJsonAsync("admin/identities",
            new { schema_id = "default", traits = new { email } }, cancellation);
        using var json = await ReadJsonAsync(response, "create identity", cancellation);
        return json.RootElement.GetProperty("id").GetString() ?? throw new InvalidOperationException("identity without id");
    }

    /// <summary>Trusted issuance: a token session (channel api) or a cookie session (channel browser).</summary>
    public async Task<Credential> IssueSessionAsync(string identityId, bool cookie, CancellationToken cancellation)
    {
        using var response = await _http.PostAsJsonAsync($"admin/identities/{identityId}/sessions",
            new { channel = cookie ? "browser" : "api" }, cancellation);
        using var json = await ReadJsonAsync(response, "issue session", cancellation);
        var root = json.RootElement;
        var sessionId = root.GetProperty("session").GetProperty("id").GetString()!;
        if (!cookie)
            return Credential.Token(root.GetProperty("session_token").GetString()!, sessionId, identityId);
        var sessionCookie = root.GetProperty("session_cookie");
        return Credential.Cookie(sessionCookie.GetProperty("name").GetString()!, sessionCookie.GetProperty("value").GetString()!, sessionId, identityId);
    }

    /// <summary>DELETE /admin/sessions/{id}; answers the status (204, or 404 when unknown).</summary>
    public async Task<HttpStatusCode> RevokeSessionAsync(string sessionId, CancellationToken cancellation)
    {
        using var response = await _http.DeleteAsync($"admin/sessions/{sessionId}", cancellation);
        return response.StatusCode;
    }

    /// <summary>DELETE /admin/identities/{id}/sessions; answers the status (204, or 404 when it has none).</summary>
    public async Task<HttpStatusCode> RevokeAllAsync(string identityId, CancellationToken cancellation)
    {
        using var response = await _http.DeleteAsync($"admin/identities/{identityId}/sessions", cancellation);
        return response.StatusCode;
    }

    /// <summary>Waits until the node answers /health/ready (the cluster script's ready line can come first).</summary>
    public async Task WaitReadyAsync(TimeSpan timeout, CancellationToken cancellation)
    {
        var until = Stopwatch.GetTimestamp() + (long)(timeout.TotalSeconds * Stopwatch.Frequency);
        while (true)
        {
            try
            {
                using var response = await _http.GetAsync("health/ready", cancellation);
                if (response.IsSuccessStatusCode) return;
            }
            catch (HttpRequestException) when (Stopwatch.GetTimestamp() < until) { }
            if (Stopwatch.GetTimestamp() >= until) throw new TimeoutException("the admin API did not become ready");
            await Task.Delay(200, cancellation);
        }
    }

    private static async Task<JsonDocument> ReadJsonAsync(HttpResponseMessage response, string what, CancellationToken cancellation)
    {
        if (!response.IsSuccessStatusCode)
        {
            // The error envelope carries no credential; its reason helps (a missing admin key, a bad schema).
            var text = await response.Content.ReadAsStringAsync(cancellation);
            throw new HttpRequestException($"{what}: {(int)response.StatusCode} {Truncate(text, 300)}");
        }
        return await JsonDocument.ParseAsync(await response.Content.ReadAsStreamAsync(cancellation), cancellationToken: cancellation);
    }

    private static string Truncate(string text, int length) => text.Length <= length ? text : text[..length] + "…";

    public void Dispose() => _http.Dispose();
}
