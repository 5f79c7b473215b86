using OrleansSessions.Api.Errors;

namespace OrleansSessions.Api.Sessions;

/// <summary>The admin session API (Kratos's <c>disableSession</c>; the next issues add the rest).</summary>
public static class AdminSessionsApi
{
    public static RouteGroupBuilder MapAdminSessionsApi(this RouteGroupBuilder admin)
    {
        admin.MapDelete("/sessions/{id}", DisableAsync).WithName("disableSession");
        return admin;
    }

    private static async Task<IResult> DisableAsync(string id, IGrainFactory grains)
    {
        if (!Guid.TryParse(id, out var sessionId))
            return new OryErrorResult(OryError.BadRequest("The session id is not a UUID."));
        var key = await grains.GetGrain<ISessionCatalogGrain>(0).FindLookupKeyAsync(sessionId);
        if (key is null || !await grains.GetGrain<ISessionGrain>(key).RevokeAsync())
            return new OryErrorResult(OryError.NotFound.WithReason("Unable to locate the session."));
        return TypedResults.NoContent();
    }
}
