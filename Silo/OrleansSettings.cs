using Microsoft.Extensions.Configuration;

namespace OrleansSessions.Silo;

/// <summary>Configuration section <c>orleans</c>: how this node joins its cluster.</summary>
public sealed class OrleansSettings
{
    public const string Section = "orleans";

    [ConfigurationKeyName("cluster_id")]
    public string ClusterId { get; set; } = "orleans-sessions";

    [ConfigurationKeyName("service_id")]
    public string ServiceId { get; set; } = "orleans-sessions";

    [ConfigurationKeyName("silo_port")]
    public int SiloPort { get; set; } = 11111;

    [ConfigurationKeyName("gateway_port")]
    public int GatewayPort { get; set; } = 30000;

    /// <summary>The address other nodes reach this silo at (<c>orleans:advertised_ip</c>); unset, Orleans picks one of this host's.</summary>
    [ConfigurationKeyName("advertised_ip")]
    public string? AdvertisedIp { get; set; }

    /// <summary>How long an API node keeps trying to reach a gateway at start-up before it gives up (Go duration, default 60s).</summary>
    [ConfigurationKeyName("client_connect_timeout")]
    public string ClientConnectTimeout { get; set; } = "60s";

    /// <summary>A session unused this long leaves memory; the store keeps it (Go duration, default 15m).</summary>
    [ConfigurationKeyName("session_idle_eviction")]
    public string SessionIdleEviction { get; set; } = "15m";
}
