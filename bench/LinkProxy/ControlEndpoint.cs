using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace OrleansSessions.LinkProxy;

/// <summary>
/// The proxy's remote control, for scripts and tests in other processes: <c>POST /cut</c>, <c>POST /restore</c>,
/// <c>POST /delay?ms=N</c>, and <c>GET /</c> for the state; every answer is the state as JSON. HTTP/1.1 read off a
/// plain socket, one request per connection: HttpListener matches the Host header against its prefix (so
/// <c>curl localhost:…</c> is a 404 on a 127.0.0.1 prefix) and refuses a POST without Content-Length (a bare
/// <c>curl -X POST</c>), and neither is worth having for a switch.
/// </summary>
public sealed class ControlEndpoint : IAsyncDisposable
{
    // A request is a line and a few headers; anything longer is not one of ours.
    private const int MaxHead = 8 * 1024;
    private static readonly TimeSpan RequestTimeout = TimeSpan.FromSeconds(5);

    private readonly Socket _listener;
    private readonly LatencyProxy _proxy;
    private readonly TextWriter _log;
    private readonly CancellationTokenSource _stopping = new();
    private readonly ConcurrentDictionary<Task, bool> _answering = new();
    private readonly Task _accepting;

    private ControlEndpoint(Socket listener, LatencyProxy proxy, TextWriter log)
    {
        _listener = listener;
        _proxy = proxy;
        _log = log;
        var at = (IPEndPoint)listener.LocalEndPoint!;
        var host = at.AddressFamily == AddressFamily.InterNetworkV6 ? $"[{at.Address}]" : at.Address.ToString();
        Address = new Uri($"http://{host}:{at.Port}/");
        _accepting = AcceptAsync();
    }

    /// <summary>Where the endpoint answers, with the port it was given when asked for port 0.</summary>
    public Uri Address { get; }

    /// <summary>Starts answering on <paramref name="at"/>; each cut, restore and delay change is written to <paramref name="log"/>.</summary>
    public static ControlEndpoint Start(IPEndPoint at, LatencyProxy proxy, TextWriter log)
    {
        var listener = new Socket(at.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            listener.Bind(at);
            listener.Listen(16);
            return new ControlEndpoint(listener, proxy, log);
        }
        catch
        {
            listener.Dispose();
            throw;
        }
    }

    public async ValueTask DisposeAsync()
    {
        _stopping.Cancel();
        _listener.Dispose();
        await _accepting;
        await Task.WhenAll(_answering.Keys);
        _stopping.Dispose();
    }

    private async Task AcceptAsync()
    {
        while (true)
        {
            Socket client;
            try
            {
                client = await _listener.AcceptAsync(_stopping.Token);
            }
            catch (Exception exception) when (exception is OperationCanceledException or ObjectDisposedException)
            {
                return;
            }
            catch (SocketException)
            {
                continue;
            }
            var answering = Task.Run(() => AnswerAsync(client));
            _answering[answering] = true;
            _ = answering.ContinueWith(done => _answering.TryRemove(done, out _), TaskScheduler.Default);
        }
    }

    /// <summary>Reads one request and answers it; never throws, whatever the client sends or however it goes away.</summary>
    private async Task AnswerAsync(Socket client)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(_stopping.Token);
        timeout.CancelAfter(RequestTimeout);
        try
        {
            using (client)
            {
                var request = await ReadRequestAsync(client, timeout.Token);
                var (status, body) = request is null ? (HttpStatusCode.BadRequest, Error("not an HTTP request")) : Handle(request.Value.Method, request.Value.Target);
                var head = $"HTTP/1.1 {(int)status} {ReasonPhrase(status)}\r\nContent-Type: application/json\r\nContent-Length: {body.Length}\r\nConnection: close\r\n\r\n";
                await client.SendAsync(Encoding.ASCII.GetBytes(head), SocketFlags.None, timeout.Token);
                await client.SendAsync(body, SocketFlags.None, timeout.Token);
                client.Shutdown(SocketShutdown.Send);
            }
        }
        catch (Exception exception) when (exception is SocketException or OperationCanceledException or ObjectDisposedException)
        {
            // The client went away or was too slow: its request is dropped, the endpoint goes on.
        }
        catch (Exception exception)
        {
            // A bug in answering one request is said, and does not end the endpoint.
            _log.WriteLine($"control: {exception.GetType().Name}: {exception.Message}");
        }
    }

    /// <summary>The method and request target of the request on <paramref name="client"/>; a body, if any, is read and ignored.</summary>
    private static async Task<(string Method, string Target)?> ReadRequestAsync(Socket client, CancellationToken token)
    {
        var buffer = new byte[MaxHead];
        var length = 0;
        int end;
        while ((end = buffer.AsSpan(0, length).IndexOf("\r\n\r\n"u8)) < 0)
        {
            if (length == buffer.Length)
                return null;
            var read = await client.ReceiveAsync(buffer.AsMemory(length), SocketFlags.None, token);
            if (read == 0)
                return null;
            length += read;
        }
        var lines = Encoding.ASCII.GetString(buffer, 0, end).Split("\r\n");
        var requestLine = lines[0].Split(' ');
        if (requestLine.Length != 3 || !requestLine[2].StartsWith("HTTP/1.", StringComparison.Ordinal))
            return null;

        // Read the body so that closing does not reset the connection under a client still sending it.
        var contentLength = 0L;
        foreach (var line in lines.Skip(1))
        {
            var colon = line.IndexOf(':');
            if (colon > 0 && line[..colon].Trim().Equals("Content-Length", StringComparison.OrdinalIgnoreCase)
                && !long.TryParse(line[(colon + 1)..].Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out contentLength))
                return null;
        }
        for (var left = contentLength - (length - end - 4); left > 0;)
        {
            var read = await client.ReceiveAsync(buffer, SocketFlags.None, token);
            if (read == 0)
                break;
            left -= read;
        }
        return (requestLine[0], requestLine[1]);
    }

    private (HttpStatusCode Status, byte[] Body) Handle(string method, string target)
    {
        var question = target.IndexOf('?');
        var path = (question < 0 ? target : target[..question]).TrimEnd('/');
        var query = question < 0 ? "" : target[(question + 1)..];
        switch (path)
        {
            case "" when method == "GET":
                return (HttpStatusCode.OK, State());
            case "/cut" when method == "POST":
                _proxy.Cut();
                _log.WriteLine("link cut: open connections reset, new ones refused");
                return (HttpStatusCode.OK, State());
            case "/restore" when method == "POST":
                _proxy.Restore();
                _log.WriteLine("link restored");
                return (HttpStatusCode.OK, State());
            case "/delay" when method == "POST":
                if (!double.TryParse(QueryValue(query, "ms"), NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var ms)
                    || double.IsInfinity(ms))
                    return (HttpStatusCode.BadRequest, Error("ms must be a number of milliseconds, 0 or more"));
                _proxy.Delay = TimeSpan.FromMilliseconds(ms);
                _log.WriteLine($"delay {LinkOptions.Milliseconds(_proxy.Delay)} ms");
                return (HttpStatusCode.OK, State());
            case "" or "/cut" or "/restore" or "/delay":
                return (HttpStatusCode.MethodNotAllowed, Error($"{method} is not answered here"));
            default:
                return (HttpStatusCode.NotFound, Error("GET /, POST /cut, POST /restore, POST /delay?ms=N"));
        }
    }

    private static string? QueryValue(string query, string name)
    {
        foreach (var pair in query.Split('&'))
        {
            var equals = pair.IndexOf('=');
            if (equals > 0 && Uri.UnescapeDataString(pair[..equals]) == name)
                return Uri.UnescapeDataString(pair[(equals + 1)..]);
        }
        return null;
    }

    private byte[] State() => JsonSerializer.SerializeToUtf8Bytes(new LinkState(
        LinkOptions.Describe(_proxy.Listening), LinkOptions.Describe(_proxy.Target), _proxy.Delay.TotalMilliseconds,
        _proxy.IsCut, _proxy.Connections, _proxy.OpenConnections, _proxy.BytesForwarded));

    private static byte[] Error(string message) => JsonSerializer.SerializeToUtf8Bytes(new ErrorBody(message));

    private static string ReasonPhrase(HttpStatusCode status) => status switch
    {
        HttpStatusCode.OK => "OK",
        HttpStatusCode.BadRequest => "Bad Request",
        HttpStatusCode.NotFound => "Not Found",
        HttpStatusCode.MethodNotAllowed => "Method Not Allowed",
        _ => status.ToString(),
    };

    private sealed record LinkState(
        [property: JsonPropertyName("listen")] string Listen,
        [property: JsonPropertyName("target")] string Target,
        [property: JsonPropertyName("delay_ms")] double DelayMs,
        [property: JsonPropertyName("cut")] bool Cut,
        [property: JsonPropertyName("connections")] long Connections,
        [property: JsonPropertyName("open")] int Open,
        [property: JsonPropertyName("bytes")] long Bytes);

    private sealed record ErrorBody([property: JsonPropertyName("error")] string Error);
}
