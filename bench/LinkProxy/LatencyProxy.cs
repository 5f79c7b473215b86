using System.Buffers;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Threading.Channels;

namespace OrleansSessions.LinkProxy;

/// <summary>
/// A TCP proxy that stands for the network between two regions on one machine: every byte read from one side is
/// written to the other <see cref="Delay"/> after it was read, so a request and its answer cost twice the delay.
/// Each direction of a connection is a queue of chunks stamped with the time they are due; the writer waits for the
/// head of the queue only, so a stream of chunks is late by the delay once, not once per chunk, and order is kept.
/// A half-close (FIN) travels through the queue like data; a reset is passed on as a reset. <see cref="Cut"/> is the
/// partition: every open connection is reset on both sides at once, and new ones are accepted and reset at once until
/// <see cref="Restore"/> (the port stays bound, so nothing else can take it meanwhile).
/// Only data is delayed: the handshake with the target costs no round trip of its own.
/// </summary>
public sealed class LatencyProxy : IAsyncDisposable
{
    // What one read takes from a socket at most; a chunk is never larger.
    private const int ReadSize = 64 * 1024;

    // Chunks read but not yet written, per direction. When a direction has this many in flight the reader stops
    // reading, the kernel buffers fill and TCP slows the sender down, so a fast sender cannot grow the proxy without
    // bound. 256 chunks of up to 64 KiB carry 16 MiB per delay, far above what the links here move.
    private const int ChunksInFlight = 256;

    private readonly Socket _listener;
    private readonly Lock _gate = new();
    private readonly HashSet<Link> _open = [];
    private readonly CancellationTokenSource _stopping = new();
    private readonly Task _accepting;
    private long _delayTicks;
    private long _connections;
    private long _bytesForwarded;
    private bool _cut;
    private bool _disposed;

    private LatencyProxy(Socket listener, EndPoint target, TimeSpan delay)
    {
        _listener = listener;
        Target = target;
        Delay = delay;
        Listening = (IPEndPoint)listener.LocalEndPoint!;
        _accepting = AcceptAsync();
    }

    /// <summary>
    /// Listens on <paramref name="listen"/> (port 0 picks a free port, see <see cref="Listening"/>) and forwards every
    /// connection to <paramref name="target"/> (an <see cref="IPEndPoint"/> or a <see cref="DnsEndPoint"/>).
    /// </summary>
    public static Task<LatencyProxy> StartAsync(IPEndPoint listen, EndPoint target, TimeSpan oneWayDelay)
    {
        ArgumentNullException.ThrowIfNull(listen);
        ArgumentNullException.ThrowIfNull(target);
        var listener = new Socket(listen.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            if (listen.AddressFamily == AddressFamily.InterNetworkV6 && listen.Address.Equals(IPAddress.IPv6Any))
                listener.DualMode = true;
            listener.Bind(listen);
            listener.Listen(512);
            return Task.FromResult(new LatencyProxy(listener, target, oneWayDelay));
        }
        catch
        {
            listener.Dispose();
            throw;
        }
    }

    /// <summary>Where the proxy listens, with the port it was given when asked for port 0.</summary>
    public IPEndPoint Listening { get; }

    public EndPoint Target { get; }

    /// <summary>How long each chunk waits before it is written on. A change applies to data read from then on.</summary>
    public TimeSpan Delay
    {
        get => TimeSpan.FromTicks(Interlocked.Read(ref _delayTicks));
        set
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(value, TimeSpan.Zero);
            Interlocked.Exchange(ref _delayTicks, value.Ticks);
        }
    }

    public bool IsCut
    {
        get
        {
            lock (_gate)
                return _cut;
        }
    }

    /// <summary>Connections accepted and forwarded since the start (those refused while cut are not counted).</summary>
    public long Connections => Interlocked.Read(ref _connections);

    /// <summary>Bytes written (or being written) to either side since the start.</summary>
    public long BytesForwarded => Interlocked.Read(ref _bytesForwarded);

    /// <summary>Connections forwarded right now.</summary>
    public int OpenConnections
    {
        get
        {
            lock (_gate)
                return _open.Count;
        }
    }

    /// <summary>Resets every open connection on both sides and refuses new ones until <see cref="Restore"/>.</summary>
    public void Cut()
    {
        Link[] dropped;
        lock (_gate)
        {
            _cut = true;
            dropped = [.. _open];
        }
        foreach (var link in dropped)
            link.Abort();
    }

    /// <summary>Accepts connections again; the ones dropped by <see cref="Cut"/> stay dropped.</summary>
    public void Restore()
    {
        lock (_gate)
            _cut = false;
    }

    /// <summary>Stops listening, resets every open connection and waits until all of them have ended.</summary>
    public async ValueTask DisposeAsync()
    {
        Link[] open;
        lock (_gate)
        {
            if (_disposed)
                return;
            _disposed = true;
            open = [.. _open];
        }
        _stopping.Cancel();
        _listener.Dispose();
        await _accepting;
        foreach (var link in open)
            link.Abort();
        await Task.WhenAll(open.Select(link => link.Completion));
        _stopping.Dispose();
    }

    private async Task AcceptAsync()
    {
        while (!_stopping.IsCancellationRequested)
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
                // A client that gave up before it was accepted, or the process is out of descriptors: the listener is
                // still good. The pause keeps a lasting error from spinning a core.
                try
                {
                    await Task.Delay(TimeSpan.FromMilliseconds(10), _stopping.Token);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
                continue;
            }

            Link? link = null;
            lock (_gate)
            {
                // Checked and registered under the lock Cut takes, so a connection is either refused here or reset by
                // Cut: none slips through between the two.
                if (!_cut && !_disposed)
                {
                    link = new Link(this, client);
                    _open.Add(link);
                    Interlocked.Increment(ref _connections);
                }
            }
            if (link is null)
                Reset(client);
        }
    }

    private void Forget(Link link)
    {
        lock (_gate)
            _open.Remove(link);
    }

    private long DueTimestamp() => Stopwatch.GetTimestamp() + (long)(Delay.TotalSeconds * Stopwatch.Frequency);

    /// <summary>Closes a socket with a reset (RST) rather than a FIN, which is what a broken link looks like to a peer.</summary>
    private static void Reset(Socket? socket)
    {
        if (socket is null)
            return;
        try
        {
            socket.LingerState = new LingerOption(true, 0);
        }
        catch (Exception exception) when (exception is SocketException or ObjectDisposedException)
        {
            // Already closed or broken: disposing it is all that is left to do.
        }
        socket.Dispose();
    }

    private enum ChunkKind { Data, End, Reset }

    private readonly record struct Chunk(ChunkKind Kind, byte[]? Data, int Length, long Due);

    /// <summary>One client connection and its connection to the target, forwarded both ways.</summary>
    private sealed class Link
    {
        private readonly LatencyProxy _proxy;
        private readonly Socket _client;
        // Never disposed: Abort may come from Cut after the link has ended, and a source without timers needs no Dispose.
        private readonly CancellationTokenSource _aborted = new();
        private Socket? _server;
        private int _abortStarted;

        public Link(LatencyProxy proxy, Socket client)
        {
            _proxy = proxy;
            _client = client;
            // Started off the accept loop (and outside the proxy's lock, which the constructor runs under).
            Completion = Task.Run(RunAsync);
        }

        /// <summary>Ends when both directions have ended; never faults.</summary>
        public Task Completion { get; }

        /// <summary>Resets both sides at once; whatever was queued is dropped.</summary>
        public void Abort()
        {
            if (Interlocked.Exchange(ref _abortStarted, 1) != 0)
                return;
            _aborted.Cancel();
            Reset(_client);
            Reset(Volatile.Read(ref _server));
        }

        private async Task RunAsync()
        {
            var token = _aborted.Token;
            try
            {
                var server = _proxy.Target is IPEndPoint ip
                    ? new Socket(ip.AddressFamily, SocketType.Stream, ProtocolType.Tcp)
                    : new Socket(SocketType.Stream, ProtocolType.Tcp);
                Volatile.Write(ref _server, server);
                // Abort reads _server after cancelling: if it ran before the write above it did not see this socket.
                if (token.IsCancellationRequested)
                {
                    Reset(server);
                    return;
                }
                // Small chunks go out as they come: Nagle's algorithm would add delays of its own.
                _client.NoDelay = true;
                server.NoDelay = true;
                await server.ConnectAsync(_proxy.Target, token);
                await Task.WhenAll(ForwardAsync(_client, server, token), ForwardAsync(server, _client, token));
            }
            catch (Exception)
            {
                // The target refused or could not be reached, or the link was aborted while connecting: the client
                // sees a reset, as it would from a refused connection.
                Abort();
            }
            finally
            {
                // Both directions have ended with a FIN delivered, or the link was reset: what is left is to let go.
                // Aborted, this may run before Abort has set its sockets to reset (the cancellation wakes this up
                // first): closing them here must reset them too, or the peer sees a FIN.
                if (Volatile.Read(ref _abortStarted) != 0)
                {
                    Reset(_client);
                    Reset(_server);
                }
                _client.Dispose();
                _server?.Dispose();
                _proxy.Forget(this);
            }
        }

        /// <summary>Reads from <paramref name="source"/> and writes to <paramref name="destination"/>, each chunk the delay after it was read.</summary>
        private async Task ForwardAsync(Socket source, Socket destination, CancellationToken token)
        {
            var queue = Channel.CreateBounded<Chunk>(new BoundedChannelOptions(ChunksInFlight) { SingleReader = true, SingleWriter = true });
            var delivering = DeliverAsync(queue.Reader, destination, token);
            var buffer = ArrayPool<byte>.Shared.Rent(ReadSize);
            try
            {
                while (true)
                {
                    var read = await source.ReceiveAsync(buffer.AsMemory(0, ReadSize), SocketFlags.None, token);
                    // Stamped when read, so time spent waiting in the queue counts towards the delay instead of adding to it.
                    var due = _proxy.DueTimestamp();
                    if (read == 0)
                    {
                        await queue.Writer.WriteAsync(new Chunk(ChunkKind.End, null, 0, due), token);
                        break;
                    }
                    var data = ArrayPool<byte>.Shared.Rent(read);
                    buffer.AsSpan(0, read).CopyTo(data);
                    await queue.Writer.WriteAsync(new Chunk(ChunkKind.Data, data, read, due), token);
                }
            }
            catch (Exception) when (!token.IsCancellationRequested)
            {
                // The source reset or failed: the destination is told the same way, after what was read before it and
                // as late as a byte would be.
                try
                {
                    await queue.Writer.WriteAsync(new Chunk(ChunkKind.Reset, null, 0, _proxy.DueTimestamp()), token);
                }
                catch (Exception)
                {
                    Abort();
                }
            }
            catch (Exception)
            {
                // Aborted: Abort has reset both sockets already.
            }
            finally
            {
                queue.Writer.TryComplete();
                ArrayPool<byte>.Shared.Return(buffer);
            }
            await delivering;
        }

        private async Task DeliverAsync(ChannelReader<Chunk> queue, Socket destination, CancellationToken token)
        {
            try
            {
                await foreach (var chunk in queue.ReadAllAsync(token))
                {
                    await UntilAsync(chunk.Due, token);
                    switch (chunk.Kind)
                    {
                        case ChunkKind.Data:
                            // Counted before the write, so whoever has received the bytes also sees them counted.
                            Interlocked.Add(ref _proxy._bytesForwarded, chunk.Length);
                            await SendAllAsync(destination, chunk.Data.AsMemory(0, chunk.Length), token);
                            ArrayPool<byte>.Shared.Return(chunk.Data!);
                            break;
                        case ChunkKind.End:
                            destination.Shutdown(SocketShutdown.Send);
                            return;
                        case ChunkKind.Reset:
                            Abort();
                            return;
                    }
                }
            }
            catch (Exception)
            {
                // The destination reset or failed, or the link was aborted: either way the link is over. Chunks left in
                // the queue are not returned to the pool; the collector takes them.
                Abort();
            }
        }

        private static async Task SendAllAsync(Socket destination, ReadOnlyMemory<byte> data, CancellationToken token)
        {
            while (!data.IsEmpty)
                data = data[await destination.SendAsync(data, SocketFlags.None, token)..];
        }

        /// <summary>
        /// Waits until the stopwatch reaches <paramref name="due"/>. Timers round to milliseconds and may fire a little
        /// early, so the wait is checked and repeated: a chunk is never written before it is due.
        /// </summary>
        private static async Task UntilAsync(long due, CancellationToken token)
        {
            while (true)
            {
                var remaining = Stopwatch.GetElapsedTime(Stopwatch.GetTimestamp(), due);
                if (remaining <= TimeSpan.Zero)
                    return;
                await Task.Delay(TimeSpan.FromMilliseconds(Math.Ceiling(remaining.TotalMilliseconds)), token);
            }
        }
    }
}
