using OrleansSessions.Json;
using OrleansSessions.Storage;

namespace OrleansSessions.Identities;

/// <summary>
/// Holds one identity and its credentials in memory, issues its sessions, and tells every silo when the identity
/// changes (its state, traits, revocation mark, deletion), once the change is durable and before it is
/// acknowledged: one call per silo, whatever the number of sessions.
/// </summary>
public sealed class IdentityGrain(IIdentityStore identities, ISessionStore sessions, TimeProvider clock,
    IClusterMembershipService membership, IIdentityStandingsClient standings, Regions.RegionMap regions, Regions.RegionStores stores,
    [Microsoft.Extensions.DependencyInjection.FromKeyedServices(Login.LoginStorage.Name)] Orleans.Storage.IGrainStorage loginStorage)
    : StoreBackedGrain, IIdentityGrain
{
    private IdentityRecord? _identity;
    private IdentityCredentials? _credentials;
    // When the identity's latest session was issued (of all stored): a revocation mark reaches at least that far,
    // and a session issued after a mark is issued after it.
    private DateTimeOffset? _issuedUpTo;
    // Silos that read the identity for a session (WatchAsync): told of changes even before this silo's view of the
    // membership lists them.
    private readonly HashSet<SiloAddress> _watchers = [];

    public async Task<IdentityWriteResult> CreateAsync(IdentityDraft draft)
    {
        await EnsureLoadedAsync();
        if (_identity is not null)
            return new IdentityWriteResult { Outcome = IdentityWriteOutcome.IdTaken };
        var now = Now();
        var identity = new IdentityRecord
        {
            Id = this.GetPrimaryKey(),
            SchemaId = draft.SchemaId,
            State = draft.State,
            StateChangedAt = now,
            Traits = draft.Traits,
            MetadataPublic = draft.MetadataPublic,
            MetadataAdmin = draft.MetadataAdmin,
            ExternalId = draft.ExternalId,
            CreatedAt = now,
            UpdatedAt = now,
            Version = 1,
            AvailableAal = AvailableAal(draft.TotpSecret),
            Region = regions.SelfName,
        };
        var credentials = new IdentityCredentials { Identifiers = draft.Identifiers, PasswordHash = draft.PasswordHash, TotpSecret = draft.TotpSecret };
        var outcome = await identities.InsertIdentityAsync(identity, credentials);
        if (outcome != IdentityWriteOutcome.Written)
            return new IdentityWriteResult { Outcome = outcome };
        (_identity, _credentials) = (identity, credentials);
        return Written(identity);
    }

    public Task<IdentityWriteResult> UpdateAsync(IdentityDraft draft, long? expectedVersion) =>
        WriteAsync((current, held) =>
        {
            if (expectedVersion is { } expected && expected != current.Version)
                return null;
            var credentials = new IdentityCredentials
            {
                Identifiers = draft.Identifiers,
                PasswordHash = draft.PasswordHash ?? held.PasswordHash,
                TotpSecret = draft.TotpSecret ?? held.TotpSecret,
            };
            return (current with
            {
                SchemaId = draft.SchemaId,
                State = draft.State,
                StateChangedAt = draft.State == current.State ? current.StateChangedAt : Now(),
                Traits = draft.Traits,
                MetadataPublic = draft.MetadataPublic,
                MetadataAdmin = draft.MetadataAdmin,
                ExternalId = draft.ExternalId,
                AvailableAal = AvailableAal(credentials.TotpSecret),
            }, credentials);
        });

    public Task<IdentityWriteResult> SetPasswordHashAsync(string passwordHash, string replaces) =>
        WriteAsync((current, held) => held.PasswordHash == replaces ? (current, held with { PasswordHash = passwordHash }) : null);

    public Task<IdentityWriteResult> SetTotpSecretAsync(string? totpSecret) =>
        WriteAsync((current, held) => (current with { AvailableAal = AvailableAal(totpSecret) }, held with { TotpSecret = totpSecret }));

    public async Task<bool> DeleteAsync()
    {
        await EnsureLoadedAsync();
        if (_identity is not { } current)
            return false;
        if (!await stores.Identities(current.Region).DeleteIdentityAsync(current.Id, Now()))
            return false;
        (_identity, _credentials) = (null, null);
        await TellSilosAsync(current.Id, null);
        return true;
    }

    public async Task<int> RevokeSessionsAsync(SessionRecord? except)
    {
        await EnsureLoadedAsync();
        if (_identity is null)
            return 0;
        // What the mark revokes, counted before it is written (issuance goes through this grain: none meanwhile).
        var count = await sessions.CountRevocableSessionsAsync(this.GetPrimaryKey(), except?.Id);
        // With regions this database may not have every session yet (one issued elsewhere a moment ago): the mark is written anyway.
        if (count == 0 && !regions.IsEnabled)
            return 0;
        var result = await WriteAsync((current, held) =>
            (current with { Sessions = current.Sessions.RevokingUpTo(MarkTime(current), except) }, held), MarkWrite.Always);
        if (result.Outcome != IdentityWriteOutcome.Written)
            return Unwritten(result, 0);
        Telemetry.ServiceTelemetry.SessionsRevoked.Add(count, new KeyValuePair<string, object?>("scope", "identity"));
        Telemetry.ServiceTelemetry.RevocationMarks.Add(1, new KeyValuePair<string, object?>("kind", "revoke"));
        return count;
    }

    public async Task<bool> DeleteSessionsAsync()
    {
        // The check that the identity has a session (Kratos answers 404 when none) is part of the mark's one write.
        var result = await WriteAsync((current, held) =>
            (current with { Sessions = current.Sessions.DeletingUpTo(MarkTime(current)) }, held), MarkWrite.IfSessions);
        if (result.Outcome is IdentityWriteOutcome.NoSessions)
            return false;
        if (result.Outcome != IdentityWriteOutcome.Written)
            return Unwritten(result, false);
        Telemetry.ServiceTelemetry.RevocationMarks.Add(1, new KeyValuePair<string, object?>("kind", "delete"));
        return true;
    }

    public async Task<IdentityRecord?> GetAsync()
    {
        await EnsureLoadedAsync();
        return _identity;
    }

    public async Task<IdentityRecord?> WatchAsync(SiloAddress silo, string? home = null)
    {
        _watchers.Add(silo);
        await EnsureLoadedAsync();
        // Not replicated here yet: the region that issued the session has it.
        if (_identity is null && home is not null && !stores.IsOwn(home))
            await ReadFromAsync(home);
        return _identity;
    }

    public async Task RefreshAsync()
    {
        var known = _identity;
        await ReloadAsync();
        // Not here: deleted (a tombstone reads as nothing), or not replicated yet. Its home region says which.
        if (_identity is null && known is not null && !stores.IsOwn(known.Region))
            await ReadFromAsync(known.Region);
        if (_identity is null && known is null)
            return; // nothing of it was held here, so no silo holds a copy to correct
        await TellSilosAsync(this.GetPrimaryKey(), _identity);
    }

    /// <summary>The identity as <paramref name="region"/>'s database has it (its home, or the region that issued a session of it).</summary>
    private async Task ReadFromAsync(string region)
    {
        var home = stores.Identities(region);
        var id = this.GetPrimaryKey();
        _identity = await home.FindIdentityAsync(id);
        _credentials = _identity is null ? null : await home.FindCredentialsAsync(id);
    }

    public async Task<IdentityCredentials?> GetCredentialsAsync()
    {
        await EnsureLoadedAsync();
        return _credentials;
    }

    /// <summary>
    /// The newest TOTP time step spent by this identity, read from the login storage by the first use; null until
    /// then, so that the many identities held for their sessions alone carry nothing for it.
    /// </summary>
    private StoredGrainState<SpentTotpStep>? _spentTotp;

    /// <summary>A code is accepted for its own step and the ones either side: about 90 seconds, kept with some margin.</summary>
    public static readonly TimeSpan TotpCodeLifetime = TimeSpan.FromMinutes(3);

    public async Task<bool> UseTotpStepAsync(long step)
    {
        _spentTotp ??= new StoredGrainState<SpentTotpStep>(loginStorage, Login.LoginStorage.TotpStepState, this.GetGrainId());
        for (var attempt = 1; ; attempt++)
        {
            if (step <= (await _spentTotp.ReadAsync()).Step)
                return false;
            try
            {
                // Stored before the code is accepted (on PostgreSQL): a silo that dies now takes nothing a replay needs.
                await _spentTotp.WriteAsync(new SpentTotpStep { Step = step });
            }
            catch (Orleans.Storage.InconsistentStateException) when (attempt == 1)
            {
                // The row changed under this activation (the cleanup deleted it once its code had expired): read it again.
                _spentTotp.Forget();
                continue;
            }
            // With memory-only storage, out of memory before the code has expired would forget that it was used.
            this.DelayDeactivation(TotpCodeLifetime);
            return true;
        }
    }

    public async Task<SessionIssueResult> IssueSessionAsync(SessionIssueCommand command)
    {
        await EnsureLoadedAsync();
        if (_identity is not { } identity)
            return new SessionIssueResult { Outcome = SessionIssueOutcome.IdentityNotFound };
        if (!identity.IsActive)
            return new SessionIssueResult { Outcome = SessionIssueOutcome.IdentityDisabled };

        // After the latest revocation mark, so that no mark written before this session reaches it.
        var now = Now();
        if (identity.Sessions.Latest is { } marked && now <= marked)
            now = marked.AddTicks(10); // one microsecond, what the store keeps
        var session = new SessionRecord
        {
            Id = Guid.NewGuid(),
            IdentityId = identity.Id,
            Channel = command.Channel,
            Revoked = false,
            Aal = AuthenticatorAssurance.Of(command.Methods.Select(m => m.Aal)),
            AuthenticationMethods = [.. command.Methods.Select(m => new AuthenticationMethod { Method = m.Method, Aal = m.Aal, CompletedAt = now })],
            Devices = [new SessionDevice { Id = Guid.NewGuid(), IpAddress = command.IpAddress, UserAgent = command.UserAgent, Location = command.Location }],
            IssuedAt = now,
            AuthenticatedAt = now,
            ExpiresAt = Rfc3339.Truncate(now + command.Lifespan),
            CreatedAt = now,
            UpdatedAt = now,
            Region = regions.SelfName,
        };
        await GrainFactory.SessionGrain(command.LookupKey).StartAsync(session, identity);
        _issuedUpTo = _issuedUpTo is { } latest && latest > now ? latest : now;
        return new SessionIssueResult { Outcome = SessionIssueOutcome.Issued, Issued = new SessionView { Session = session, Identity = identity } };
    }

    protected override async Task LoadAsync()
    {
        var id = this.GetPrimaryKey();
        _identity = await identities.FindIdentityAsync(id);
        _credentials = _identity is null ? null : await identities.FindCredentialsAsync(id);
        _issuedUpTo = _identity is null ? null : await sessions.LatestSessionIssuedAtAsync(id);
        // With regions an identity created in another region a moment ago may not have replicated yet: its absence is
        // not held, the next call looks again.
        if (_identity is null && regions.IsEnabled)
            ReadAgainNextTime();
    }

    /// <summary>
    /// The time a revocation mark written now reaches: now, or later when a session was issued later by this
    /// node's clock (another node's issued it, or the clock stepped back), so that every session issued so far is reached.
    /// </summary>
    private DateTimeOffset MarkTime(IdentityRecord current)
    {
        var at = Now();
        if (_issuedUpTo is { } issued && issued > at)
            at = issued;
        if (current.Sessions.Latest is { } marked && marked > at)
            at = marked;
        return at;
    }

    /// <summary>
    /// The one place a change is made: <paramref name="change"/> is applied to the identity as held (null: its
    /// precondition does not hold, a Conflict), written only if the store still has the version it was applied to,
    /// then held, then told to every silo. When the store has another version (another activation or a
    /// direct writer changed the row) the identity is reloaded and the change applied to that, a bounded number of
    /// times: a concurrent change is never overwritten unseen. With a <paramref name="mark"/> only the revocation
    /// mark (and the version) is written, and the identity's <c>updated_at</c> stays: it is not part of Kratos's identity.
    /// </summary>
    private async Task<IdentityWriteResult> WriteAsync(Func<IdentityRecord, IdentityCredentials, (IdentityRecord, IdentityCredentials)?> change,
        MarkWrite mark = MarkWrite.None)
    {
        const int attempts = 3;
        await EnsureLoadedAsync();
        for (var attempt = 1; ; attempt++)
        {
            if (_identity is not { } current)
                return new IdentityWriteResult { Outcome = IdentityWriteOutcome.NotFound };
            if (change(current, _credentials ?? new IdentityCredentials()) is not { } next)
                return new IdentityWriteResult { Outcome = IdentityWriteOutcome.Conflict, Identity = current };
            var (changed, credentials) = next;
            var markOnly = mark != MarkWrite.None;
            var identity = changed with { UpdatedAt = markOnly ? current.UpdatedAt : Now(), Version = current.Version + 1 };
            // Written in the identity's home region's database, whichever region takes the call: one writer per row.
            var home = stores.Identities(current.Region);
            var outcome = markOnly
                ? await home.UpdateSessionRevocationAsync(identity.Id, identity.Sessions, identity.Version, expectedVersion: current.Version,
                    requireSessions: mark == MarkWrite.IfSessions)
                : await home.UpdateIdentityAsync(identity, credentials, expectedVersion: current.Version);
            if (outcome == IdentityWriteOutcome.Conflict)
            {
                // The silos may not know the copy that won either (its writer was not this grain). Another region's
                // identity is read where it was written: this region's copy may not have caught up.
                if (stores.IsOwn(current.Region))
                    await ReloadAsync();
                else
                    await ReadFromAsync(current.Region);
                await TellSilosAsync(this.GetPrimaryKey(), _identity);
                if (attempt < attempts)
                    continue;
            }
            if (outcome != IdentityWriteOutcome.Written)
                return new IdentityWriteResult { Outcome = outcome, Identity = outcome == IdentityWriteOutcome.Conflict ? _identity : null };
            (_identity, _credentials) = (identity, credentials);
            await TellSilosAsync(identity.Id, identity);
            return Written(identity);
        }
    }

    /// <summary>
    /// Tells every silo that may hold a session of the identity what is now durable (null: deleted): every active
    /// silo of the membership and every silo that read the identity for a session. Returns once each has it, or has
    /// left the cluster (a silo that is not active holds nothing that outlives it: its sessions load again from the
    /// store, which has the change).
    /// </summary>
    private async Task TellSilosAsync(Guid id, IdentityRecord? identity)
    {
        var silos = new HashSet<SiloAddress>(_watchers);
        foreach (var member in membership.CurrentSnapshot.Members.Values)
        {
            if (member.Status == SiloStatus.Active)
                silos.Add(member.SiloAddress);
        }
        await Task.WhenAll(silos.Select(silo => TellSiloAsync(silo, id, identity)));
    }

    private async Task TellSiloAsync(SiloAddress silo, Guid id, IdentityRecord? identity)
    {
        const int attempts = 3;
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                await standings.On(silo).TellAsync(id, identity);
                return;
            }
            catch (Exception) when (!IsActive(silo))
            {
                _watchers.Remove(silo);
                return;
            }
            catch (Exception) when (attempt < attempts)
            {
            }
        }
    }

    private bool IsActive(SiloAddress silo) =>
        membership.CurrentSnapshot.GetSiloStatus(silo) == SiloStatus.Active;

    /// <summary>
    /// A mark that could not be written: the identity is gone (its sessions with it: nothing to revoke), or other
    /// writers kept changing it (never acknowledged as revoked: the caller gets an error and may try again).
    /// </summary>
    private static T Unwritten<T>(IdentityWriteResult result, T gone) => result.Outcome == IdentityWriteOutcome.NotFound
        ? gone
        : throw new InvalidOperationException($"The identity's revocation mark was not written ({result.Outcome}); nothing was revoked.");

    private DateTimeOffset Now() => Rfc3339.Truncate(clock.GetUtcNow());

    private static string AvailableAal(string? totpSecret) =>
        totpSecret is null ? AuthenticatorAssurance.Aal1 : AuthenticatorAssurance.Aal2;

    private static IdentityWriteResult Written(IdentityRecord identity) =>
        new() { Outcome = IdentityWriteOutcome.Written, Identity = identity };
}

/// <summary>What a write of <see cref="IdentityGrain"/> writes: the whole identity, or only its revocation mark (always, or only if it has sessions).</summary>
internal enum MarkWrite
{
    None,
    Always,
    IfSessions,
}

/// <summary>What the identity grain stores of its one-time codes: the newest TOTP time step spent (0: none).</summary>
[GenerateSerializer, Alias("os.SpentTotpStep")]
public sealed class SpentTotpStep
{
    [Id(0)] public long Step { get; init; }
}
