using OrleansSessions.Api.Login;

namespace OrleansSessions.Api.Sessions;

/// <summary>
/// The rules of a user's own sessions, shared by the self-service API (<c>GET/DELETE /sessions</c>) and the
/// sessions page: a user sees and ends only sessions of their own identity, never ends the current one here
/// (that is logout), and an id that is not theirs is left alone with the same answer as one that is.
/// </summary>
public sealed class OwnSessions(IGrainFactory grains)
{
    /// <summary>The active sessions of the caller's identity, newest first; the current one left out when asked.</summary>
    public Task<SessionPage> ListAsync(CurrentSession current, int offset, int limit, bool exceptCurrent, DateTimeOffset now) =>
        ReadRetry.ReadAsync(() => grains.GetGrain<ISessionCatalogGrain>(0).ListForIdentityAsync(new IdentitySessionsQuery
        {
            IdentityId = current.Session.IdentityId,
            Offset = offset,
            Limit = limit,
            Active = ActiveFilter.Active,
            Except = exceptCurrent ? current.Session.Id : null,
            Now = now,
        }));

    /// <summary>Revokes every other session of the caller's identity; how many were revoked.</summary>
    public Task<int> EndOthersAsync(CurrentSession current) =>
        grains.GetGrain<IIdentityGrain>(current.Session.IdentityId).RevokeSessionsAsync(except: current.Session);

    /// <summary>
    /// Revokes one other session of the caller's identity. False only for the current session (which this does
    /// not end); true for anything else, also an unknown, foreign or revoked id, which are left as they are.
    /// </summary>
    public async Task<bool> EndAsync(CurrentSession current, Guid sessionId)
    {
        if (sessionId == current.Session.Id)
            return false;
        if (await grains.GetGrain<ISessionCatalogGrain>(0).FindLookupKeyAsync(sessionId) is { } key)
        {
            var grain = grains.SessionGrain(key);
            if (await grain.GetAsync() is { } view && view.Session.IdentityId == current.Session.IdentityId && !view.Session.Revoked)
                await grain.RevokeAsync();
        }
        return true;
    }
}
