using System.Diagnostics;
using System.Globalization;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using OrleansSessions.Tests.Infrastructure;
using Xunit.Abstractions;
using static OrleansSessions.Tests.Infrastructure.SessionCluster;

namespace OrleansSessions.Tests.Cluster;

/// <summary>Tests whose figures are quoted: they run alone, after the tests that run in parallel.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class TimedCollection
{
    public const string Name = "Timed, alone";
}

/// <summary>
/// Revoke-all for an identity with 10,000 sessions, thousands of them held in memory on each silo: one store
/// round trip, and every credential answers Unauthorized through the other silo once the call has returned.
/// The figures go to the test output and to <see cref="FiguresFile"/>.
/// </summary>
[Collection(TimedCollection.Name)]
public sealed class RevokeAllScaleTests(ITestOutputHelper output) : IAsyncLifetime
{
    public const string FiguresFile = "/tmp/revoke-all-figures.txt";
    private const int Sessions = 10_000;
    private const int HeldPerSilo = 2_500;

    private readonly RecordingSessionStore _store = new();
    private SessionCluster _harness = null!;

    public async Task InitializeAsync()
    {
        _harness = await StartAsync(silo =>
        {
            silo.Services.Replace(ServiceDescriptor.Singleton<ISessionStore>(_store));
            silo.Services.Replace(ServiceDescriptor.Singleton<IIdentityStore>(_store));
        });
        _store.Inner = _harness.Store;
    }

    public async Task DisposeAsync() => await _harness.DisposeAsync();

    [Fact]
    public async Task Revoke_all_of_10000_sessions_is_one_store_call_and_every_one_answers_unauthorized_through_the_other_silo()
    {
        var (siloA, siloB) = (_harness.Grains(0), _harness.Grains(1));
        var identity = await CreateIdentityAsync(siloA);
        var other = await CreateIdentityAsync(siloB);
        var bystander = await IssueAsync(siloB, other.Id, SessionChannel.Api);

        // The rows go straight into the store (the grains would only add time here), in parallel.
        var setup = Stopwatch.StartNew();
        var now = Rfc3339.Truncate(_harness.Clock.GetUtcNow());
        var sessions = Enumerable.Range(0, Sessions).Select(_ => NewSession(identity.Id, now)).ToArray();
        await Parallel.ForEachAsync(sessions, new ParallelOptions { MaxDegreeOfParallelism = 16 },
            async (session, ct) => await _harness.Store.InsertSessionAsync(session, ct));
        var inserted = setup.Elapsed;

        // Thousands looked up on each silo (placed there), so they are held in memory on both.
        setup.Restart();
        await Task.WhenAll(
            HoldAsync(_harness.Cluster.Silos[0], sessions[..HeldPerSilo]),
            HoldAsync(_harness.Cluster.Silos[1], sessions[HeldPerSilo..(2 * HeldPerSilo)]));
        var warmed = setup.Elapsed;
        var heldOn = sessions[..(2 * HeldPerSilo)].GroupBy(s => _harness.SiloIndexOf(s.TestKey)).ToDictionary(g => g.Key, g => g.Count());
        Assert.Equal(HeldPerSilo, heldOn.GetValueOrDefault(0));
        Assert.Equal(HeldPerSilo, heldOn.GetValueOrDefault(1));
        _store.ResetCounts();

        var clock = Stopwatch.StartNew();
        var count = await siloA.GetGrain<IIdentityGrain>(identity.Id).RevokeSessionsAsync(null);
        var callDuration = clock.Elapsed;
        var callsDuringRevoke = _store.Snapshot();

        // Every credential, through the silo that did not revoke, in parallel; the clock runs until the last answers.
        var answers = new WhoamiOutcome[Sessions];
        await Parallel.ForAsync(0, Sessions, new ParallelOptions { MaxDegreeOfParallelism = 256 }, async (i, _) =>
            answers[i] = (await siloB.GetGrain<ISessionGrain>(sessions[i].TestKey).WhoamiAsync(SessionChannel.Api, false)).Outcome);
        var untilLast401 = clock.Elapsed;

        Assert.Equal(Sessions, count);
        Assert.Equal(new Dictionary<string, int>
        {
            [nameof(ISessionStore.CountRevocableSessionsAsync)] = 1,
            [nameof(IIdentityStore.UpdateSessionRevocationAsync)] = 1,
        }, callsDuringRevoke);
        Assert.Equal(Sessions, answers.Count(a => a == WhoamiOutcome.Unauthorized));
        Assert.Equal(0, await _harness.Store.CountRevocableSessionsAsync(identity.Id, except: null));
        // The mark is one row: no session row was written.
        Assert.Equal(0, await SqliteRows.ScalarAsync(_harness.DatabasePath, "SELECT COUNT(*) FROM sessions WHERE identity_id = $id AND active = 0",
            ("$id", identity.Id.ToString())));
        Assert.Equal(WhoamiOutcome.Active, (await siloA.GetGrain<ISessionGrain>(bystander.LookupKey).WhoamiAsync(SessionChannel.Api, false)).Outcome);

        var figures = string.Join(Environment.NewLine,
            $"Revoke-all of {Sessions:N0} sessions of one identity, two in-process silos over one SQLite file ({Environment.ProcessorCount} cores), {DateTimeOffset.UtcNow:u}",
            $"  setup: {Sessions:N0} rows inserted in {Ms(inserted)}; {2 * HeldPerSilo:N0} looked up (held: {heldOn.GetValueOrDefault(0):N0} on silo A, {heldOn.GetValueOrDefault(1):N0} on silo B) in {Ms(warmed)}",
            $"  RevokeSessionsAsync through silo A returned {count:N0} after {Ms(callDuration)} (the mark's one-row write: {Ms(_store.LastRevokeAllDuration)}; the rest is counting and telling the 2 silos)",
            $"  last of the {Sessions:N0} credentials answered Unauthorized through silo B {Ms(untilLast401)} after the call started ({Ms(untilLast401 - callDuration)} of checking after it returned)",
            $"  store calls during the revoke: {string.Join(", ", callsDuringRevoke.Select(c => $"{c.Key} x{c.Value}"))}");
        output.WriteLine(figures);
        await File.AppendAllTextAsync(FiguresFile, figures + Environment.NewLine);
    }

    private static string Ms(TimeSpan t) => t.TotalMilliseconds.ToString("N0", CultureInfo.InvariantCulture) + " ms";

    /// <summary>Looks each session up through the silo, placed there, and checks it answers Active.</summary>
    private static Task HoldAsync(Orleans.TestingHost.InProcessSiloHandle silo, IReadOnlyList<SessionRecord> sessions) =>
        Parallel.ForEachAsync(sessions, new ParallelOptions { MaxDegreeOfParallelism = 128 }, async (session, _) =>
        {
            var answer = await OnSiloAsync(silo, grains => grains.GetGrain<ISessionGrain>(session.TestKey).WhoamiAsync(SessionChannel.Api, false));
            Assert.Equal(WhoamiOutcome.Active, answer.Outcome);
        });

    private static SessionRecord NewSession(Guid identityId, DateTimeOffset now) => new()
    {
        Id = Guid.NewGuid(),
        IdentityId = identityId,
        Channel = SessionChannel.Api,
        Revoked = false,
        Aal = AuthenticatorAssurance.Aal1,
        AuthenticationMethods = [new AuthenticationMethod { Method = "password", Aal = AuthenticatorAssurance.Aal1, CompletedAt = now }],
        Devices = [new SessionDevice { Id = Guid.NewGuid(), IpAddress = "203.0.113.9", UserAgent = "Grains.Tests/scale" }],
        IssuedAt = now,
        AuthenticatedAt = now,
        ExpiresAt = now.AddDays(1),
        CreatedAt = now,
        UpdatedAt = now,
    };
}
