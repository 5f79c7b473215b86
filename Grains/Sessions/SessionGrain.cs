using Microsoft.Extensions.Options;
using OrleansSessions.Json;
using OrleansSessions.Storage;
using OrleansSessions.Telemetry;
using OrleansSessions.Tokenizer;

namespace OrleansSessions.Sessions;

/// <summary>
/// Holds one session in memory, keyed by its lookup key. The store is the truth: the session is
/// read from it on first use after activation, and every change is written to it before it is
/// acknowledged. The whoami JSON is rendered when the session (or its identity) changes.
/// </summary>
public sealed class SessionGrain(ISessionStore store, TimeProvider clock, IOptions<JsonRenderingOptions> rendering,
    IOptions<SessionBehaviour> behaviour, LastSeenWriter lastSeenWriter, SessionTokenizer tokenizer)
    : StoreBackedGrain, ISessionGrain
{
    private static readonly WhoamiAnswer Aal2Required = new() { Outcome = WhoamiOutcome.Aal2Required };

    private SessionRecord? _session;
    private IdentityRecord? _identity;
    private WhoamiAnswer _active = WhoamiAnswer.Unauthorized;
    // An identity change told to this activation before its session was in memory (see IdentityChangedAsync).
    private (bool Told, IdentityRecord? Identity) _toldWhileLoading;
    // A revoke-all or delete-all told to this activation before its session was in memory.
    private (bool Ended, bool Deleted) _endedWhileLoading;
    // Last use, for the idle timeout: in memory on every whoami, written through LastSeenWriter at most once per interval.
    private DateTimeOffset _lastSeen;
    private DateTimeOffset _lastSeenRecorded;
    // Tokenized answers by template, for the session as held now (Hold forgets them).
    private Dictionary<string, (WhoamiAnswer Answer, SignedToken Token)>? _tokens;

    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        ServiceTelemetry.SessionActivated();
        return Task.CompletedTask;
    }

    public override Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        ServiceTelemetry.SessionDeactivated();
        return Task.CompletedTask;
    }

    public async Task<WhoamiAnswer> WhoamiAsync(SessionChannel carrier, bool requireHighestAal)
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
        if (!session.IsActiveAt(now, _identity) || IsIdle(now))
            return WhoamiAnswer.Unauthorized;
        if (requireHighestAal && _identity!.AvailableAal == AuthenticatorAssurance.Aal2 && session.Aal != AuthenticatorAssurance.Aal2)
            return Aal2Required;
        return _active;
    }

    public async Task<WhoamiAnswer> TokenizeAsync(SessionChannel carrier, bool requireHighestAal, string templateName)
    {
        if (tokenizer.Template(templateName) is not { } template)
            return new WhoamiAnswer { Outcome = WhoamiOutcome.TokenizeFailed, Problem = $"Unable to find tokenizer template \"{templateName}\"." };
        // The signer first: after the whoami decision nothing awaits, so nothing can change the session in between.
        var signer = await tokenizer.SignerAsync(template, clock.GetUtcNow());
        var answer = await WhoamiAsync(carrier, requireHighestAal);
        if (answer.Outcome != WhoamiOutcome.Active)
            return answer;
        if (signer is null)
            return new WhoamiAnswer { Outcome = WhoamiOutcome.TokenizeFailed, Problem = $"No key signs tokens of the template \"{templateName}\" yet." };
        var now = clock.GetUtcNow();
        if (_tokens is not null && _tokens.TryGetValue(templateName, out var held)
            && held.Token.Kid == signer.Kid && now < held.Token.IssuedAt + template.Ttl / 2)
            return held.Answer;
        var (token, problem) = tokenizer.Sign(template, signer, _session!, _identity!, answer.Body, now);
        if (token is null)
            return new WhoamiAnswer { Outcome = WhoamiOutcome.TokenizeFailed, Problem = problem };
        var tokenized = answer with { Body = SessionTokenizer.WithToken(answer.Body!, token.Jwt) };
        (_tokens ??= new(StringComparer.Ordinal))[templateName] = (tokenized, token);
        return tokenized;
    }

    public async Task StartAsync(SessionRecord session, IdentityRecord identity)
    {
        await store.InsertSessionAsync(session);
        ServiceTelemetry.SessionsIssued.Add(1, new KeyValuePair<string, object?>("channel", session.Channel == SessionChannel.Browser ? "browser" : "api"));
        MarkLoaded();
        _lastSeen = _lastSeenRecorded = session.CreatedAt;
        Hold(session, identity);
    }

    public async Task<SessionView?> ExtendAsync(TimeSpan lifespan, TimeSpan earliestPossibleExtend)
    {
        await EnsureLoadedAsync();
        if (_session is not { } session)
        {
            this.DeactivateOnIdle();
            return null;
        }
        var now = Rfc3339.Truncate(clock.GetUtcNow());
        // A revoked session is not extended: it stays revoked, and its stored expiry stays what memory holds.
        if (!session.Revoked && session.ExpiresAt - earliestPossibleExtend < now)
        {
            var expiresAt = Rfc3339.Truncate(now + lifespan);
            if (!await store.UpdateSessionExpiryAsync(session.Id, expiresAt, now))
                return await HoldStoredAsync(); // revoked (or deleted) in the store by a revoke-all that has not told us yet
            if (!HoldWritten(session with { ExpiresAt = expiresAt, UpdatedAt = now }))
                return null;
        }
        return new SessionView { Session = _session!, Identity = _identity };
    }

    public Task EndedInStoreAsync(bool deleted)
    {
        if (_session is { } session)
        {
            if (deleted)
                Forget();
            else if (!session.Revoked)
                Hold(session with { Revoked = true }, _identity);
        }
        else
        {
            _endedWhileLoading = (true, _endedWhileLoading.Deleted || deleted);
            this.DeactivateOnIdle();
        }
        return Task.CompletedTask;
    }

    public async Task<SessionView?> GetAsync()
    {
        await EnsureLoadedAsync();
        if (_session is null)
        {
            this.DeactivateOnIdle();
            return null;
        }
        return new SessionView { Session = _session, Identity = _identity };
    }

    public async Task<bool> RevokeAsync()
    {
        await EnsureLoadedAsync();
        if (_session is not { } session)
        {
            this.DeactivateOnIdle();
            return false;
        }
        if (session.Revoked)
            return true;
        var now = Rfc3339.Truncate(clock.GetUtcNow());
        if (!await store.RevokeSessionAsync(session.Id, now))
            return false;
        ServiceTelemetry.SessionsRevoked.Add(1, new KeyValuePair<string, object?>("scope", "session"));
        HoldWritten(session with { Revoked = true, UpdatedAt = now });
        return true;
    }

    public async Task<SessionView?> AuthenticateAgainAsync(RequestedMethod method, TimeSpan lifespan)
    {
        await EnsureLoadedAsync();
        var now = Rfc3339.Truncate(clock.GetUtcNow());
        if (_session is not { } session || !session.IsActiveAt(now, _identity))
            return null;
        var methods = session.AuthenticationMethods.Add(new AuthenticationMethod { Method = method.Method, Aal = method.Aal, CompletedAt = now });
        var changed = session with
        {
            AuthenticationMethods = methods,
            Aal = AuthenticatorAssurance.Of(methods.Select(m => m.Aal)),
            AuthenticatedAt = now,
            ExpiresAt = Rfc3339.Truncate(now + lifespan),
            UpdatedAt = now,
        };
        if (!await store.UpdateSessionAuthenticationAsync(changed))
        {
            await HoldStoredAsync(); // revoked (or deleted) in the store by a revoke-all that has not told us yet
            return null;
        }
        _lastSeen = now;
        // Revoked while the write was under way: the renewal is kept (as in the store) but renews nothing.
        if (!HoldWritten(changed) || _session!.Revoked)
            return null;
        return new SessionView { Session = _session, Identity = _identity };
    }

    public Task IdentityChangedAsync(IdentityRecord? identity)
    {
        if (_session is { } session)
        {
            if (identity is null)
                Forget(); // a deleted identity takes its sessions with it
            else if (_identity is null || identity.Version >= _identity.Version)
                Hold(session, identity);
        }
        else
        {
            // Not in memory: either this call activated us (nothing to update: go away again), or a
            // load is under way and may be reading the identity as it was; it applies this after.
            _toldWhileLoading = Newest(_toldWhileLoading, identity);
            this.DeactivateOnIdle();
        }
        return Task.CompletedTask;
    }

    protected override async Task LoadAsync()
    {
        var session = await store.FindSessionByLookupKeyAsync(this.GetPrimaryKeyString());
        if (session is null)
            return;
        var identity = await GrainFactory.GetGrain<IIdentityGrain>(session.IdentityId).GetAsync();
        var (_, newest) = Newest(_toldWhileLoading, identity);
        if (newest is null || _endedWhileLoading.Deleted)
        {
            Forget();
            return;
        }
        // A re-authentication is use too, and may be newer than the last-seen time stored before it.
        _lastSeen = _lastSeenRecorded = session.LastSeenAt is { } seen && seen > session.AuthenticatedAt ? seen : session.AuthenticatedAt;
        Hold(_endedWhileLoading.Ended ? session with { Revoked = true } : session, newest);
    }

    /// <summary>
    /// With an idle timeout: true when the session has not been used for longer; otherwise this use
    /// is remembered, and handed to the writer when the stored time is more than an interval old.
    /// </summary>
    private bool IsIdle(DateTimeOffset now)
    {
        if (behaviour.Value.IdleTimeout is not { } idleTimeout)
            return false;
        if (now - _lastSeen > idleTimeout)
            return true;
        _lastSeen = now;
        if (now - _lastSeenRecorded >= behaviour.Value.LastSeenWriteInterval)
        {
            _lastSeenRecorded = now;
            lastSeenWriter.Record(_session!.Id, now);
        }
        return false;
    }

    /// <summary>
    /// Holds <paramref name="written"/>, a change just written to the store, keeping what was told while the write
    /// was under way: a revoke-all that came in stays revoked, a deletion stays forgotten (false).
    /// </summary>
    private bool HoldWritten(SessionRecord written)
    {
        if (_session is not { } current)
            return false;
        Hold(written with { Revoked = written.Revoked || current.Revoked }, _identity);
        return true;
    }

    /// <summary>
    /// A conditional write found the session revoked or gone in the store: holds the row as stored (or forgets the
    /// session), so that memory answers what the store says; the session as now held, or null.
    /// </summary>
    private async Task<SessionView?> HoldStoredAsync()
    {
        var stored = await store.FindSessionByLookupKeyAsync(this.GetPrimaryKeyString());
        if (stored is null || _session is null)
        {
            Forget();
            return null;
        }
        Hold(stored with { Revoked = stored.Revoked || _session.Revoked }, _identity);
        return new SessionView { Session = _session, Identity = _identity };
    }

    /// <summary>The session no longer exists (its identity was deleted): hold nothing and leave memory.</summary>
    private void Forget()
    {
        _session = null;
        _identity = null;
        _active = WhoamiAnswer.Unauthorized;
        this.DeactivateOnIdle();
    }

    /// <summary>Of an identity told earlier and another copy, the one to hold: a deletion wins, then the higher version.</summary>
    private static (bool Told, IdentityRecord? Identity) Newest((bool Told, IdentityRecord? Identity) earlier, IdentityRecord? other)
    {
        if (!earlier.Told)
            return (true, other);
        if (earlier.Identity is null || other is null)
            return (true, null);
        return (true, other.Version > earlier.Identity.Version ? other : earlier.Identity);
    }

    /// <summary>The one place the held session changes; renders the whoami answer for it.</summary>
    private void Hold(SessionRecord session, IdentityRecord? identity)
    {
        _session = session;
        _identity = identity;
        _tokens = null;
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
