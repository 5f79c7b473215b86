using System.Net.Sockets;
using System.Runtime.InteropServices;
using OrleansSessions.LinkProxy;

// One latency proxy per process (LatencyProxy.cs), with an optional HTTP switch to cut and restore it (ControlEndpoint.cs).
LinkOptions options;
try
{
    if (args is ["--help" or "-h"])
    {
        Console.WriteLine(LinkOptions.Usage);
        return 0;
    }
    options = LinkOptions.Parse(args);
}
catch (FormatException exception)
{
    Console.Error.WriteLine(exception.Message);
    Console.Error.WriteLine(LinkOptions.Usage);
    return 2;
}

using var stopping = new CancellationTokenSource();
// The first Ctrl-C (or SIGTERM) stops the proxy cleanly; a second one ends the process at once.
void Stop(PosixSignalContext signal)
{
    signal.Cancel = !stopping.IsCancellationRequested;
    stopping.Cancel();
}
using var onInterrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, Stop);
using var onTerminate = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Stop);

LatencyProxy proxy;
try
{
    proxy = await LatencyProxy.StartAsync(options.Listen, options.Target, options.Delay);
}
catch (SocketException exception)
{
    Console.Error.WriteLine($"cannot listen on {options.Listen}: {exception.Message}");
    return 1;
}
await using (proxy)
{
    ControlEndpoint? control = null;
    try
    {
        if (options.Control is not null)
            control = ControlEndpoint.Start(options.Control, proxy, Console.Out);
    }
    catch (SocketException exception)
    {
        Console.Error.WriteLine($"cannot serve the control endpoint on {options.Control}: {exception.Message}");
        return 1;
    }

    // Scripts wait for this line: the proxy is listening and the control endpoint answering once it is printed.
    var controlPart = control is null ? "" : $", control {control.Address.ToString().TrimEnd('/')}";
    Console.WriteLine($"link proxy {proxy.Listening} -> {LinkOptions.Describe(proxy.Target)}, delay {LinkOptions.Milliseconds(proxy.Delay)} ms{controlPart}");

    try
    {
        await Task.Delay(Timeout.Infinite, stopping.Token);
    }
    catch (OperationCanceledException)
    {
        // SIGTERM or Ctrl-C: stop below.
    }
    if (control is not null)
        await control.DisposeAsync();
}
Console.WriteLine("link proxy stopped");
return 0;
