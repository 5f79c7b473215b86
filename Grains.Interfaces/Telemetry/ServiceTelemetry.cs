using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace OrleansSessions.Telemetry;

/// <summary>
/// The service's own meter and activity source (both named <see cref="Name"/>), shared by the API and the
/// grains. Nothing recorded here carries a credential: tags are outcomes, channels and operation names.
/// </summary>
public static class ServiceTelemetry
{
    public const string Name = "OrleansSessions";

    public static readonly ActivitySource Source = new(Name);

    public static readonly Meter Meter = new(Name);

    /// <summary>whoami as the API served it, by <c>outcome</c> (active, unauthorized, aal2_required, tokenize_failed) and <c>tokenized</c>.</summary>
    public static readonly Histogram<double> WhoamiDuration = Meter.CreateHistogram<double>(
        "orleans_sessions.whoami.duration", unit: "s", description: "Time to answer a whoami, from the credential read to the answer written",
        advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1] });

    /// <summary>Sessions issued (login or trusted issuance), by <c>channel</c>.</summary>
    public static readonly Counter<long> SessionsIssued = Meter.CreateCounter<long>(
        "orleans_sessions.sessions.issued", unit: "{session}", description: "Sessions issued");

    /// <summary>Sessions revoked, by <c>scope</c>: <c>session</c> (one) or <c>identity</c> (revoke-all).</summary>
    public static readonly Counter<long> SessionsRevoked = Meter.CreateCounter<long>(
        "orleans_sessions.sessions.revoked", unit: "{session}", description: "Sessions revoked");

    /// <summary>
    /// Revocation marks written, by <c>kind</c>: <c>revoke</c> (revoke-all, <c>DELETE /sessions</c>) or <c>delete</c>
    /// (the admin's delete of all of an identity's sessions); each is one row, whatever the number of sessions.
    /// </summary>
    public static readonly Counter<long> RevocationMarks = Meter.CreateCounter<long>(
        "orleans_sessions.revocation_marks", unit: "{mark}", description: "Identity-wide revocation marks written");

    /// <summary>Durable store calls, by <c>operation</c> and <c>outcome</c> (ok, error).</summary>
    public static readonly Histogram<double> StoreDuration = Meter.CreateHistogram<double>(
        "orleans_sessions.store.duration", unit: "s", description: "Duration of durable store calls",
        advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5] });

    /// <summary>With regions: changes this silo applied from its region's change record, by <c>kind</c> (session, identity, heartbeat).</summary>
    public static readonly Counter<long> RegionChangesApplied = Meter.CreateCounter<long>(
        "orleans_sessions.region.changes_applied", unit: "{change}", description: "Changes of the region's change record this silo applied");

    private static long _residentSessions;

    /// <summary>Session grains in memory on this silo.</summary>
    public static readonly ObservableUpDownCounter<long> ResidentSessions = Meter.CreateObservableUpDownCounter(
        "orleans_sessions.sessions.resident", () => Interlocked.Read(ref _residentSessions), unit: "{session}",
        description: "Session grains held in memory by this silo");

    public static void SessionActivated() => Interlocked.Increment(ref _residentSessions);

    public static void SessionDeactivated() => Interlocked.Decrement(ref _residentSessions);
}
