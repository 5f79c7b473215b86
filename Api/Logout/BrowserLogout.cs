using OrleansSessions.Api.Login;
using OrleansSessions.Api.Sessions;

namespace OrleansSessions.Api.Logout;

/// <summary>
/// Ends the browser session a request carries: the session revoked (durably, in its home region) and the cookie
/// expired. Shared by Kratos's browser logout flow and the sign-out button of the pages.
/// </summary>
public sealed class BrowserLogout(IGrainFactory grains, SessionCookie cookie)
{
    public async Task EndAsync(CurrentSession session, HttpResponse response)
    {
        await grains.SessionGrain(session.Credential.LookupKey).RevokeAsync(session.Credential.Home);
        cookie.Expire(response);
    }
}
