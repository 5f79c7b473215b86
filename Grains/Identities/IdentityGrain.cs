using OrleansSessions.Json;
using OrleansSessions.Storage;

namespace OrleansSessions.Identities;

/// <summary>Holds one identity in memory and issues its sessions.</summary>
public sealed class IdentityGrain(IIdentityStore store, TimeProvider clock) : StoreBackedGrain, IIdentityGrain
{
    private IdentityRecord? _identity;

    public async Task<IdentityCreateResult> CreateAsync(IdentityDraft draft)
    {
        await EnsureLoadedAsync();
        if (_identity is not null)
            return new IdentityCreateResult { Outcome = IdentityCreateOutcome.Conflict };
        var now = Rfc3339.Truncate(clock.GetUtcNow());
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
        };
        if (!await store.InsertIdentityAsync(identity))
            return new IdentityCreateResult { Outcome = IdentityCreateOutcome.Conflict };
        _identity = identity;
        return new IdentityCreateResult { Outcome = IdentityCreateOutcome.Created, Identity = identity };
    }

    public async Task<IdentityRecord?> GetAsync()
    {
        await EnsureLoadedAsync();
        return _identity;
    }

    public async Task<SessionIssueResult> IssueSessionAsync(SessionIssueCommand command)
    {
        await EnsureLoadedAsync();
        if (_identity is not { } identity)
            return new SessionIssueResult { Outcome = SessionIssueOutcome.IdentityNotFound };
        if (!identity.IsActive)
            return new SessionIssueResult { Outcome = SessionIssueOutcome.IdentityDisabled };

        var now = Rfc3339.Truncate(clock.GetUtcNow());
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
        await GrainFactory.GetGrain<ISessionGrain>(command.LookupKey).StartAsync(session, identity);
        return new SessionIssueResult { Outcome = SessionIssueOutcome.Issued, Issued = new SessionView { Session = session, Identity = identity } };
    }

    protected override async Task LoadAsync() => _identity = await store.FindIdentityAsync(this.GetPrimaryKey());
}
