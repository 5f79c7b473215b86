using System.Globalization;
using System.Net.Http.Headers;

namespace OrleansSessions.Bench;

/// <summary>
/// What the tool reads from a node's Prometheus endpoint (<c>/admin/metrics</c>, every role): session activations
/// held (<c>orleans_sessions_sessions_resident</c>), Orleans' messages sent to its own silo (<c>orleans_messaging_sent_local</c>)
/// and to other silos (the count of <c>orleans_messaging_sent_messages_size</c> with <c>ConnectionDirection="SiloToSilo"</c>;
/// the service no longer exports that per-message histogram, so without it: the messages Orleans received,
/// <c>orleans_messaging_processing_ima_received</c>, less its local ones, each remote call being a request received by
/// one silo and a response by the other), and HTTP requests served (<c>http_server_request_duration_seconds_count</c> of <c>/sessions/whoami</c>).
/// </summary>
public sealed record NodeSample(double ResidentSessions, double LocalMessages, double RemoteRequests, double RemoteMessages, double WhoamiServed)
{
    public static NodeSample operator -(NodeSample a, NodeSample b) =>
        new(a.ResidentSessions, a.LocalMessages - b.LocalMessages, a.RemoteRequests - b.RemoteRequests, a.RemoteMessages - b.RemoteMessages, a.WhoamiServed - b.WhoamiServed);

    public static NodeSample Parse(string text)
    {
        double resident = 0, local = 0, remoteRequests = 0, remote = 0, whoami = 0, received = 0;
        foreach (var raw in text.AsSpan().EnumerateLines())
        {
            if (raw.IsEmpty || raw[0] == '#') continue;
            var line = raw.ToString();
            var space = line.LastIndexOf(' ');
            if (space < 0 || !double.TryParse(line.AsSpan(space + 1), NumberStyles.Float, CultureInfo.InvariantCulture, out var value)) continue;
            var brace = line.IndexOf('{');
            var name = brace < 0 ? line[..space] : line[..brace];
            var labels = brace < 0 ? "" : line[brace..space];
            switch (name)
            {
                case "orleans_sessions_sessions_resident": resident += value; break;
                case "orleans_messaging_sent_local_total": local += value; break;
                case "orleans_messaging_processing_ima_received_total": received += value; break;
                case "orleans_messaging_sent_messages_size_bytes_count" when labels.Contains("ConnectionDirection=\"SiloToSilo\"", StringComparison.Ordinal):
                    remote += value;
                    if (labels.Contains("MessageDirection=\"Request\"", StringComparison.Ordinal)) remoteRequests += value;
                    break;
                case "http_server_request_duration_seconds_count" when labels.Contains("http_route=\"/sessions/whoami\"", StringComparison.Ordinal): whoami += value; break;
            }
        }
        if (remote == 0 && received > local)
        {
            remote = received - local;
            remoteRequests = remote / 2;
        }
        return new NodeSample(resident, local, remoteRequests, remote, whoami);
    }
}

/// <summary>Reads nodes' metrics; one client for all of them, short timeouts (a node going away must not stall a run).</summary>
public sealed class MetricsReader : IDisposable
{
    private readonly HttpClient _http;

    public MetricsReader(string? adminKey)
    {
        _http = new HttpClient(new SocketsHttpHandler { UseCookies = false, MaxConnectionsPerServer = 2 }) { Timeout = TimeSpan.FromSeconds(10) };
        if (adminKey is not null) _http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", adminKey);
    }

    /// <summary>Null when the node did not answer.</summary>
    public async Task<NodeSample?> ReadAsync(Uri admin, CancellationToken cancellation)
    {
        try
        {
            return NodeSample.Parse(await _http.GetStringAsync(new Uri(admin, "/admin/metrics"), cancellation));
        }
        catch (Exception exception) when (exception is HttpRequestException or TaskCanceledException && !cancellation.IsCancellationRequested)
        {
            return null;
        }
    }

    public void Dispose() => _http.Dispose();
}
