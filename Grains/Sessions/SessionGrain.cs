using Microsoft.Extensions.Options;
using OrleansSessions.Json;
using OrleansSessions.Storage;
using OrleansSessions.Telemetry;
using OrleansSessions.Tokenizer;

namespace OrleansSessions.Sessions;

/// <summary>
/// Holds one session in memory, keyed by its lookup key. The store is the truth: the session is
/// read from it on first use after activation, and every change is written to it before it is
/// acknowledged. Its identity is followed through this silo's <see cref="IdentityStandings"/> (changes, revoke-all
/// and delete-all arrive there once per silo). The whoami JSON is rendered when the session (or its identity) changes.
/// </summary>
public sealed class SessionGrain(SessionGrainServices services) : StoreBackedGrain, ISessionGrain
{
    private static readonly WhoamiAnswer Aal2Required = new() { Outcome = WhoamiOutcome.Aal2Required };

    // The session's rules and what is held; this grain adds the store, the calls and the rendered answers.
    // A struct held inline (never copied: this field is not readonly, so its methods change it in place).
    private HeldSession _held;
    // Last use, for the idle timeout, as UTC ticks: in memory on every whoami, written through LastSeenWriter at most
    // once per interval.
    private long _lastSeen;
    private long _lastSeenRecorded;
    // Tokenized answers by template, for the session as held at _tokensVersion (a change of what is held forgets them).
    private Dictionary<string, (WhoamiAnswer Answer, SignedToken Token)>? _tokens;
    private long _tokensVersion;
    // This silo's newest copy of the identity, shared with its other sessions here; and the copy last applied.
    private IdentityStanding? _standing;
    private IdentityCopy? _followed;
    // With regions: the region code of the credential that reached this activation first, where its session is before
    // it has replicated here (read only by the load).
    private char _home;

    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        ServiceTelemetry.SessionActivated();
        return Task.CompletedTask;
    }

    public override Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        ServiceTelemetry.SessionDeactivated();
        if (_standing is { } standing)
            services.Standings.Release(standing);
        _standing = null;
        return Task.CompletedTask;
    }

    public async Task<WhoamiAnswer> WhoamiAsync(SessionChannel carrier, bool requireHighestAal, char home = '\0')
    {
        await LoadedAsync(home);
        var now = services.Clock.GetUtcNow();
        switch (_held.Judge(carrier, now, requireHighestAal))
        {
            case SessionVerdict.Unknown:
            case SessionVerdict.Expired:
                // Unknown credential or expired session: give the memory back at once rather than after the idle period.
                this.DeactivateOnIdle();
                return WhoamiAnswer.Unauthorized;
            case SessionVerdict.Refused:
                return WhoamiAnswer.Unauthorized;
            case SessionVerdict.Aal2Required:
                return !Vouched() ? RegionSilent : IsIdle(now) ? WhoamiAnswer.Unauthorized : Aal2Required;
            default:
                return !Vouched() ? RegionSilent : IsIdle(now) ? WhoamiAnswer.Unauthorized : Active();
        }
    }

    private static readonly WhoamiAnswer RegionSilent = new() { Outcome = WhoamiOutcome.RegionSilent };

    /// <summary>
    /// Whether this region may answer for the session: its own sessions of its own identities always; another region's
    /// (the session's or its identity's home) while this region has heard from it within the lease.
    /// </summary>
    private bool Vouched()
    {
        var (session, identity) = (_held.Session!, _held.Identity!);
        var regions = services.Leases;
        return regions.Vouches(session.Region) && regions.Vouches(identity.Region);
    }

    public async Task<WhoamiAnswer> TokenizeAsync(SessionChannel carrier, bool requireHighestAal, string templateName, char home = '\0')
    {
        if (services.Tokenizer.Template(templateName) is not { } template)
            return new WhoamiAnswer { Outcome = WhoamiOutcome.TokenizeFailed, Problem = $"Unable to find tokenizer template \"{templateName}\"." };
        // The signer first: after the whoami decision nothing awaits, so nothing can change the session in between.
        var signer = await services.Tokenizer.SignerAsync(template, services.Clock.GetUtcNow());
        var answer = await WhoamiAsync(carrier, requireHighestAal, home);
        if (answer.Outcome != WhoamiOutcome.Active)
            return answer;
        if (signer is null)
            return new WhoamiAnswer { Outcome = WhoamiOutcome.TokenizeFailed, Problem = $"No key signs tokens of the template \"{templateName}\" yet." };
        var now = services.Clock.GetUtcNow();
        if (_tokensVersion != _held.Version)
            (_tokens, _tokensVersion) = (null, _held.Version);
        if (_tokens is not null && _tokens.TryGetValue(templateName, out var held)
            && held.Token.Kid == signer.Kid && now < held.Token.IssuedAt + template.Ttl / 2)
            return held.Answer;
        var (token, problem) = services.Tokenizer.Sign(template, signer, _held.Session!, _held.Identity!, answer.Body!.ToArray(), now);
        if (token is null)
            return new WhoamiAnswer { Outcome = WhoamiOutcome.TokenizeFailed, Problem = problem };
        var tokenized = answer with { Body = SessionTokenizer.WithToken(answer.Body!, token.Jwt) };
        (_tokens ??= new(StringComparer.Ordinal))[templateName] = (tokenized, token);
        return tokenized;
    }

    public async Task StartAsync(SessionRecord session, IdentityRecord identity)
    {
        await services.Store.InsertSessionAsync(this.GetPrimaryKeyString(), session);
        ServiceTelemetry.SessionsIssued.Add(1, new KeyValuePair<string, object?>("channel", session.Channel == SessionChannel.Browser ? "browser" : "api"));
        MarkLoaded();
        _lastSeen = _lastSeenRecorded = session.CreatedAt.UtcTicks;
        Follow(session.IdentityId).Offer(identity);
        _held.Start(session, identity);
        Catch();
    }

    public async Task<SessionView?> ExtendAsync(TimeSpan lifespan, TimeSpan earliestPossibleExtend)
    {
        await LoadedAsync();
        if (_held.Session is not { } session)
            return Gone<SessionView>();
        var now = Rfc3339.Truncate(services.Clock.GetUtcNow());
        // A revoked session is not extended: it stays revoked, and its stored expiry stays what memory holds.
        if (_held.IsDueForExtension(now, earliestPossibleExtend))
        {
            var expiresAt = Rfc3339.Truncate(now + lifespan);
            if (!await services.Regions.Sessions(session.Region).UpdateSessionExpiryAsync(session.Id, expiresAt, now))
                return await HoldStoredAsync(); // revoked (or deleted) in the store: by a revoke-all whose mark this silo has not applied yet
            Catch();
            if (!_held.Written(session with { ExpiresAt = expiresAt, UpdatedAt = now }))
                return Gone<SessionView>();
        }
        return View();
    }

    public async Task<SessionView?> GetAsync()
    {
        await LoadedAsync();
        return _held.Session is null ? Gone<SessionView>() : View();
    }

    public async Task<bool> RevokeAsync(char home = '\0')
    {
        await LoadedAsync(home);
        if (_held.Session is not { } session)
        {
            this.DeactivateOnIdle();
            return false;
        }
        if (_held.IsRevoked)
            return true;
        var now = Rfc3339.Truncate(services.Clock.GetUtcNow());
        if (!await services.Regions.Sessions(session.Region).RevokeSessionAsync(session.Id, now))
            return false;
        ServiceTelemetry.SessionsRevoked.Add(1, new KeyValuePair<string, object?>("scope", "session"));
        if (!_held.Written(session with { Revoked = true, UpdatedAt = now }))
            this.DeactivateOnIdle();
        return true;
    }

    public async Task<SessionView?> AuthenticateAgainAsync(RequestedMethod method, TimeSpan lifespan)
    {
        await LoadedAsync();
        var now = Rfc3339.Truncate(services.Clock.GetUtcNow());
        if (_held.Session is not { } session || !_held.IsActiveAt(now))
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
        if (!await services.Regions.Sessions(session.Region).UpdateSessionAuthenticationAsync(changed))
        {
            await HoldStoredAsync(); // revoked (or deleted) in the store: by a revoke-all whose mark this silo has not applied yet
            return null;
        }
        _lastSeen = now.UtcTicks;
        // Revoked while the write was under way: the renewal is kept (as in the store) but renews nothing.
        Catch();
        if (!_held.Written(changed))
            return Gone<SessionView>();
        return _held.IsRevoked ? null : View();
    }

    public async Task RefreshAsync()
    {
        if (!IsLoaded || _held.Session is null)
            return;
        if (_held.StoredChanged(await services.Store.FindSessionByLookupKeyAsync(this.GetPrimaryKeyString())))
            Catch();
    }

    protected override async Task LoadAsync()
    {
        var key = this.GetPrimaryKeyString();
        var session = await services.Store.FindSessionByLookupKeyAsync(key);
        // Issued in another region a moment ago and not replicated here yet: one read in its home region's database.
        if (session is null && services.Regions.PeerSessionsOfCode(_home) is { } home)
            session = await home.FindSessionByLookupKeyAsync(key);
        IdentityRecord? identity = null;
        if (session is not null)
        {
            // Followed before the identity is read: a change made after the read reaches this silo's standing.
            var standing = Follow(session.IdentityId);
            // The session's home region has its identity (it issued the session for it), should this region not yet.
            identity = await GrainFactory.GetGrain<IIdentityGrain>(session.IdentityId).WatchAsync(GrainContext.Address.SiloAddress!,
                services.Regions.IsOwn(session.Region) ? null : session.Region);
            standing.Offer(identity);
        }
        _held.Load(session, identity);
        Catch();
        if (_held.Session is { } held)
            // A re-authentication is use too, and may be newer than the last-seen time stored before it.
            _lastSeen = _lastSeenRecorded = (held.LastSeenAt is { } seen && seen > held.AuthenticatedAt ? seen : held.AuthenticatedAt).UtcTicks;
        else if (session is not null)
            this.DeactivateOnIdle();
    }

    /// <summary>
    /// With an idle timeout: true when the session has not been used for longer; otherwise this use
    /// is remembered, and handed to the writer when the stored time is more than an interval old.
    /// </summary>
    private bool IsIdle(DateTimeOffset now)
    {
        if (services.Behaviour.IdleTimeout is not { } idleTimeout)
            return false;
        var ticks = now.UtcTicks;
        if (ticks - _lastSeen > idleTimeout.Ticks)
            return true;
        _lastSeen = ticks;
        // Only a session of this region: another region's row is written in its own database, and last-seen is not worth a call there.
        if (ticks - _lastSeenRecorded >= services.Behaviour.LastSeenWriteInterval.Ticks && services.Regions.IsOwn(_held.Session!.Region))
        {
            _lastSeenRecorded = ticks;
            services.LastSeenWriter.Record(_held.Session!.Id, now);
        }
        return false;
    }

    /// <summary>
    /// A conditional write found the session revoked or gone in the store: holds the row as stored (or forgets the
    /// session), so that memory answers what the store says; the session as now held, or null.
    /// </summary>
    private async Task<SessionView?> HoldStoredAsync()
    {
        // Read where the refused write was made: the session's home region's database.
        _held.FoundInStore(await services.Regions.Sessions(_held.Session?.Region ?? "").FindSessionByLookupKeyAsync(this.GetPrimaryKeyString()));
        return _held.Session is null ? Gone<SessionView>() : View();
    }

    /// <summary>The state is loaded and follows the newest copy of the identity this silo knows.</summary>
    private async Task LoadedAsync(char home = '\0')
    {
        if (!IsLoaded && home != '\0')
            _home = home;
        await EnsureLoadedAsync();
        Catch();
    }

    /// <summary>This silo's standing of the identity, held by this activation until it deactivates.</summary>
    private IdentityStanding Follow(Guid identityId) => _standing ??= services.Standings.Acquire(identityId);

    /// <summary>Applies the standing's copy of the identity if it changed since the last call: one reference comparison otherwise.</summary>
    private void Catch()
    {
        if (_standing?.Current is not { } current || ReferenceEquals(current, _followed))
            return;
        _followed = current;
        _held.IdentityChanged(current.Identity);
    }

    /// <summary>Nothing is held (the session is unknown or was deleted): leave memory, answer null.</summary>
    private T? Gone<T>() where T : class
    {
        this.DeactivateOnIdle();
        return null;
    }

    /// <summary>The session as held, revoked if its identity's mark revokes it (as the store reads it).</summary>
    private SessionView View()
    {
        var session = _held.Session!;
        return new() { Session = _held.IsRevoked && !session.Revoked ? session with { Revoked = true } : session, Identity = _held.Identity };
    }

    /// <summary>
    /// The whoami answer of the active session held now: the held record and the silo's JSON of its identity, written
    /// by whoever sends it (nothing rendered is kept per session).
    /// </summary>
    private WhoamiAnswer Active()
    {
        var (session, identity) = (_held.Session!, _held.Identity!);
        // The identity's piece of the body and its id are the silo's copy's, shared by its sessions here.
        var copy = _followed is { } followed && ReferenceEquals(followed.Identity, identity) ? followed : new IdentityCopy(identity);
        return new WhoamiAnswer
        {
            Outcome = WhoamiOutcome.Active,
            Body = WhoamiBody.Of(session, copy.SessionJson(services.Rendering.PublicBaseUrl)),
            IdentityId = copy.IdText,
            ExpiresAt = session.ExpiresAt,
        };
    }
}

/// <summary>
/// What every <see cref="SessionGrain"/> uses, in one object: a resident session holds one reference to it rather
/// than one per service (a million sessions, 48 MB less).
/// </summary>
public sealed class SessionGrainServices(ISessionStore store, TimeProvider clock, IOptions<JsonRenderingOptions> rendering,
    IOptions<SessionBehaviour> behaviour, LastSeenWriter lastSeenWriter, SessionTokenizer tokenizer, IdentityStandings standings,
    Regions.RegionStores regions, Regions.RegionLeases leases)
{
    public Regions.RegionStores Regions { get; } = regions;
    public Regions.RegionLeases Leases { get; } = leases;
    public ISessionStore Store { get; } = store;
    public TimeProvider Clock { get; } = clock;
    public JsonRenderingOptions Rendering { get; } = rendering.Value;
    public SessionBehaviour Behaviour { get; } = behaviour.Value;
    public LastSeenWriter LastSeenWriter { get; } = lastSeenWriter;
    public SessionTokenizer Tokenizer { get; } = tokenizer;
    public IdentityStandings Standings { get; } = standings;
}
