using OrleansSessions.Api.Sessions;

namespace OrleansSessions.Api.Login;

/// <summary>The active session a request carries, with the credential it was presented through.</summary>
public sealed record CurrentSession(PresentedCredential Credential, SessionRecord Session, IdentityRecord Identity);

/// <summary>
/// Finds the session of a self-service request. A flow only counts the carrier of its own kind: the
/// token headers for API flows, the cookie for browser flows (the isolation DESIGN.md asks for).
/// </summary>
public sealed class RequestSessions(SessionCredentials credentials, IGrainFactory grains, TimeProvider clock)
{
    public async Task<CurrentSession?> FindAsync(HttpRequest request, SessionChannel carrier)
    {
        if (!credentials.TryRead(request, out var credential) || credential.Carrier != carrier)
            return null;
        return (await FindAsync(credential, requireHighestAal: false)).Session;
    }

    /// <summary>
    /// The session of a request presented through any carrier (the session endpoints). With
    /// <paramref name="requireHighestAal"/>, an active session below the identity's available AAL comes
    /// back as <see cref="WhoamiOutcome.Aal2Required"/> without the session, as whoami would answer.
    /// </summary>
    public async Task<(CurrentSession? Session, WhoamiOutcome Outcome)> FindAsync(HttpRequest request, bool requireHighestAal) =>
        credentials.TryRead(request, out var credential)
            ? await FindAsync(credential, requireHighestAal)
            : (null, WhoamiOutcome.Unauthorized);

    private async Task<(CurrentSession? Session, WhoamiOutcome Outcome)> FindAsync(PresentedCredential credential, bool requireHighestAal)
    {
        var grain = grains.SessionGrain(credential.LookupKey);
        // The grain's own whoami decides "active" (and lets an unknown key leave memory at once).
        var answer = await grain.WhoamiAsync(credential.Carrier, requireHighestAal, credential.Home);
        if (answer.Outcome != WhoamiOutcome.Active)
            return (null, answer.Outcome);
        var view = await grain.GetAsync();
        if (view?.Identity is not { } identity || !view.Session.IsActiveAt(clock.GetUtcNow(), identity))
            return (null, WhoamiOutcome.Unauthorized);
        return (new CurrentSession(credential, view.Session, identity), WhoamiOutcome.Active);
    }
}
