using System.Net;
using System.Text;
using Microsoft.Extensions.Configuration;

namespace OrleansSessions.Api.Sessions;

/// <summary>Configuration <c>serve:public:trusted_proxies</c>: who may tell us the client's address.</summary>
public sealed class TrustedProxySettings
{
    public const string Section = "serve:public";

    /// <summary>IP addresses or CIDR ranges (<c>10.0.0.0/8</c>) of the proxies in front of the public port.</summary>
    [ConfigurationKeyName("trusted_proxies")]
    public List<string> TrustedProxies { get; set; } = [];
}

/// <summary>Configuration <c>session:device</c>: where a device's location comes from.</summary>
public sealed class DeviceSettings
{
    public const string Section = "session:device";

    public static readonly IReadOnlyList<string> DefaultLocationHeaders = ["Cf-Ipcity", "Cf-Ipcountry"];

    /// <summary>Request headers whose values, joined by ", ", make the location; unset: Cloudflare's city and country.</summary>
    [ConfigurationKeyName("location_headers")]
    public List<string>? LocationHeaders { get; set; }
}

/// <summary>
/// The device a session is created from (Kratos's <c>sessionDevice</c>): the client's address, its
/// <c>User-Agent</c>, and a location from headers a CDN sets. The address is the connection's, unless the
/// connection comes from a configured trusted proxy: then <c>True-Client-IP</c>, <c>X-Real-IP</c>, or the
/// right-most <c>X-Forwarded-For</c> entry that is not itself a trusted proxy (the left-most when all are).
/// A client that reaches the port directly cannot choose its recorded address.
/// </summary>
public sealed class Devices
{
    public const int MaxLocationBytes = 512;

    private readonly IPNetwork[] _trustedProxies;
    private readonly string[] _locationHeaders;

    public Devices(IOptions<TrustedProxySettings> proxies, IOptions<DeviceSettings> devices)
    {
        _trustedProxies = [.. proxies.Value.TrustedProxies.Where(p => !string.IsNullOrWhiteSpace(p)).Select(ParseNetwork)];
        _locationHeaders = [.. (devices.Value.LocationHeaders ?? [.. DeviceSettings.DefaultLocationHeaders]).Where(h => !string.IsNullOrWhiteSpace(h)).Select(h => h.Trim())];
    }

    /// <summary>The device of a request, as a session issued for it records it.</summary>
    public (string? IpAddress, string? UserAgent, string? Location) Of(HttpContext context)
    {
        var request = context.Request;
        var userAgent = request.Headers.UserAgent.Count == 0 ? null
            : SessionIssuanceApi.TruncateUtf8(string.Join(' ', request.Headers.UserAgent.ToArray()), SessionIssuanceApi.MaxUserAgentBytes);
        var location = string.Join(", ", _locationHeaders.Select(h => request.Headers[h].ToString().Trim()).Where(v => v.Length > 0));
        return (ClientAddress(context)?.ToString(), string.IsNullOrEmpty(userAgent) ? null : userAgent,
            location.Length == 0 ? null : SessionIssuanceApi.TruncateUtf8(location, MaxLocationBytes));
    }

    /// <summary>The client's address: the connection's, or what a trusted proxy in front of us says it is.</summary>
    public IPAddress? ClientAddress(HttpContext context)
    {
        var remote = Normalize(context.Connection.RemoteIpAddress);
        if (remote is null || !IsTrustedProxy(remote))
            return remote;
        var headers = context.Request.Headers;
        foreach (var name in (ReadOnlySpan<string>)["True-Client-IP", "X-Real-IP"])
            if (TryParseAddress(headers[name].FirstOrDefault(), out var address))
                return address;

        var forwarded = headers["X-Forwarded-For"].SelectMany(v => (v ?? "").Split(',')).ToArray();
        IPAddress? leftMost = null;
        for (var i = forwarded.Length - 1; i >= 0; i--)
        {
            if (!TryParseAddress(forwarded[i], out var hop))
                continue;
            if (!IsTrustedProxy(hop))
                return hop;
            leftMost = hop;
        }
        return leftMost ?? remote;
    }

    private bool IsTrustedProxy(IPAddress address)
    {
        foreach (var network in _trustedProxies)
            if (network.Contains(address))
                return true;
        return false;
    }

    private static bool TryParseAddress(string? text, out IPAddress address)
    {
        address = IPAddress.None;
        text = text?.Trim();
        if (string.IsNullOrEmpty(text) || text.Length > 64 || !IPAddress.TryParse(text, out var parsed))
            return false;
        address = Normalize(parsed)!;
        return true;
    }

    private static IPAddress? Normalize(IPAddress? address) =>
        address is { IsIPv4MappedToIPv6: true } ? address.MapToIPv4() : address;

    private static IPNetwork ParseNetwork(string text)
    {
        text = text.Trim();
        if (text.Contains('/') && IPNetwork.TryParse(text, out var network))
            return network;
        if (!text.Contains('/') && IPAddress.TryParse(text, out var address))
        {
            address = Normalize(address)!;
            return new IPNetwork(address, address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork ? 32 : 128);
        }
        throw new OptionsValidationException(TrustedProxySettings.Section, typeof(TrustedProxySettings),
            [$"serve:public:trusted_proxies: '{text}' is neither an IP address nor a CIDR range (such as 10.0.0.0/8)."]);
    }
}
