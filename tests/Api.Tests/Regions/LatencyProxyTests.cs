using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using System.Threading.Channels;
using OrleansSessions.Api.Tests.Infrastructure;
using OrleansSessions.LinkProxy;

namespace OrleansSessions.Api.Tests.Regions;

/// <summary>
/// The link proxy (bench/LinkProxy) that stands for the network between regions: real sockets on loopback, an echo
/// server behind the proxy. Bytes arrive intact and in order, a round trip costs twice the one-way delay, a stream is
/// delayed once and not once per chunk, a cut resets both sides and refuses new connections until restored, and the
/// delay can be changed while connections are open. Timing tests run alone, so the margins hold on a busy machine.
/// </summary>
[Collection(TimedCollection.Name)]
public sealed class LatencyProxyTests
{
    // How long something that should happen "at once" (a reset, a refusal) may take before the test says it did not.
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(2);

    [Fact]
    public async Task Bytes_arrive_intact_both_ways_and_a_half_close_travels_through()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await using var echo = EchoServer.Start();
        await using var proxy = await LatencyProxy.StartAsync(new IPEndPoint(IPAddress.Loopback, 0), echo.EndPoint, TimeSpan.FromMilliseconds(10));
        var sent = new byte[1024 * 1024];
        Random.Shared.NextBytes(sent);

        using var client = await ConnectAsync(proxy.Listening, timeout.Token);
        // Read while writing: the echo comes back as the bytes go out, and nobody reading would stall both.
        var receiving = ReadToEndAsync(client, timeout.Token);
        for (var offset = 0; offset < sent.Length; offset += 10_000)
            await SendAllAsync(client, sent.AsMemory(offset, Math.Min(10_000, sent.Length - offset)), timeout.Token);
        // The echo server answers our FIN with its own once it has echoed everything: the read ends only if the
        // half-close went through the proxy to the server and back.
        client.Shutdown(SocketShutdown.Send);
        var received = await receiving;

        Assert.Equal(sent.Length, received.Length);
        Assert.True(sent.AsSpan().SequenceEqual(received), "the echoed bytes differ from the ones sent");
        var server = await echo.NextConnectionAsync(timeout.Token);
        Assert.False(await server.ResetAsync.WaitAsync(Bound), "the server side saw a reset, not a FIN");
        Assert.Equal(2L * sent.Length, proxy.BytesForwarded);
        Assert.Equal(1, proxy.Connections);
    }

    [Fact]
    public async Task A_round_trip_through_a_50_ms_proxy_takes_twice_the_delay()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await using var echo = EchoServer.Start();
        await using var proxy = await LatencyProxy.StartAsync(new IPEndPoint(IPAddress.Loopback, 0), echo.EndPoint, TimeSpan.FromMilliseconds(50));
        using var client = await ConnectAsync(proxy.Listening, timeout.Token);
        // The first round trip also pays for the proxy's connection to the target and for compiling the code on the
        // way; it is held to the lower bound only.
        var first = await RoundTripAsync(client, 16, timeout.Token);
        Assert.True(first >= TimeSpan.FromMilliseconds(100), $"the first round trip took {first.TotalMilliseconds} ms, less than twice the delay");

        for (var i = 0; i < 3; i++)
        {
            var elapsed = await RoundTripAsync(client, 16, timeout.Token);
            Assert.True(elapsed >= TimeSpan.FromMilliseconds(100), $"round trip {i} took {elapsed.TotalMilliseconds} ms, less than twice the delay");
            Assert.True(elapsed < TimeSpan.FromSeconds(1), $"round trip {i} took {elapsed.TotalMilliseconds} ms");
        }
    }

    [Fact]
    public async Task A_stream_of_writes_is_delayed_once_not_once_per_chunk()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var delay = TimeSpan.FromMilliseconds(50);
        await using var echo = EchoServer.Start();
        await using var proxy = await LatencyProxy.StartAsync(new IPEndPoint(IPAddress.Loopback, 0), echo.EndPoint, delay);
        using var client = await ConnectAsync(proxy.Listening, timeout.Token);
        await RoundTripAsync(client, 16, timeout.Token);
        // 100 writes of 8 KiB back to back. The kernel may hand them to the proxy in any grouping, but 800 KiB is more
        // than twelve of the proxy's reads (64 KiB at most), so it handles at least 13 chunks each way. Delayed once,
        // the echo is back after two delays; delayed once per chunk it would take at least 26, far past the bound of
        // 20, which leaves a busy machine room to be slow.
        var write = new byte[8192];
        Random.Shared.NextBytes(write);
        const int writes = 100;

        var watch = Stopwatch.StartNew();
        var receiving = ReadExactlyAsync(client, writes * write.Length, timeout.Token);
        for (var i = 0; i < writes; i++)
            await SendAllAsync(client, write, timeout.Token);
        var received = await receiving;
        var elapsed = watch.Elapsed;

        for (var i = 0; i < writes; i++)
            Assert.True(received.AsSpan(i * write.Length, write.Length).SequenceEqual(write), $"write {i} came back changed");
        Assert.True(elapsed >= 2 * delay, $"the stream came back after {elapsed.TotalMilliseconds} ms, sooner than two delays");
        Assert.True(elapsed < 20 * delay, $"the stream came back after {elapsed.TotalMilliseconds} ms: the delay stacked");
    }

    [Fact]
    public async Task Cut_resets_both_sides_and_refuses_new_connections_until_restored()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await using var echo = EchoServer.Start();
        await using var proxy = await LatencyProxy.StartAsync(new IPEndPoint(IPAddress.Loopback, 0), echo.EndPoint, TimeSpan.FromMilliseconds(20));
        using var before = await ConnectAsync(proxy.Listening, timeout.Token);
        await RoundTripAsync(before, 16, timeout.Token);
        var serverSide = await echo.NextConnectionAsync(timeout.Token);
        Assert.False(proxy.IsCut);

        proxy.Cut();

        Assert.True(proxy.IsCut);
        // The open connection is reset on the client's side: its next read fails, and so does a write after it.
        var readError = await Assert.ThrowsAsync<SocketException>(() => ReadOnceAsync(before, timeout.Token).WaitAsync(Bound));
        Assert.Equal(SocketError.ConnectionReset, readError.SocketErrorCode);
        await Assert.ThrowsAsync<SocketException>(() => SendAllAsync(before, new byte[16], timeout.Token).WaitAsync(Bound));
        // ... and on the server's side.
        Assert.True(await serverSide.ResetAsync.WaitAsync(Bound), "the server side of the cut connection ended with a FIN, not a reset");

        // A new connection is accepted by the kernel and reset by the proxy: no data, and no connection to the target.
        Assert.Equal((0, true), await TryAsync(proxy.Listening, timeout.Token).WaitAsync(Bound));
        Assert.Equal(1, echo.Accepted);
        Assert.Equal(1, proxy.Connections);

        proxy.Restore();

        Assert.False(proxy.IsCut);
        using var after = await ConnectAsync(proxy.Listening, timeout.Token);
        await RoundTripAsync(after, 16, timeout.Token);
        Assert.Equal(2, echo.Accepted);
        Assert.Equal(2, proxy.Connections);
    }

    [Fact]
    public async Task Changing_the_delay_applies_to_new_data_on_open_connections()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await using var echo = EchoServer.Start();
        await using var proxy = await LatencyProxy.StartAsync(new IPEndPoint(IPAddress.Loopback, 0), echo.EndPoint, TimeSpan.FromMilliseconds(50));
        using var client = await ConnectAsync(proxy.Listening, timeout.Token);
        var at50 = await RoundTripAsync(client, 16, timeout.Token);
        Assert.True(at50 >= TimeSpan.FromMilliseconds(100), $"at 50 ms: {at50.TotalMilliseconds} ms");

        proxy.Delay = TimeSpan.FromMilliseconds(300);
        Assert.Equal(TimeSpan.FromMilliseconds(300), proxy.Delay);
        var at300 = await RoundTripAsync(client, 16, timeout.Token);
        Assert.True(at300 >= TimeSpan.FromMilliseconds(600), $"at 300 ms: {at300.TotalMilliseconds} ms");
        Assert.True(at300 < TimeSpan.FromSeconds(2), $"at 300 ms: {at300.TotalMilliseconds} ms");

        // Back down: faster than a round trip at 300 ms could ever be, whatever else the machine is doing.
        proxy.Delay = TimeSpan.Zero;
        var at0 = await RoundTripAsync(client, 16, timeout.Token);
        Assert.True(at0 < TimeSpan.FromMilliseconds(600), $"at 0 ms: {at0.TotalMilliseconds} ms, no faster than at 300 ms");
    }

    [Fact]
    public async Task A_client_that_resets_is_passed_on_as_a_reset_and_the_proxy_goes_on()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await using var echo = EchoServer.Start();
        await using var proxy = await LatencyProxy.StartAsync(new IPEndPoint(IPAddress.Loopback, 0), echo.EndPoint, TimeSpan.FromMilliseconds(20));
        var rude = await ConnectAsync(proxy.Listening, timeout.Token);
        await RoundTripAsync(rude, 16, timeout.Token);
        var serverSide = await echo.NextConnectionAsync(timeout.Token);

        rude.LingerState = new LingerOption(true, 0);
        rude.Dispose();

        Assert.True(await serverSide.ResetAsync.WaitAsync(Bound), "the client's reset reached the server as a FIN");
        using var next = await ConnectAsync(proxy.Listening, timeout.Token);
        await RoundTripAsync(next, 16, timeout.Token);
    }

    [Fact]
    public async Task A_target_that_refuses_resets_the_client_and_the_proxy_goes_on()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        // A port that was free a moment ago and has no listener: connecting to it is refused.
        IPEndPoint nobody;
        using (var probe = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp))
        {
            probe.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            nobody = (IPEndPoint)probe.LocalEndPoint!;
        }
        await using var proxy = await LatencyProxy.StartAsync(new IPEndPoint(IPAddress.Loopback, 0), nobody, TimeSpan.FromMilliseconds(20));

        for (var i = 0; i < 2; i++)
            Assert.Equal((0, true), await TryAsync(proxy.Listening, timeout.Token).WaitAsync(Bound));
        Assert.Equal(2, proxy.Connections);
    }

    [Fact]
    public async Task Dispose_stops_listening_and_resets_open_connections()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await using var echo = EchoServer.Start();
        var proxy = await LatencyProxy.StartAsync(new IPEndPoint(IPAddress.Loopback, 0), echo.EndPoint, TimeSpan.FromMilliseconds(20));
        using var client = await ConnectAsync(proxy.Listening, timeout.Token);
        await RoundTripAsync(client, 16, timeout.Token);

        await proxy.DisposeAsync().AsTask().WaitAsync(Bound);

        await Assert.ThrowsAsync<SocketException>(() => ReadOnceAsync(client, timeout.Token).WaitAsync(Bound));
        var refused = await Assert.ThrowsAsync<SocketException>(() => ConnectAsync(proxy.Listening, timeout.Token));
        Assert.Equal(SocketError.ConnectionRefused, refused.SocketErrorCode);
    }

    [Fact]
    public async Task The_control_endpoint_cuts_restores_sets_the_delay_and_reports()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await using var echo = EchoServer.Start();
        await using var proxy = await LatencyProxy.StartAsync(new IPEndPoint(IPAddress.Loopback, 0), echo.EndPoint, TimeSpan.FromMilliseconds(20));
        var log = new StringWriter();
        await using var control = ControlEndpoint.Start(new IPEndPoint(IPAddress.Loopback, 0), proxy, TextWriter.Synchronized(log));
        using var http = new HttpClient { BaseAddress = control.Address };

        async Task<JsonElement> CallAsync(HttpMethod method, string path)
        {
            using var response = await http.SendAsync(new HttpRequestMessage(method, path), timeout.Token);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            return JsonDocument.Parse(await response.Content.ReadAsStringAsync(timeout.Token)).RootElement;
        }

        var state = await CallAsync(HttpMethod.Get, "/");
        Assert.Equal(proxy.Listening.ToString(), state.GetProperty("listen").GetString());
        Assert.Equal(echo.EndPoint.ToString(), state.GetProperty("target").GetString());
        Assert.Equal(20, state.GetProperty("delay_ms").GetDouble());
        Assert.False(state.GetProperty("cut").GetBoolean());

        Assert.True((await CallAsync(HttpMethod.Post, "/cut")).GetProperty("cut").GetBoolean());
        Assert.True(proxy.IsCut);
        Assert.False((await CallAsync(HttpMethod.Post, "/restore")).GetProperty("cut").GetBoolean());
        Assert.False(proxy.IsCut);
        Assert.Equal(75, (await CallAsync(HttpMethod.Post, "/delay?ms=75")).GetProperty("delay_ms").GetDouble());
        Assert.Equal(TimeSpan.FromMilliseconds(75), proxy.Delay);

        using var client = await ConnectAsync(proxy.Listening, timeout.Token);
        await RoundTripAsync(client, 16, timeout.Token);
        state = await CallAsync(HttpMethod.Get, "/");
        Assert.Equal(1, state.GetProperty("connections").GetInt64());
        Assert.Equal(32, state.GetProperty("bytes").GetInt64());

        using var bad = await http.PostAsync("/delay?ms=soon", null, timeout.Token);
        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
        using var unknown = await http.GetAsync("/nothing", timeout.Token);
        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
        Assert.Equal(TimeSpan.FromMilliseconds(75), proxy.Delay);
        Assert.Equal(new[] { "link cut: open connections reset, new ones refused", "link restored", "delay 75 ms" },
            log.ToString().Split(Environment.NewLine, StringSplitOptions.RemoveEmptyEntries));
    }

    [Theory]
    [InlineData("50ms", 50)]
    [InlineData("0.05s", 50)]
    [InlineData("1s", 1000)]
    [InlineData("1.5ms", 1.5)]
    [InlineData("0", 0)]
    public void Durations_read_with_their_unit(string text, double milliseconds)
    {
        Assert.Equal(TimeSpan.FromMilliseconds(milliseconds), LinkOptions.ParseDuration(text));
    }

    [Theory]
    [InlineData("50")]
    [InlineData("-5ms")]
    [InlineData("fast")]
    [InlineData("ms")]
    public void Durations_without_a_unit_or_a_number_are_refused(string text)
    {
        Assert.Throws<FormatException>(() => LinkOptions.ParseDuration(text));
    }

    [Fact]
    public void The_command_line_names_listen_target_delay_and_control()
    {
        var options = LinkOptions.Parse(["--listen", "127.0.0.1:7001", "--to", "localhost:5432", "--delay", "50ms", "--control=127.0.0.1:7101"]);

        Assert.Equal(IPEndPoint.Parse("127.0.0.1:7001"), options.Listen);
        Assert.Equal(new DnsEndPoint("localhost", 5432), options.Target);
        Assert.Equal(TimeSpan.FromMilliseconds(50), options.Delay);
        Assert.Equal(IPEndPoint.Parse("127.0.0.1:7101"), options.Control);
        Assert.Throws<FormatException>(() => LinkOptions.Parse(["--listen", "127.0.0.1:7001"]));
        Assert.Throws<FormatException>(() => LinkOptions.Parse(["--listen", "127.0.0.1", "--to", "127.0.0.1:5432"]));
        Assert.Throws<FormatException>(() => LinkOptions.Parse(["--listen", "127.0.0.1:7001", "--to", "127.0.0.1:5432", "--delay"]));
    }

    private static async Task<Socket> ConnectAsync(IPEndPoint endPoint, CancellationToken token)
    {
        var socket = new Socket(endPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(endPoint, token);
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>Writes <paramref name="size"/> random bytes and reads them back; the time from the write to the last byte read.</summary>
    private static async Task<TimeSpan> RoundTripAsync(Socket socket, int size, CancellationToken token)
    {
        var sent = new byte[size];
        Random.Shared.NextBytes(sent);
        var watch = Stopwatch.StartNew();
        await SendAllAsync(socket, sent, token);
        var received = await ReadExactlyAsync(socket, size, token);
        var elapsed = watch.Elapsed;
        Assert.Equal(sent, received);
        return elapsed;
    }

    private static async Task SendAllAsync(Socket socket, ReadOnlyMemory<byte> data, CancellationToken token)
    {
        while (!data.IsEmpty)
            data = data[await socket.SendAsync(data, SocketFlags.None, token)..];
    }

    private static async Task<byte[]> ReadExactlyAsync(Socket socket, int count, CancellationToken token)
    {
        var buffer = new byte[count];
        for (var filled = 0; filled < count;)
        {
            var read = await socket.ReceiveAsync(buffer.AsMemory(filled), SocketFlags.None, token);
            Assert.True(read > 0, $"the connection closed after {filled} of {count} bytes");
            filled += read;
        }
        return buffer;
    }

    private static async Task<byte[]> ReadToEndAsync(Socket socket, CancellationToken token)
    {
        using var received = new MemoryStream();
        var buffer = new byte[64 * 1024];
        int read;
        while ((read = await socket.ReceiveAsync(buffer, SocketFlags.None, token)) > 0)
            received.Write(buffer, 0, read);
        return received.ToArray();
    }

    /// <summary>One read: how many bytes it returned (0 for a FIN); a reset throws.</summary>
    private static async Task<int> ReadOnceAsync(Socket socket, CancellationToken token) =>
        await socket.ReceiveAsync(new byte[1024], SocketFlags.None, token);

    /// <summary>
    /// Connects, writes and reads until the connection ends: how many bytes came back, and whether it ended by a reset
    /// (rather than a FIN). The proxy's reset may come so soon that the connect or the write already fails with it.
    /// </summary>
    private static async Task<(int Received, bool Reset)> TryAsync(IPEndPoint endPoint, CancellationToken token)
    {
        var received = 0;
        try
        {
            using var socket = await ConnectAsync(endPoint, token);
            await SendAllAsync(socket, new byte[16], token);
            int read;
            while ((read = await ReadOnceAsync(socket, token)) > 0)
                received += read;
            return (received, false);
        }
        catch (SocketException exception) when (exception.SocketErrorCode is SocketError.ConnectionReset or SocketError.Shutdown)
        {
            return (received, true);
        }
    }

    /// <summary>The target behind the proxy: echoes each connection until its FIN, then sends its own.</summary>
    private sealed class EchoServer : IAsyncDisposable
    {
        private readonly Socket _listener;
        private readonly CancellationTokenSource _stopping = new();
        private readonly Channel<ServerConnection> _connections = Channel.CreateUnbounded<ServerConnection>();
        private readonly List<Task> _running = [];
        private readonly Task _accepting;
        private int _accepted;

        private EchoServer(Socket listener)
        {
            _listener = listener;
            EndPoint = (IPEndPoint)listener.LocalEndPoint!;
            _accepting = AcceptAsync();
        }

        public IPEndPoint EndPoint { get; }

        public int Accepted => Volatile.Read(ref _accepted);

        public static EchoServer Start()
        {
            var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            listener.Listen(16);
            return new EchoServer(listener);
        }

        /// <summary>The next connection the server accepted, in order.</summary>
        public async Task<ServerConnection> NextConnectionAsync(CancellationToken token) => await _connections.Reader.ReadAsync(token);

        public async ValueTask DisposeAsync()
        {
            _stopping.Cancel();
            _listener.Dispose();
            await _accepting;
            Task[] running;
            lock (_running)
                running = [.. _running];
            await Task.WhenAll(running);
            _stopping.Dispose();
        }

        private async Task AcceptAsync()
        {
            while (true)
            {
                Socket socket;
                try
                {
                    socket = await _listener.AcceptAsync(_stopping.Token);
                }
                catch (Exception exception) when (exception is OperationCanceledException or ObjectDisposedException or SocketException)
                {
                    return;
                }
                Interlocked.Increment(ref _accepted);
                socket.NoDelay = true;
                var connection = new ServerConnection();
                _connections.Writer.TryWrite(connection);
                lock (_running)
                    _running.Add(EchoAsync(socket, connection));
            }
        }

        private async Task EchoAsync(Socket socket, ServerConnection connection)
        {
            using (socket)
            {
                var buffer = new byte[64 * 1024];
                try
                {
                    int read;
                    while ((read = await socket.ReceiveAsync(buffer, SocketFlags.None, _stopping.Token)) > 0)
                        await SendAllAsync(socket, buffer.AsMemory(0, read), _stopping.Token);
                    socket.Shutdown(SocketShutdown.Send);
                    connection.Ended(reset: false);
                }
                catch (Exception exception) when (exception is SocketException or OperationCanceledException)
                {
                    connection.Ended(reset: true);
                }
            }
        }
    }

    /// <summary>The server's side of one connection: how it ended.</summary>
    private sealed class ServerConnection
    {
        private readonly TaskCompletionSource<bool> _ended = new(TaskCreationOptions.RunContinuationsAsynchronously);

        /// <summary>True once the connection ended by a reset (or an error), false once it ended by a FIN.</summary>
        public Task<bool> ResetAsync => _ended.Task;

        public void Ended(bool reset) => _ended.TrySetResult(reset);
    }
}
