using System.Net;
using System.Net.Sockets;
using System.Text;

namespace OrleansSessions.Api.Tests.Fuzz;

/// <summary>
/// What came back for one fuzz request: the statuses of the answers (several when pipelined), or why there was
/// none. <see cref="Problem"/> set means the request was not answered properly (a hang, a reset, a cut-short answer).
/// </summary>
public sealed record FuzzOutcome(IReadOnlyList<int> Statuses, string? Problem, string Excerpt, bool ClosedAfterFin, bool Raw)
{
    /// <summary>
    /// 505 is Kestrel's answer (as Go's net/http's, and so Kratos's) to a request line whose HTTP version is not
    /// HTTP/1.0 or HTTP/1.1 (<c>RequestRejectionReason.UnrecognizedHTTPVersion</c>): the one 5xx that is a correct
    /// answer, allowed for exactly those requests.
    /// </summary>
    public bool VersionNotSupportedAllowed { get; init; }

    public bool ServerError => Statuses.Any(s => s >= 500 && !(s == 505 && VersionNotSupportedAllowed));

    public bool Failed => Problem is not null || ServerError || Excerpt.Contains("   at ", StringComparison.Ordinal);

    public string Verdict =>
        (Problem ?? (ServerError ? $"answered {string.Join(", ", Statuses)}" : "a stack trace in the answer")) + $": {Excerpt}";
}

/// <summary>
/// Sends fuzz requests: well-framed ones with HttpClient (kept-alive connections, as real clients) when HttpClient
/// can carry them unchanged, everything else as raw bytes over a socket of its own; every request has
/// <see cref="Timeout"/> to be answered.
/// </summary>
public sealed class FuzzSender(Uri publicUrl, Uri adminUrl) : IDisposable
{
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    private readonly HttpClient _http = new(new SocketsHttpHandler
    {
        UseCookies = false,
        AllowAutoRedirect = false,
        AutomaticDecompression = DecompressionMethods.None,
        MaxConnectionsPerServer = 64,
        ConnectTimeout = TimeSpan.FromSeconds(5),
        Expect100ContinueTimeout = TimeSpan.FromSeconds(2),
    })
    { Timeout = System.Threading.Timeout.InfiniteTimeSpan };

    /// <summary>Headers HttpClient writes itself, or that change the framing: a request setting one goes out raw.</summary>
    private static readonly HashSet<string> FramingHeaders = new(StringComparer.OrdinalIgnoreCase)
    {
        "Host", "Content-Length", "Transfer-Encoding", "Connection", "Expect", "Upgrade", "TE", "Trailer", "Keep-Alive", "Proxy-Connection",
    };

    private static readonly HashSet<string> ContentHeaders = new(StringComparer.OrdinalIgnoreCase)
    {
        "Content-Type", "Content-Encoding", "Content-Language", "Content-Location", "Content-MD5", "Content-Range", "Content-Disposition", "Expires", "Last-Modified", "Allow",
    };

    private Uri Base(FuzzPort port) => port == FuzzPort.Admin ? adminUrl : publicUrl;

    public string Authority(FuzzPort port) => Base(port).Authority;

    public async Task<FuzzOutcome> SendAsync(FuzzRequest request)
    {
        var outcome = await SendOnceAsync(request);
        return outcome with { VersionNotSupportedAllowed = outcome.Raw && UnsupportedVersion(request.Raw ?? request.ToBytes(Authority(request.Port))) };
    }

    private async Task<FuzzOutcome> SendOnceAsync(FuzzRequest request)
    {
        if (request.Raw is not null)
            return await SendRawAsync(request.Port, request.Raw, request.RawHeads, request.HalfClose);
        // HttpClient stops reading when it cannot write: the answer to a large request that the server gives (and
        // closes) before it read it all would be lost. Large requests go out raw, where the answer is read anyway.
        if (!request.ForceRaw && (request.Body?.Length ?? 0) + request.Headers.Sum(h => h.Name.Length + h.Value.Length) < 16 * 1024
            && ToMessage(request) is { } message)
            using (message)
                return await SendHttpAsync(message);
        return await SendRawAsync(request.Port, request.ToBytes(Authority(request.Port)), [request.Method == "HEAD"], halfClose: false);
    }

    /// <summary>
    /// The request line (method, target, version) has a version token other than HTTP/1.0 and HTTP/1.1: "HTTP/9.9",
    /// "HTTP/1.", "http/1.1" …, or none ("GET /x", HTTP/0.9's form): Kestrel answers each 505 (<c>UnrecognizedHTTPVersion</c>).
    /// </summary>
    private static bool UnsupportedVersion(byte[] bytes)
    {
        var end = bytes.AsSpan().IndexOf((byte)'\n');
        var line = Encoding.Latin1.GetString(bytes, 0, end < 0 ? bytes.Length : end).TrimEnd('\r');
        var parts = line.Split(' ');
        return parts.All(p => p.Length > 0) && (parts.Length == 2 || (parts.Length == 3 && parts[2] is not ("HTTP/1.0" or "HTTP/1.1")));
    }

    /// <summary>The request as HttpClient would send it unchanged; null when it cannot (it goes out raw then).</summary>
    private HttpRequestMessage? ToMessage(FuzzRequest request)
    {
        if (request.Method is "CONNECT" || !IsToken(request.Method))
            return null;
        Uri uri;
        try
        {
            uri = new Uri(Base(request.Port).GetLeftPart(UriPartial.Authority) + request.Target);
        }
        catch (UriFormatException)
        {
            return null;
        }
        // Uri escapes, unescapes and removes dot segments: a target it would change is sent as is, raw.
        if (uri.PathAndQuery != request.Target || uri.Authority != Base(request.Port).Authority)
            return null;
        var message = new HttpRequestMessage(new HttpMethod(request.Method), uri) { Version = HttpVersion.Version11, VersionPolicy = HttpVersionPolicy.RequestVersionExact };
        if (request.Body is not null || request.Headers.Any(h => ContentHeaders.Contains(h.Name)))
            message.Content = new ByteArrayContent(request.Body ?? []);
        foreach (var (name, value) in request.Headers)
        {
            if (FramingHeaders.Contains(name) || !IsToken(name) || !value.All(c => c is >= ' ' and < '\u007f' or '\t')
                || !(ContentHeaders.Contains(name) ? message.Content!.Headers.TryAddWithoutValidation(name, value) : message.Headers.TryAddWithoutValidation(name, value)))
            {
                message.Dispose();
                return null;
            }
        }
        if (request.ExpectContinue)
            message.Headers.ExpectContinue = true;
        return message;
    }

    private static bool IsToken(string text) =>
        text.Length > 0 && text.All(c => c < '\u007f' && (char.IsAsciiLetterOrDigit(c) || "!#$%&'*+-.^_`|~".Contains(c)));

    private async Task<FuzzOutcome> SendHttpAsync(HttpRequestMessage message)
    {
        using var timeout = new CancellationTokenSource(Timeout);
        int status;
        try
        {
            using var response = await _http.SendAsync(message, HttpCompletionOption.ResponseHeadersRead, timeout.Token);
            status = (int)response.StatusCode;
            byte[] body;
            try
            {
                body = await response.Content.ReadAsByteArrayAsync(timeout.Token);
            }
            catch (Exception e) when (e is HttpRequestException or IOException or OperationCanceledException)
            {
                return new([status], $"answered {status}, then the body was cut short ({Describe(e, timeout)})", "", false, false);
            }
            return new([status], null, Excerpt(body), false, false);
        }
        catch (Exception e) when (e is HttpRequestException or IOException or OperationCanceledException)
        {
            return new([], $"no answer ({Describe(e, timeout)})", "", false, false);
        }
    }

    private static string Describe(Exception e, CancellationTokenSource timeout) =>
        timeout.IsCancellationRequested ? $"nothing within {Timeout.TotalSeconds:0} s" : $"{e.GetType().Name}: {e.Message}{(e.InnerException is { } inner ? " / " + inner.Message : "")}";

    private async Task<FuzzOutcome> SendRawAsync(FuzzPort port, byte[] bytes, bool[] heads, bool halfClose)
    {
        var server = Base(port);
        using var timeout = new CancellationTokenSource(Timeout);
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true, LingerState = new LingerOption(true, 0) };
        var received = new MemoryStream();
        string? sendError = null;
        try
        {
            await socket.ConnectAsync(IPAddress.Parse(server.Host), server.Port, timeout.Token);
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException)
        {
            return new([], $"could not connect ({Describe(e, timeout)})", "", false, true);
        }
        try
        {
            for (var sent = 0; sent < bytes.Length;)
                sent += await socket.SendAsync(bytes.AsMemory(sent), SocketFlags.None, timeout.Token);
            if (halfClose)
                socket.Shutdown(SocketShutdown.Send);
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException)
        {
            // The server may answer (and close) before it read everything, a large body say: its answer is still read.
            sendError = Describe(e, timeout);
        }

        var buffer = new byte[16384];
        string? readError = null;
        var ended = false;
        while (true)
        {
            var parsed = RawResponses.Parse(received.GetBuffer().AsSpan(0, (int)received.Length), heads, ended);
            if (parsed.Complete || ended)
                return Judge(parsed, received, halfClose, sendError, readError, bytes);
            try
            {
                var read = await socket.ReceiveAsync(buffer, SocketFlags.None, timeout.Token);
                if (read == 0)
                    ended = true;
                else
                    received.Write(buffer, 0, read);
            }
            catch (Exception e) when (e is SocketException or OperationCanceledException)
            {
                readError = Describe(e, timeout);
                ended = true;
            }
        }
    }

    /// <summary>
    /// Kestrel's answer to the HTTP/2 connection preface on an HTTP/1.x endpoint: an HTTP/2 GOAWAY frame with
    /// HTTP_1_1_REQUIRED (<c>Http1Connection.TryProduceInvalidRequestResponse</c>), the client's own protocol.
    /// </summary>
    private static readonly byte[] GoAwayHttp11Required = [0, 0, 8, 7, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x0d];

    private static readonly byte[] Http2Preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"u8.ToArray();

    private static FuzzOutcome Judge(RawResponses parsed, MemoryStream received, bool halfClose, string? sendError, string? readError, byte[] request)
    {
        var excerpt = Excerpt(received.ToArray());
        if (request.AsSpan().StartsWith(Http2Preface))
            return received.GetBuffer().AsSpan(0, (int)received.Length).SequenceEqual(GoAwayHttp11Required)
                ? new([], null, "GOAWAY HTTP_1_1_REQUIRED", false, true)
                : new([], "no GOAWAY HTTP_1_1_REQUIRED for the HTTP/2 preface", HexExcerpt(received.ToArray()), false, true);
        if (parsed.Statuses.Count == 0)
        {
            if (received.Length == 0 && halfClose && readError?.StartsWith("nothing within", StringComparison.Ordinal) != true)
                return new([], null, "", true, true);
            var why = readError ?? (received.Length == 0 ? "the connection was closed without an answer" : "no HTTP answer in what came back");
            return new([], why + (sendError is null ? "" : $" (sending: {sendError})"), excerpt, false, true);
        }
        // After the fuzzer's FIN, Kestrel may drop (or cut off) the answers still to be written: those that came are checked.
        if (!parsed.Complete && halfClose)
            return new(parsed.Statuses, null, excerpt, true, true);
        if (!parsed.Complete)
            return new(parsed.Statuses, $"answered {string.Join(", ", parsed.Statuses)}, then {(parsed.CutShort ? "the answer was cut short" : "not every pipelined request was answered")}"
                + (readError is null ? "" : $" ({readError})"), excerpt, false, true);
        return new(parsed.Statuses, null, excerpt, false, true);
    }

    private static string HexExcerpt(byte[] bytes) => Convert.ToHexString(bytes, 0, Math.Min(bytes.Length, 64));

    private static string Excerpt(byte[] bytes)
    {
        var text = Encoding.UTF8.GetString(bytes, 0, Math.Min(bytes.Length, 600));
        return text.Replace("\r", "\\r").Replace("\n", "\\n");
    }

    public void Dispose() => _http.Dispose();
}

/// <summary>
/// The HTTP/1.1 answers in the bytes a server sent, in order: interim 1xx answers skipped, bodies delimited by
/// Content-Length, chunked encoding, or the end of the connection. Complete when every request got its answer,
/// or an answer said <c>Connection: close</c> (the server will read no further request).
/// </summary>
public sealed class RawResponses
{
    public List<int> Statuses { get; } = [];
    public bool Complete { get; private set; }
    /// <summary>An answer's head came, and the connection ended before its body did.</summary>
    public bool CutShort { get; private set; }

    public static RawResponses Parse(ReadOnlySpan<byte> data, bool[] heads, bool ended)
    {
        var result = new RawResponses();
        var position = 0;
        while (result.Statuses.Count < heads.Length)
        {
            var rest = data[position..];
            var headEnd = rest.IndexOf("\r\n\r\n"u8);
            if (headEnd < 0)
            {
                result.CutShort = rest.Length > 0 && result.Statuses.Count > 0;
                return result;
            }
            var head = Encoding.Latin1.GetString(rest[..headEnd]);
            var lines = head.Split("\r\n");
            var statusLine = lines[0].Split(' ');
            if (statusLine.Length < 2 || !statusLine[0].StartsWith("HTTP/1.", StringComparison.Ordinal) || statusLine[1].Length != 3 || !int.TryParse(statusLine[1], out var status))
                return result;
            var bodyStart = headEnd + 4;
            if (status is >= 100 and < 200)
            {
                position += bodyStart;
                continue;
            }
            result.Statuses.Add(status);
            long? length = null;
            var chunked = false;
            var close = false;
            foreach (var line in lines.Skip(1))
            {
                var colon = line.IndexOf(':');
                if (colon < 0) continue;
                var name = line[..colon].Trim();
                var value = line[(colon + 1)..].Trim();
                if (name.Equals("Content-Length", StringComparison.OrdinalIgnoreCase) && long.TryParse(value, out var n)) length = n;
                if (name.Equals("Transfer-Encoding", StringComparison.OrdinalIgnoreCase) && value.Contains("chunked", StringComparison.OrdinalIgnoreCase)) chunked = true;
                if (name.Equals("Connection", StringComparison.OrdinalIgnoreCase) && value.Contains("close", StringComparison.OrdinalIgnoreCase)) close = true;
            }
            var bodyless = heads[result.Statuses.Count - 1] || status is 204 or 304;
            int consumed;
            if (bodyless)
                consumed = 0;
            else if (chunked)
            {
                if (ChunkedLength(rest[bodyStart..]) is not { } c)
                {
                    result.CutShort = ended;
                    return result;
                }
                consumed = c;
            }
            else if (length is { } l)
            {
                if (rest.Length - bodyStart < l)
                {
                    result.CutShort = ended;
                    return result;
                }
                consumed = (int)l;
            }
            else
            {
                // Delimited by the end of the connection.
                result.Complete = ended;
                return result;
            }
            position += bodyStart + consumed;
            if (close)
                break;
        }
        result.Complete = true;
        return result;
    }

    /// <summary>The length of a complete chunked body (through its last chunk and trailers); null when it has not all come.</summary>
    private static int? ChunkedLength(ReadOnlySpan<byte> body)
    {
        var position = 0;
        while (true)
        {
            var lineEnd = body[position..].IndexOf("\r\n"u8);
            if (lineEnd < 0)
                return null;
            var sizeText = Encoding.Latin1.GetString(body.Slice(position, lineEnd)).Split(';')[0].Trim();
            if (!int.TryParse(sizeText, System.Globalization.NumberStyles.HexNumber, null, out var size))
                return null;
            position += lineEnd + 2;
            if (size == 0)
            {
                var trailerEnd = body[position..].IndexOf("\r\n"u8);
                while (trailerEnd > 0)
                {
                    position += trailerEnd + 2;
                    trailerEnd = body[position..].IndexOf("\r\n"u8);
                }
                return trailerEnd < 0 ? null : position + 2;
            }
            if (body.Length < position + size + 2)
                return null;
            position += size + 2;
        }
    }
}
