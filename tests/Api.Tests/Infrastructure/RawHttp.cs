using System.Net.Sockets;
using System.Text;

namespace OrleansSessions.Api.Tests.Infrastructure;

/// <summary>
/// Sends bytes HttpClient refuses to send (control characters, raw non-ASCII, broken request
/// lines) over a plain socket and reads the response until the server closes the connection.
/// </summary>
public static class RawHttp
{
    public sealed record RawResponse(int Status, string Head, string Body);

    public static async Task<RawResponse> SendAsync(Uri server, byte[] request)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        using var client = new TcpClient();
        await client.ConnectAsync(server.Host, server.Port, timeout.Token);
        var stream = client.GetStream();
        await stream.WriteAsync(request, timeout.Token);
        await stream.FlushAsync(timeout.Token);
        using var received = new MemoryStream();
        var buffer = new byte[8192];
        try
        {
            int read;
            while ((read = await stream.ReadAsync(buffer, timeout.Token)) > 0)
                received.Write(buffer, 0, read);
        }
        catch (IOException) when (received.Length > 0)
        {
            // The server may reset the connection right after answering a request it rejected.
        }
        var text = Encoding.Latin1.GetString(received.ToArray());
        var split = text.IndexOf("\r\n\r\n", StringComparison.Ordinal);
        Assert.True(split > 0, $"no HTTP response head in: {text}");
        var head = text[..split];
        var body = text[(split + 4)..];
        if (head.Contains("Transfer-Encoding: chunked", StringComparison.OrdinalIgnoreCase))
            body = Unchunk(body);
        var lineEnd = head.IndexOf("\r\n", StringComparison.Ordinal);
        var statusLine = lineEnd >= 0 ? head[..lineEnd] : head;
        var status = int.Parse(statusLine.Split(' ')[1]);
        return new RawResponse(status, head, body);
    }

    /// <summary>Builds a request: the request line, then the given header lines, then the body.</summary>
    public static byte[] Request(string requestLine, IEnumerable<byte[]> headerLines, byte[]? body = null)
    {
        using var bytes = new MemoryStream();
        void Line(byte[] line)
        {
            bytes.Write(line);
            bytes.Write("\r\n"u8);
        }
        Line(Encoding.ASCII.GetBytes(requestLine));
        foreach (var header in headerLines)
            Line(header);
        Line([]);
        if (body is not null)
            bytes.Write(body);
        return bytes.ToArray();
    }

    public static byte[] Ascii(string line) => Encoding.ASCII.GetBytes(line);

    private static string Unchunk(string body)
    {
        var result = new StringBuilder();
        var position = 0;
        while (position < body.Length)
        {
            var lineEnd = body.IndexOf("\r\n", position, StringComparison.Ordinal);
            if (lineEnd < 0)
                break;
            var size = Convert.ToInt32(body[position..lineEnd].Split(';')[0].Trim(), 16);
            if (size == 0)
                break;
            result.Append(body, lineEnd + 2, size);
            position = lineEnd + 2 + size + 2;
        }
        return result.ToString();
    }
}
