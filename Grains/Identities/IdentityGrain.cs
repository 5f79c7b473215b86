using OrleansSessions.Json;
using OrleansSessions.Storage;

namespace OrleansSessions.Identities;

/// <summary>
/// Holds one identity and its credentials in memory, issues its sessions, and tells every live
/// session of the identity when the identity changes, before the change is acknowledged.
/// </summary>
public sealed class IdentityGrain(IIdentityStore identities, ISessionStore sessions, TimeProvider clock)
    : StoreBackedGrain, IIdentityGrain
{
    private IdentityRecord? _identity;
    private IdentityCredentials? _credentials;

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
        // Which sessions to tell is read before the delete takes them (and the identity) away.
        var live = await sessions.ListLiveLookupKeysAsync(current.Id, clock.GetUtcNow());
        if (!await identities.DeleteIdentityAsync(current.Id))
            return false;
        (_identity, _credentials) = (null, null);
        await TellSessionsAsync(live, session => session.IdentityChangedAsync(null));
        return true;
    }

    public async Task<int> RevokeSessionsAsync(Guid? except)
    {
        var revoked = await sessions.RevokeIdentitySessionsAsync(this.GetPrimaryKey(), except, Now());
        Telemetry.ServiceTelemetry.SessionsRevoked.Add(revoked.Count, new KeyValuePair<string, object?>("scope", "identity"));
        await TellSessionsAsync(revoked, session => session.EndedInStoreAsync(deleted: false));
        return revoked.Count;
    }

    public async Task<int> DeleteSessionsAsync()
    {
        var deleted = await sessions.DeleteIdentitySessionsAsync(this.GetPrimaryKey());
        Telemetry.ServiceTelemetry.SessionsRevoked.Add(deleted.Count, new KeyValuePair<string, object?>("scope", "identity"));
        await TellSessionsAsync(deleted, session => session.EndedInStoreAsync(deleted: true));
        return deleted.Count;
    }

    public async Task<IdentityRecord?> GetAsync()
    {
        await EnsureLoadedAsync();
        return _identity;
    }

    public async Task<IdentityCredentials?> GetCredentialsAsync()
    {
        await EnsureLoadedAsync();
        return _credentials;
    }

    public async Task<SessionIssueResult> IssueSessionAsync(SessionIssueCommand command)
    {
        await EnsureLoadedAsync();
        if (_identity is not { } identity)
            return new SessionIssueResult { Outcome = SessionIssueOutcome.IdentityNotFound };
        if (!identity.IsActive)
            return new SessionIssueResult { Outcome = SessionIssueOutcome.IdentityDisabled };

        var now = Now();
        var session = new SessionRecord
        {
            Id = Guid.NewGuid(),
            LookupKey = command.LookupKey,
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
        };
        await GrainFactory.SessionGrain(command.LookupKey).StartAsync(session, identity);
        return new SessionIssueResult { Outcome = SessionIssueOutcome.Issued, Issued = new SessionView { Session = session, Identity = identity } };
    }

    protected override async Task LoadAsync()
    {
        var id = this.GetPrimaryKey();
        _identity = await identities.FindIdentityAsync(id);
        _credentials = _identity is null ? null : await identities.FindCredentialsAsync(id);
    }

    /// <summary>
    /// The one place a change is made: <paramref name="change"/> is applied to the identity as held (null: its
    /// precondition does not hold, a Conflict), written only if the store still has the version it was applied to,
    /// then held, then told to every live session. When the store has another version (another activation or a
    /// direct writer changed the row) the identity is reloaded and the change applied to that, a bounded number of
    /// times: a concurrent change is never overwritten unseen.
    /// </summary>
    private async Task<IdentityWriteResult> WriteAsync(Func<IdentityRecord, IdentityCredentials, (IdentityRecord, IdentityCredentials)?> change)
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
            var identity = changed with { UpdatedAt = Now(), Version = current.Version + 1 };
            var outcome = await identities.UpdateIdentityAsync(identity, credentials, expectedVersion: current.Version);
            if (outcome == IdentityWriteOutcome.Conflict)
            {
                // The sessions may not know the copy that won either (its writer was not this grain).
                await ReloadAsync();
                if (_identity is { } reloaded)
                    await TellLiveSessionsAsync(reloaded);
                if (attempt < attempts)
                    continue;
            }
            if (outcome != IdentityWriteOutcome.Written)
                return new IdentityWriteResult { Outcome = outcome, Identity = outcome == IdentityWriteOutcome.Conflict ? _identity : null };
            (_identity, _credentials) = (identity, credentials);
            await TellLiveSessionsAsync(identity);
            return Written(identity);
        }
    }

    private async Task TellLiveSessionsAsync(IdentityRecord identity) =>
        await TellSessionsAsync(await sessions.ListLiveLookupKeysAsync(identity.Id, clock.GetUtcNow()),
            session => session.IdentityChangedAsync(identity));

    /// <summary>
    /// Tells the sessions (by lookup key) what changed in the store. A session that is not in memory
    /// anywhere only costs an activation that holds nothing and goes away (no store read).
    /// </summary>
    private async Task TellSessionsAsync(IReadOnlyList<string> lookupKeys, Func<ISessionGrain, Task> tell)
    {
        const int inFlight = 512;
        for (var i = 0; i < lookupKeys.Count; i += inFlight)
            await Task.WhenAll(lookupKeys.Skip(i).Take(inFlight).Select(key => tell(GrainFactory.SessionGrain(key))));
    }

    private DateTimeOffset Now() => Rfc3339.Truncate(clock.GetUtcNow());

    private static string AvailableAal(string? totpSecret) =>
        totpSecret is null ? AuthenticatorAssurance.Aal1 : AuthenticatorAssurance.Aal2;

    private static IdentityWriteResult Written(IdentityRecord identity) =>
        new() { Outcome = IdentityWriteOutcome.Written, Identity = identity };
}
