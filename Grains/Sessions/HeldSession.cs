namespace OrleansSessions.Sessions;

/// <summary>
/// The rules of one session as a silo holds it in memory, with nothing of Orleans in it: which copy of the session
/// and of its identity is held, which of two changes wins, what a change told before the stored copy was read does,
/// and what a whoami is answered. <see cref="SessionGrain"/> hosts one; the store and the grain calls stay with it.
/// </summary>
/// <remarks>
/// The changes and which wins:
/// <list type="bullet">
/// <item>a revocation (one session, or told by a revoke-all) is never undone: a change written before it and
///   applied after it (an extend, a re-authentication) keeps the session revoked;</item>
/// <item>a deletion (the session's or its identity's) wins over everything, and nothing is held after it;</item>
/// <item>of two copies of the identity the higher <see cref="IdentityRecord.Version"/> wins, whatever the order they arrive in;</item>
/// <item>a change told before the stored copy is read (a tell can reach an activation whose load is under way, and the
///   load may have read the store before the change) is kept and applied to what the load brings.</item>
/// </list>
/// </remarks>
public sealed class HeldSession
{
    private SessionRecord? _session;
    private IdentityRecord? _identity;
    // Told before the stored copy was held: an identity (Told; null Identity = deleted) and a revoke-all or delete-all.
    private (bool Told, IdentityRecord? Identity) _identityTold;
    private (bool Ended, bool Deleted) _endedTold;

    /// <summary>The session as held; null before it is loaded, when it does not exist, or after it was deleted.</summary>
    public SessionRecord? Session => _session;

    /// <summary>The identity the session belongs to, as held (null when there is no session).</summary>
    public IdentityRecord? Identity => _identity;

    /// <summary>Counts the changes of what is held: whatever was rendered from an older value is stale.</summary>
    public long Version { get; private set; }

    /// <summary>A newly issued session, already stored: held as it is, nothing loaded for it.</summary>
    public void Start(SessionRecord session, IdentityRecord identity)
    {
        Hold(session, identity);
    }

    /// <summary>
    /// The stored copy was read (<paramref name="stored"/> null: no such session) with its identity as read then
    /// (null: deleted); what was told meanwhile is applied to it.
    /// </summary>
    public void Load(SessionRecord? stored, IdentityRecord? identity)
    {
        if (stored is null)
            return;
        var (_, newest) = Newest(_identityTold, identity);
        if (newest is null || _endedTold.Deleted)
        {
            Forget();
            return;
        }
        Hold(_endedTold.Ended ? stored with { Revoked = true } : stored, newest);
    }

    /// <summary>The identity changed (null: deleted). False when no session is held, so the change was only recorded for a load.</summary>
    public bool IdentityChanged(IdentityRecord? identity)
    {
        if (_session is not { } session)
        {
            _identityTold = Newest(_identityTold, identity);
            return false;
        }
        if (identity is null)
            Forget(); // a deleted identity takes its sessions with it
        else if (_identity is null || identity.Version >= _identity.Version)
            Hold(session, identity);
        return true;
    }

    /// <summary>
    /// A bulk operation of the identity revoked (or, with <paramref name="deleted"/>, deleted) the session in the
    /// store. False when no session is held, so it was only recorded for a load.
    /// </summary>
    public bool EndedInStore(bool deleted)
    {
        if (_session is not { } session)
        {
            _endedTold = (true, _endedTold.Deleted || deleted);
            return false;
        }
        if (deleted)
            Forget();
        else if (!session.Revoked)
            Hold(session with { Revoked = true }, _identity);
        return true;
    }

    /// <summary>
    /// <paramref name="written"/>, a change of this session just written to the store, is held, keeping what was
    /// told while the write was under way: a revocation stays, a deletion stays (false: nothing is held).
    /// </summary>
    public bool Written(SessionRecord written)
    {
        if (_session is not { } current)
            return false;
        Hold(written with { Revoked = written.Revoked || current.Revoked }, _identity);
        return true;
    }

    /// <summary>
    /// A conditional write found the session revoked or gone in the store; <paramref name="stored"/> is the row read
    /// again (null: gone). Memory follows the store; a revocation held already stays.
    /// </summary>
    public void FoundInStore(SessionRecord? stored)
    {
        if (stored is null || _session is null)
        {
            Forget();
            return;
        }
        Hold(stored with { Revoked = stored.Revoked || _session.Revoked }, _identity);
    }

    /// <summary>Whether the session is active at <paramref name="now"/> (Kratos's computed <c>active</c>).</summary>
    public bool IsActiveAt(DateTimeOffset now) => _session is { } session && session.IsActiveAt(now, _identity);

    /// <summary>Whether the session may be extended now: it exists, it is not revoked, and its expiry is within <paramref name="earliestPossibleExtend"/>.</summary>
    public bool IsDueForExtension(DateTimeOffset now, TimeSpan earliestPossibleExtend) =>
        _session is { Revoked: false } session && session.ExpiresAt - earliestPossibleExtend < now;

    /// <summary>What a whoami through <paramref name="carrier"/> is answered at <paramref name="now"/>, before the idle timeout.</summary>
    public SessionVerdict Judge(SessionChannel carrier, DateTimeOffset now, bool requireHighestAal)
    {
        if (_session is not { } session)
            return SessionVerdict.Unknown;
        if (session.Channel != carrier)
            return SessionVerdict.Refused;
        if (session.ExpiresAt <= now)
            return SessionVerdict.Expired;
        if (!session.IsActiveAt(now, _identity))
            return SessionVerdict.Refused;
        if (requireHighestAal && _identity!.AvailableAal == AuthenticatorAssurance.Aal2 && session.Aal != AuthenticatorAssurance.Aal2)
            return SessionVerdict.Aal2Required;
        return SessionVerdict.Active;
    }

    private void Forget()
    {
        _session = null;
        _identity = null;
        Version++;
    }

    private void Hold(SessionRecord session, IdentityRecord? identity)
    {
        _session = session;
        _identity = identity;
        Version++;
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
}

/// <summary>The decision of a whoami, from what is held.</summary>
public enum SessionVerdict
{
    Active,
    /// <summary>No such session (never was, or deleted): nothing worth keeping in memory.</summary>
    Unknown,
    /// <summary>Past its expiry: 401, and nothing worth keeping in memory.</summary>
    Expired,
    /// <summary>Revoked, identity inactive, or presented through the other carrier: 401.</summary>
    Refused,
    /// <summary>Active, but below the identity's available AAL.</summary>
    Aal2Required,
}
