using Microsoft.Extensions.Options;
using OrleansSessions.Json;
using OrleansSessions.Storage;

namespace OrleansSessions.Sessions;

/// <summary>
/// Holds one session in memory, keyed by its lookup key. The store is the truth: the session is
/// read from it on first use after activation, and every change is written to it before it is
/// acknowledged. The whoami JSON is rendered when the session (or its identity) changes.
/// </summary>
public sealed class SessionGrain(ISessionStore store, TimeProvider clock, IOptions<JsonRenderingOptions> rendering)
    : StoreBackedGrain, ISessionGrain
{
    private SessionRecord? _session;
    private IdentityRecord? _identity;
    private WhoamiAnswer _active = WhoamiAnswer.Unauthorized;

    public async Task<WhoamiAnswer> WhoamiAsync(SessionChannel carrier)
    {
        await EnsureLoadedAsync();
        if (_session is not { } session)
        {
            // Unknown credential: give the memory back at once rather than after the idle period.
            this.DeactivateOnIdle();
            return WhoamiAnswer.Unauthorized;
        }
        if (session.Channel != carrier)
            return WhoamiAnswer.Unauthorized;
        var now = clock.GetUtcNow();
        if (session.ExpiresAt <= now)
        {
            this.DeactivateOnIdle();
            return WhoamiAnswer.Unauthorized;
        }
        return session.IsActiveAt(now, _identity) ? _active : WhoamiAnswer.Unauthorized;
    }

    public async Task StartAsync(SessionRecord session, IdentityRecord identity)
    {
        await store.InsertSessionAsync(session);
        MarkLoaded();
        Hold(session, identity);
    }

    public async Task<SessionView?> GetAsync()
    {
        await EnsureLoadedAsync();
        return _session is null ? null : new SessionView { Session = _session, Identity = _identity };
    }

    public async Task<bool> RevokeAsync()
    {
        await EnsureLoadedAsync();
        if (_session is not { } session)
            return false;
        if (session.Revoked)
            return true;
        // Truncated as the store keeps it, so that the held copy equals the stored row.
        var now = Rfc3339.Truncate(clock.GetUtcNow());
        if (!await store.RevokeSessionAsync(session.Id, now))
            return false;
        Hold(session with { Revoked = true, UpdatedAt = now }, _identity);
        return true;
    }

    protected override async Task LoadAsync()
    {
        var session = await store.FindSessionByLookupKeyAsync(this.GetPrimaryKeyString());
        if (session is null)
            return;
        var identity = await GrainFactory.GetGrain<IIdentityGrain>(session.IdentityId).GetAsync();
        Hold(session, identity);
    }

    /// <summary>The one place the held session changes; renders the whoami answer for it.</summary>
    private void Hold(SessionRecord session, IdentityRecord? identity)
    {
        _session = session;
        _identity = identity;
        _active = session.Revoked || identity is null
            ? WhoamiAnswer.Unauthorized
            : new WhoamiAnswer
            {
                Outcome = WhoamiOutcome.Active,
                Body = SessionJson.Render(session, identity, active: true, rendering.Value.PublicBaseUrl),
                IdentityId = session.IdentityId.ToString(),
                ExpiresAt = session.ExpiresAt,
            };
    }
}
