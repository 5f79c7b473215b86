using System.Net;
using System.Net.Sockets;

namespace OrleansSessions.Api.Tests.Infrastructure;

/// <summary>
/// Hands out TCP ports for the Orleans silo and gateway listeners, which (unlike Kestrel) cannot
/// bind port 0. Ports come from below the kernel's ephemeral range (Linux: 32768–60999), so a
/// Kestrel listener on port 0 can never be given one of them between hand-out and bind; a
/// process-wide lock and set make sure parallel test classes never get the same port; each port
/// is checked to be free on loopback and on every interface at the moment it is handed out.
/// </summary>
public static class FreePorts
{
    private const int Low = 20_000;
    private const int High = 32_000;
    private static readonly Lock Gate = new();
    private static readonly HashSet<int> HandedOut = [];
    // A random start per process, so concurrent test processes (other suites) rarely probe the same ports.
    private static int _next = Low + Random.Shared.Next(High - Low);

    public static int Next()
    {
        lock (Gate)
        {
            for (var attempt = 0; attempt < High - Low; attempt++)
            {
                var port = _next;
                _next = _next + 1 >= High ? Low : _next + 1;
                if (HandedOut.Contains(port) || !IsFree(port))
                    continue;
                HandedOut.Add(port);
                return port;
            }
        }
        throw new InvalidOperationException($"No free TCP port between {Low} and {High}.");
    }

    /// <summary>The first of <paramref name="count"/> consecutive free ports (for tools that number ports from a base).</summary>
    public static int NextRange(int count)
    {
        lock (Gate)
        {
            for (var attempt = 0; attempt < High - Low; attempt++)
            {
                var first = _next;
                _next = _next + count >= High ? Low : _next + count;
                if (first + count > High || !Enumerable.Range(first, count).All(p => !HandedOut.Contains(p) && IsFree(p)))
                    continue;
                HandedOut.UnionWith(Enumerable.Range(first, count));
                return first;
            }
        }
        throw new InvalidOperationException($"No {count} consecutive free TCP ports between {Low} and {High}.");
    }

    private static bool IsFree(int port) => CanBind(IPAddress.Loopback, port) && CanBind(IPAddress.Any, port);

    private static bool CanBind(IPAddress address, int port)
    {
        try
        {
            using var socket = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
            socket.Bind(new IPEndPoint(address, port));
            socket.Listen(1);
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }
}
