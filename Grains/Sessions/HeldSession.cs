namespace OrleansSessions.Sessions;

/// <summary>
/// The rules of one session as a silo holds it in memory, with nothing of Orleans in it: which copy of the session
/// and of its identity is held, which of two changes wins, what a change told before the stored copy was read does,
/// and what a whoami is answered. <see cref="SessionGrain"/> hosts one; the store and the grain calls stay with it.
/// </summary>
/// <remarks>
/// The changes and which wins:
/// <list type="bullet">
/// <item>a revocation is never undone: of one session (its own flag), a change written before it and applied after
///   it (an extend, a re-authentication) keeps the session revoked; of all the identity's sessions, the identity's
///   revocation mark (<see cref="IdentityRecord.Sessions"/>) revokes every session issued up to it, whatever is
///   written to the session after;</item>
/// <item>a deletion (the identity's, or of all its sessions by the mark) wins over everything, and nothing is held after it;</item>
/// <item>of two copies of the identity the higher <see cref="IdentityRecord.Version"/> wins, whatever the order they
///   arrive in (a change told while the stored copy is being read is offered again once it is held: the host keeps it).</item>
/// </list>
///
/// A mutable struct, so that the grain holds it inline rather than as an object of its own (40 bytes less per
/// resident session): keep it in a field that is not readonly and call its methods on that field; a copy changes
/// only the copy.
/// </remarks>
public struct HeldSession
{
    private SessionRecord? _session;
    private IdentityRecord? _identity;

    /// <summary>The session as held; null before it is loaded, when it does not exist, or after it was deleted.</summary>
    public readonly SessionRecord? Session => _session;

    /// <summary>The identity the session belongs to, as held (null when there is no session).</summary>
    public readonly IdentityRecord? Identity => _identity;

    /// <summary>Counts the changes of what is held: whatever was rendered from an older value is stale.</summary>
    public long Version { get; private set; }

    /// <summary>A newly issued session, already stored: held as it is, nothing loaded for it.</summary>
    public void Start(SessionRecord session, IdentityRecord identity)
    {
        Hold(session, identity);
    }

    /// <summary>
    /// The stored copy was read (<paramref name="stored"/> null: no such session) with its identity as read then
    /// (null: deleted).
    /// </summary>
    public void Load(SessionRecord? stored, IdentityRecord? identity)
    {
        if (stored is null)
            return;
        if (identity is null || identity.Sessions.Deletes(stored))
            Forget();
        else
            Hold(stored, identity);
    }

    /// <summary>
    /// The identity changed (null: deleted): kept if it is newer than the copy held. False when no session is held
    /// (nothing to apply it to).
    /// </summary>
    public bool IdentityChanged(IdentityRecord? identity)
    {
        if (_session is not { } session)
            return false;
        if (identity is null || identity.Sessions.Deletes(session))
            Forget(); // a deleted identity takes its sessions with it, and so does a delete-all
        else if (_identity is null || identity.Version > _identity.Version)
            Hold(session, identity);
        else if (identity.Version == _identity.Version)
            _identity = identity; // the same identity (one version, one content): the told copy is kept, so a silo's sessions share one, and nothing held changes
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

    /// <summary>
    /// The session's row changed in the store after it was held (another region wrote it, in its own database or in
    /// this one, and the change record said so); <paramref name="stored"/> is the row read again. A row that has not
    /// reached this database yet (null: the session was read from its home region) or is older than what is held (a
    /// change written from here that has not replicated back) changes nothing; a revocation is never undone.
    /// False when what is held did not change.
    /// </summary>
    public bool StoredChanged(SessionRecord? stored)
    {
        if (stored is null || _session is not { } held)
            return false;
        if (stored.UpdatedAt < held.UpdatedAt && (!stored.Revoked || held.Revoked))
            return false;
        Hold(stored with { Revoked = stored.Revoked || held.Revoked }, _identity);
        return true;
    }

    /// <summary>Whether the session is active at <paramref name="now"/> (Kratos's computed <c>active</c>).</summary>
    public readonly bool IsActiveAt(DateTimeOffset now) => _session is { } session && session.IsActiveAt(now, _identity);

    /// <summary>Whether the session is revoked, on its own or by its identity's revocation mark.</summary>
    public readonly bool IsRevoked => _session is { } session && (session.Revoked || _identity is { } identity && identity.Sessions.Revokes(session));

    /// <summary>Whether the session may be extended now: it exists, it is not revoked, and its expiry is within <paramref name="earliestPossibleExtend"/>.</summary>
    public readonly bool IsDueForExtension(DateTimeOffset now, TimeSpan earliestPossibleExtend) =>
        _session is { } session && !IsRevoked && session.ExpiresAt - earliestPossibleExtend < now;

    /// <summary>What a whoami through <paramref name="carrier"/> is answered at <paramref name="now"/>, before the idle timeout.</summary>
    public readonly SessionVerdict Judge(SessionChannel carrier, DateTimeOffset now, bool requireHighestAal)
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
