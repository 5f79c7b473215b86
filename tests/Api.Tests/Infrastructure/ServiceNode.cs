using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using Orleans.TestingHost;
using OrleansSessions.Silo;

namespace OrleansSessions.Api.Tests.Infrastructure;

/// <summary>How a node under test is started.</summary>
public sealed record NodeOptions
{
    /// <summary>Kratos's <c>--dev</c>: cookies without <c>Secure</c>.</summary>
    public bool Dev { get; init; } = true;

    /// <summary>The SQLite folder; a fresh temporary one when null. Reuse one to restart on the same store.</summary>
    public string? DataDirectory { get; init; }

    /// <summary>The clock the product (grains and API) reads; a fake at the real current time when null.</summary>
    public FakeTimeProvider? Clock { get; init; }

    /// <summary>More <c>--key=value</c> arguments.</summary>
    public IReadOnlyList<string> ExtraArgs { get; init; } = [];

    /// <summary>
    /// <c>serve:admin:api_keys</c>. Null: none in dev mode, one fresh random key otherwise (a node outside
    /// dev mode does not start without one).
    /// </summary>
    public IReadOnlyList<string>? AdminKeys { get; init; }

    /// <summary>Changes to the node's services before it is built (a log capture, say).</summary>
    public Action<IServiceCollection>? ConfigureServices { get; init; }

    /// <summary>
    /// A node of a cluster on one PostgreSQL database (store and Orleans membership there); nodes given the same
    /// <paramref name="clusterId"/> form one cluster. <paramref name="more"/> are further arguments (a role, say).
    /// </summary>
    public static NodeOptions PostgresCluster(string database, string clusterId, FakeTimeProvider? clock = null, params string[] more) => new()
    {
        Clock = clock,
        ExtraArgs =
        [
            "--orleans:membership=postgres", "--orleans:advertised_ip=127.0.0.1",
            $"--orleans:cluster_id={clusterId}", $"--orleans:service_id={clusterId}",
            "--store:provider=postgres", $"--store:connection_string={database}",
            .. more,
        ],
    };

    public IReadOnlyList<string> EffectiveAdminKeys => AdminKeys ?? (Dev ? [] : [$"test-admin-key-{Guid.NewGuid():N}"]);
}

/// <summary>
/// One real node: the host the product ships (<see cref="SessionServiceHost"/>) with real Kestrel
/// listeners on free ports, a real Orleans silo, and SQLite in a temporary folder. The product's
/// clock is a <see cref="FakeTimeProvider"/>; Orleans' own background areas (membership,
/// messaging, activation collection …) stay on real time, because driving them with a clock
/// that only moves when a test advances it stalls the silo.
/// </summary>
public sealed class ServiceNode : IAsyncDisposable
{
    private readonly bool _ownsDataDirectory;
    private bool _disposed;

    private ServiceNode(WebApplication app, FakeTimeProvider clock, string dataDirectory, bool ownsDataDirectory, string? adminKey)
    {
        App = app;
        Clock = clock;
        DataDirectory = dataDirectory;
        _ownsDataDirectory = ownsDataDirectory;
        AdminKey = adminKey;
        var (publicUrl, adminUrl) = SessionServiceHost.BoundAddresses(app);
        // A silo of the split mode has only its health listener.
        (PublicUrl, AdminUrl) = (publicUrl ?? adminUrl, adminUrl);
        // No cookie container (cookies are set by hand), no redirects followed, no decompression.
        static SocketsHttpHandler Handler() => new() { UseCookies = false, AllowAutoRedirect = false, AutomaticDecompression = DecompressionMethods.None };
        HttpMessageHandler handler = adminKey is null ? Handler() : new AdminKeyHandler(adminKey, AdminUrl) { InnerHandler = Handler() };
        Http = new HttpClient(handler) { Timeout = TimeSpan.FromSeconds(60) };
        HttpWithoutAdminKey = new HttpClient(Handler()) { Timeout = TimeSpan.FromSeconds(60) };
    }

    public WebApplication App { get; }
    public FakeTimeProvider Clock { get; }
    public string DataDirectory { get; }
    public Uri PublicUrl { get; }
    public Uri AdminUrl { get; }
    /// <summary>The client of every helper: on the admin port it presents <see cref="AdminKey"/> unless the request has its own Authorization.</summary>
    public HttpClient Http { get; }

    /// <summary>A client that never adds an admin key.</summary>
    public HttpClient HttpWithoutAdminKey { get; }

    /// <summary>The first configured admin key; null in dev mode without keys.</summary>
    public string? AdminKey { get; }

    public const string CookieName = "ory_kratos_session";

    public static async Task<ServiceNode> StartAsync(NodeOptions? options = null)
    {
        options ??= new NodeOptions();
        var ownsDirectory = options.DataDirectory is null;
        var dataDirectory = options.DataDirectory ?? NewDataDirectory();
        var clock = options.Clock ?? new FakeTimeProvider(DateTimeOffset.UtcNow);
        var adminKeys = options.EffectiveAdminKeys;
        // The silo and gateway ports are probed free, then bound a moment later; another process can
        // take one in between. Only that failure is retried, with new ports.
        for (var attempt = 1; ; attempt++)
        {
            var builder = SessionServiceHost.CreateBuilder(Args(options, dataDirectory, adminKeys));
            builder.Services.AddSingleton<TimeProvider>(clock);
            builder.Services.UseTimeProviderForBackgroundAreas(TimeProvider.System);
            options.ConfigureServices?.Invoke(builder.Services);
            var app = await SessionServiceHost.BuildAsync(builder);
            try
            {
                await app.StartAsync();
                return new ServiceNode(app, clock, dataDirectory, ownsDirectory, adminKeys.FirstOrDefault());
            }
            catch (Exception e) when (attempt < 5 && IsAddressInUse(e))
            {
                await app.DisposeAsync();
            }
        }
    }

    public static string NewDataDirectory()
    {
        var path = Path.Combine(Path.GetTempPath(), "orleans-sessions-api-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(path);
        return path;
    }

    private static string[] Args(NodeOptions options, string dataDirectory, IReadOnlyList<string> adminKeys) =>
    [
        "--serve:public:host=127.0.0.1", "--serve:public:port=0",
        "--serve:admin:host=127.0.0.1", "--serve:admin:port=0",
        $"--store:data_directory={dataDirectory}",
        $"--orleans:silo_port={FreePorts.Next()}", $"--orleans:gateway_port={FreePorts.Next()}",
        // Every node is its own single-silo cluster.
        $"--orleans:cluster_id=api-tests-{Guid.NewGuid():N}",
        $"--dev={(options.Dev ? "true" : "false")}",
        // Cheap password hashing: the tests check behaviour, not hashing cost.
        "--hashers:argon2:memory_kib=1024", "--hashers:argon2:iterations=1", "--hashers:argon2:parallelism=1",
        "--Logging:LogLevel:Default=Warning", "--Logging:LogLevel:Orleans=Error", "--Logging:LogLevel:Microsoft=Error",
        .. adminKeys.Select((key, i) => $"--serve:admin:api_keys:{i}={key}"),
        .. options.ExtraArgs,
    ];

    private static bool IsAddressInUse(Exception? e)
    {
        for (; e is not null; e = e.InnerException)
        {
            if (e is SocketException { SocketErrorCode: SocketError.AddressAlreadyInUse })
                return true;
            if (e is AggregateException aggregate && aggregate.InnerExceptions.Any(IsAddressInUse))
                return true;
            if (e.Message.Contains("address already in use", StringComparison.OrdinalIgnoreCase))
                return true;
        }
        return false;
    }

    public T Service<T>() where T : notnull => App.Services.GetRequiredService<T>();

    /// <summary>
    /// Waits on this silo's membership updates (a completion signal, no polling) until it sees
    /// <paramref name="count"/> active silos; fails after a minute.
    /// </summary>
    public async Task WaitForActiveSilosAsync(int count)
    {
        var limit = TimeSpan.FromSeconds(60);
        using var timeout = new CancellationTokenSource(limit);
        var seen = 0;
        try
        {
            await foreach (var snapshot in Service<IClusterMembershipService>().MembershipUpdates.WithCancellation(timeout.Token))
            {
                seen = snapshot.Members.Values.Count(m => m.Status == SiloStatus.Active);
                if (seen == count)
                    return;
            }
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested)
        {
        }
        Assert.Fail($"node {AdminUrl} saw {seen} active silo(s), not {count}, within {limit}");
    }

    // ---- requests -------------------------------------------------------------------------

    public Uri Public(string pathAndQuery) => new(PublicUrl, pathAndQuery);

    public Uri Admin(string pathAndQuery) => new(AdminUrl, pathAndQuery);

    /// <summary>A whoami request on the public port, credentials added by the caller.</summary>
    public HttpRequestMessage Whoami(HttpMethod? method = null) => new(method ?? HttpMethod.Get, Public("/sessions/whoami"));

    public Task<HttpResponseMessage> SendAsync(HttpRequestMessage request) => Http.SendAsync(request);

    public async Task<HttpResponseMessage> PostJsonAsync(Uri url, string json)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, url) { Content = new StringContent(json, Encoding.UTF8, "application/json") };
        return await Http.SendAsync(request);
    }

    /// <summary>Creates an active identity through the admin API and returns its id.</summary>
    public async Task<Guid> CreateIdentityAsync(string? state = null)
    {
        var body = new JsonObject
        {
            ["schema_id"] = "default",
            ["traits"] = new JsonObject { ["email"] = $"{Guid.NewGuid():N}@example.com" },
            ["metadata_public"] = new JsonObject { ["plan"] = "free" },
            ["metadata_admin"] = new JsonObject { ["secret_note"] = "admins only" },
        };
        if (state is not null)
            body["state"] = state;
        using var response = await PostJsonAsync(Admin("/admin/identities"), body.ToJsonString());
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.Created, $"createIdentity answered {(int)response.StatusCode}: {text}");
        return JsonDocument.Parse(text).RootElement.GetProperty("id").GetGuid();
    }

    /// <summary>Issues a session through the trusted issuance endpoint; asserts 201.</summary>
    public async Task<IssuedSession> IssueAsync(Guid identityId, string channel, JsonObject? extra = null)
    {
        var body = extra is null ? new JsonObject() : (JsonObject)extra.DeepClone();
        body["channel"] = channel;
        using var response = await PostJsonAsync(Admin($"/admin/identities/{identityId}/sessions"), body.ToJsonString());
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.Created, $"issueSession answered {(int)response.StatusCode}: {text}");
        var root = JsonDocument.Parse(text).RootElement.Clone();
        var setCookies = response.Headers.TryGetValues("Set-Cookie", out var values) ? values.ToList() : [];
        return new IssuedSession(root, setCookies);
    }

    public async Task<IssuedSession> IssueApiSessionAsync(Guid? identityId = null, JsonObject? extra = null) =>
        await IssueAsync(identityId ?? await CreateIdentityAsync(), "api", extra);

    public async Task<IssuedSession> IssueBrowserSessionAsync(Guid? identityId = null, JsonObject? extra = null) =>
        await IssueAsync(identityId ?? await CreateIdentityAsync(), "browser", extra);

    /// <summary>whoami with the given headers (added without validation, exactly as given).</summary>
    public async Task<Answer> WhoamiAsync(params (string Name, string Value)[] headers) => await WhoamiAsync(HttpMethod.Get, headers);

    public async Task<Answer> WhoamiAsync(HttpMethod method, params (string Name, string Value)[] headers)
    {
        using var request = Whoami(method);
        foreach (var (name, value) in headers)
            Assert.True(request.Headers.TryAddWithoutValidation(name, value), $"could not add header {name}");
        return await Answer.ReadAsync(await Http.SendAsync(request));
    }

    public async Task<Answer> SendForAnswerAsync(HttpMethod method, Uri url, string? json = null, string contentType = "application/json")
    {
        using var request = new HttpRequestMessage(method, url);
        if (json is not null)
            request.Content = new StringContent(json, new MediaTypeHeaderValue(contentType) { CharSet = "utf-8" });
        return await Answer.ReadAsync(await Http.SendAsync(request));
    }

    public async ValueTask DisposeAsync()
    {
        if (_disposed)
            return;
        _disposed = true;
        Http.Dispose();
        HttpWithoutAdminKey.Dispose();
        try
        {
            await App.StopAsync();
        }
        finally
        {
            await App.DisposeAsync();
            if (_ownsDataDirectory)
                DeleteDirectory(DataDirectory);
        }
    }

    public static void DeleteDirectory(string path)
    {
        try
        {
            Directory.Delete(path, recursive: true);
        }
        catch (IOException)
        {
            // A pooled SQLite handle may still be open; the temp folder is left behind.
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}

/// <summary>What issuance answered: the body, and the Set-Cookie headers.</summary>
public sealed record IssuedSession(JsonElement Body, IReadOnlyList<string> SetCookies)
{
    public JsonElement Session => Body.GetProperty("session");
    public Guid SessionId => Session.GetProperty("id").GetGuid();
    public Guid IdentityId => Session.GetProperty("identity").GetProperty("id").GetGuid();
    public string Token => Body.GetProperty("session_token").GetString()!;
    public string CookieValue => Body.GetProperty("session_cookie").GetProperty("value").GetString()!;

    public (string Name, string Value) TokenHeader => ("X-Session-Token", Token);
    public (string Name, string Value) BearerHeader => ("Authorization", "Bearer " + Token);
    public (string Name, string Value) CookieHeader => ("Cookie", $"{ServiceNode.CookieName}={CookieValue}");
}

/// <summary>A response, fully read: status, headers (response and content), body.</summary>
public sealed record Answer(HttpStatusCode Status, IReadOnlyDictionary<string, string[]> Headers, string Body)
{
    public int Code => (int)Status;

    public static async Task<Answer> ReadAsync(HttpResponseMessage response)
    {
        using (response)
        {
            // NonValidated: the values exactly as sent (the parsed view re-orders Cache-Control, for one).
            var headers = new Dictionary<string, string[]>(StringComparer.OrdinalIgnoreCase);
            foreach (var (name, values) in response.Headers.NonValidated.Concat(response.Content.Headers.NonValidated))
                headers[name] = [.. values];
            return new Answer(response.StatusCode, headers, await response.Content.ReadAsStringAsync());
        }
    }

    public string? Header(string name) => Headers.TryGetValue(name, out var values) ? string.Join(", ", values) : null;

    public JsonElement Json => JsonDocument.Parse(Body).RootElement.Clone();

    public override string ToString() => $"{Code} {Body}";
}

/// <summary>Presents the admin key on requests to the admin port that carry no Authorization of their own.</summary>
internal sealed class AdminKeyHandler(string key, Uri adminUrl) : DelegatingHandler
{
    protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        if (request.RequestUri is { } uri && uri.Port == adminUrl.Port && uri.Host == adminUrl.Host && !request.Headers.Contains("Authorization"))
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
        return base.SendAsync(request, cancellationToken);
    }
}
