using Microsoft.Extensions.Configuration;
using Orleans.Configuration;
using OrleansSessions.Api.Configuration;

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

    /// <summary>
    /// An identity unused this long leaves memory (Go duration, default 2m). whoami never asks an identity's grain (a
    /// silo holds its own copy of each identity it has sessions of), only sign-in, revocation and the identity admin
    /// API do, and a resident one costs an Orleans activation, about 1.6 KB.
    /// </summary>
    [ConfigurationKeyName("identity_idle_eviction")]
    public string IdentityIdleEviction { get; set; } = "2m";

    // The membership failure detector. How long a silo that stopped answering (crashed, killed, cut off) stays in
    // the cluster: about probe_timeout × missed_probes_limit, then votes_for_death silos must agree. Until then,
    // calls to the grains it held wait and then fail (their sessions answer errors): the outage of a node's sessions.
    // The defaults are Orleans' own: ~15 s, tolerant of GC pauses and a busy network. Lower them only on a
    // network that answers in milliseconds; too low, and a healthy but slow node is declared dead and must restart.

    /// <summary>Initial timeout (and period) of a liveness probe (Go duration, default 5s; Orleans adapts it between half and four times this).</summary>
    [ConfigurationKeyName("probe_timeout")]
    public string ProbeTimeout { get; set; } = "5s";

    /// <summary>Missed probes after which a silo suspects the probed one (default 3).</summary>
    [ConfigurationKeyName("missed_probes_limit")]
    public int MissedProbesLimit { get; set; } = 3;

    /// <summary>Suspicions from different silos that declare a silo dead (default 2).</summary>
    [ConfigurationKeyName("votes_for_death")]
    public int VotesForDeath { get; set; } = 2;

    /// <summary>How long a suspicion counts towards a death declaration (Go duration, default 2m).</summary>
    [ConfigurationKeyName("death_vote_expiration")]
    public string DeathVoteExpiration { get; set; } = "2m";

    /// <summary>The failure-detector settings for Orleans' membership options, checked now (a bad value stops start-up here).</summary>
    public Action<ClusterMembershipOptions> FailureDetection()
    {
        var probeTimeout = Duration(ProbeTimeout, "orleans:probe_timeout");
        var missedProbes = AtLeastOne(MissedProbesLimit, "orleans:missed_probes_limit");
        var votes = AtLeastOne(VotesForDeath, "orleans:votes_for_death");
        var voteExpiration = Duration(DeathVoteExpiration, "orleans:death_vote_expiration");
        return options =>
        {
            options.ProbeTimeout = probeTimeout;
            options.NumMissedProbesLimit = missedProbes;
            options.NumVotesForDeathDeclaration = votes;
            options.DeathVoteExpirationTimeout = voteExpiration;
        };
    }

    private static TimeSpan Duration(string text, string key)
    {
        var value = GoDuration.Parse(text, key);
        return value > TimeSpan.Zero ? value : throw new InvalidOperationException($"{key} must be a positive duration.");
    }

    private static int AtLeastOne(int value, string key) =>
        value >= 1 ? value : throw new InvalidOperationException($"{key} must be at least 1.");
}
