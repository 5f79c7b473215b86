using OrleansSessions.Api.Configuration;
using OrleansSessions.Api.Errors;
using OrleansSessions.Json;

namespace OrleansSessions.Api.Sessions;

/// <summary>
/// The admin session API: Kratos's <c>listSessions</c>, <c>getSession</c>, <c>disableSession</c>,
/// <c>extendSession</c>, <c>listIdentitySessions</c> and <c>deleteIdentitySessions</c>.
/// </summary>
public static class AdminSessionsApi
{
    /// <summary>Kratos's 404 for a row that is not there (sqlcon's <c>ErrNoRows</c>).</summary>
    private static readonly OryError NotFound = new(StatusCodes.Status404NotFound, "Unable to locate the resource");

    /// <summary>What the admin session endpoints use, injected per request.</summary>
    public readonly record struct AdminSessionServices(
        IGrainFactory Grains,
        TimeProvider Clock,
        IOptions<SessionSettings> SessionOptions,
        IOptions<JsonRenderingOptions> Rendering)
    {
        public ISessionCatalogGrain Catalog => Grains.GetGrain<ISessionCatalogGrain>(0);
        public string PublicBaseUrl => Rendering.Value.PublicBaseUrl;
    }

    public static RouteGroupBuilder MapAdminSessionsApi(this RouteGroupBuilder admin)
    {
        admin.MapGet("/sessions", ListAsync).WithName("listSessions");
        admin.MapGet("/sessions/{id}", GetAsync).WithName("getSession");
        admin.MapDelete("/sessions/{id}", DisableAsync).WithName("disableSession");
        admin.MapPatch("/sessions/{id}/extend", ExtendAsync).WithName("extendSession");
        admin.MapGet("/identities/{id}/sessions", ListForIdentityAsync).WithName("listIdentitySessions");
        admin.MapDelete("/identities/{id}/sessions", DeleteForIdentityAsync).WithName("deleteIdentitySessions");
        // Our addition: every identity's sessions at once (a literal segment, so it wins over /sessions/{id}).
        admin.MapPost("/sessions/revoke-everyone", RevokeEveryoneAsync);
        admin.MapGet("/sessions/revoke-everyone", RevokeEveryoneStatusAsync);
        return admin;
    }

    /// <summary>The longest <c>?wait=</c> of the job's status: a long poll, not a job's whole run on one request.</summary>
    private static readonly TimeSpan MaxStatusWait = TimeSpan.FromSeconds(60);

    /// <summary>Starts ending every session of every identity (or finds the job running): 202 and the job's status.</summary>
    private static async Task<IResult> RevokeEveryoneAsync(HttpContext context, [AsParameters] AdminSessionServices s)
    {
        context.Response.Headers.CacheControl = WhoamiApi.NoStore;
        var status = await s.Grains.GetGrain<IRevokeEveryoneGrain>(0).StartAsync();
        return Results.Text(RevokeEveryoneJson(status), "application/json", statusCode: StatusCodes.Status202Accepted);
    }

    /// <summary>
    /// The latest job's status (404 when none ran since the activation that runs them started); with
    /// <c>?wait=30s</c> (a duration, at most a minute), answered once the job has finished or when the wait is over.
    /// </summary>
    private static async Task<IResult> RevokeEveryoneStatusAsync(HttpContext context, [AsParameters] AdminSessionServices s)
    {
        context.Response.Headers.CacheControl = WhoamiApi.NoStore;
        var wait = TimeSpan.Zero;
        if (context.Request.Query["wait"] is { Count: > 0 } given && (!GoDuration.TryParse(given[0], out wait) || wait > MaxStatusWait))
            return new OryErrorResult(OryError.BadRequest("The wait must be a duration (like 30s) of at most 60s."));
        var job = s.Grains.GetGrain<IRevokeEveryoneGrain>(0);
        var status = wait > TimeSpan.Zero ? await job.WaitAsync(wait) : await job.StatusAsync();
        return status is null ? new OryErrorResult(NotFound) : Results.Text(RevokeEveryoneJson(status), "application/json");
    }

    private static string RevokeEveryoneJson(RevokeEveryoneStatus status) => new System.Text.Json.Nodes.JsonObject
    {
        ["state"] = status.Running ? "running" : "finished",
        ["started_at"] = Rfc3339.Write(status.StartedAt),
        ["finished_at"] = status.FinishedAt is { } finished ? Rfc3339.Write(finished) : null,
        ["identities"] = status.Identities,
        ["sessions_revoked"] = status.SessionsRevoked,
        ["last_error"] = status.LastError,
    }.ToJsonString();

    /// <summary>
    /// Every session, newest first, a keyset page at a time: the <c>next</c> link continues after the last
    /// session shown, so sessions created meanwhile never shift a page.
    /// </summary>
    private static async Task<IResult> ListAsync(HttpContext context, [AsParameters] AdminSessionServices s)
    {
        context.Response.Headers.CacheControl = WhoamiApi.NoStore;
        var query = context.Request.Query;
        if (!SessionParameters.TryParseActive(query, out var active, out var error)
            || !KeysetPage.TryParse(query, out var size, out var after, out error)
            || !SessionParameters.TryParseExpand(query, out var expand, out error))
            return new OryErrorResult(error!);

        var now = s.Clock.GetUtcNow();
        // One more than a page tells whether there is a next one. The identity is always read, so that
        // "active" also reflects a disabled identity; it is shown only when expanded.
        var found = await ReadRetry.ReadAsync(() => s.Catalog.ListAsync(new SessionListQuery
        {
            PageSize = size + 1,
            After = after,
            Active = active,
            WithIdentity = true,
            Now = now,
        }));
        var page = found.Length > size ? found.RemoveRange(size, found.Length - size) : found;
        var next = found.Length > size ? new SessionCursor { CreatedAt = page[^1].Session.CreatedAt, Id = page[^1].Session.Id } : null;
        KeysetPage.WriteHeaders(context, size, next);
        return SessionResults.List(page, new SessionJsonShape(expand.Identity, expand.Devices), now, s.PublicBaseUrl);
    }

    /// <summary>One session; without <c>expand</c>, <c>identity</c> is null and <c>devices</c> empty, as Kratos.</summary>
    private static async Task<IResult> GetAsync(string id, HttpContext context, [AsParameters] AdminSessionServices s)
    {
        context.Response.Headers.CacheControl = WhoamiApi.NoStore;
        if (!SessionParameters.TryParseUuid(id, out var sessionId, out var error)
            || !SessionParameters.TryParseExpand(context.Request.Query, out var expand, out error))
            return new OryErrorResult(error!);
        var key = await ReadRetry.ReadAsync(() => s.Catalog.FindLookupKeyAsync(sessionId));
        if (key is null || await ReadRetry.ReadAsync(() => s.Grains.SessionGrain(key).GetAsync()) is not { } found)
            return new OryErrorResult(NotFound);
        var view = expand.Devices ? found : found with { Session = found.Session with { Devices = [] } };
        return SessionResults.One(view, new SessionJsonShape(expand.Identity, Devices: true), s.Clock.GetUtcNow(), s.PublicBaseUrl);
    }

    /// <summary>Revokes a session (the row stays): 204; 404 when there is no such session.</summary>
    private static async Task<IResult> DisableAsync(string id, [AsParameters] AdminSessionServices s)
    {
        if (!SessionParameters.TryParseUuid(id, out var sessionId, out var error))
            return new OryErrorResult(error!);
        var key = await ReadRetry.ReadAsync(() => s.Catalog.FindLookupKeyAsync(sessionId));
        if (key is null || !await s.Grains.SessionGrain(key).RevokeAsync())
            return new OryErrorResult(NotFound);
        return TypedResults.NoContent();
    }

    /// <summary>
    /// Kratos's extend (without <c>faster_session_extend</c>): expires_at becomes now + lifespan once
    /// expires_at − <c>session.earliest_possible_extend</c> has passed, else nothing changes; 200 with the session.
    /// </summary>
    private static async Task<IResult> ExtendAsync(string id, [AsParameters] AdminSessionServices s)
    {
        if (!SessionParameters.TryParseUuid(id, out var sessionId, out var error))
            return new OryErrorResult(error!);
        var key = await ReadRetry.ReadAsync(() => s.Catalog.FindLookupKeyAsync(sessionId));
        var settings = s.SessionOptions.Value;
        var extended = key is null ? null
            : await s.Grains.SessionGrain(key).ExtendAsync(settings.ParsedLifespan, settings.ParsedEarliestPossibleExtend);
        if (extended is null)
            return new OryErrorResult(NotFound);
        return SessionResults.One(extended, SessionJsonShape.Full, s.Clock.GetUtcNow(), s.PublicBaseUrl);
    }

    /// <summary>One identity's sessions, newest first, with identity and devices; an unknown identity has none.</summary>
    private static async Task<IResult> ListForIdentityAsync(string id, HttpContext context, [AsParameters] AdminSessionServices s)
    {
        context.Response.Headers.CacheControl = WhoamiApi.NoStore;
        if (!SessionParameters.TryParseUuid(id, out var identityId, out var error)
            || !SessionParameters.TryParseActive(context.Request.Query, out var active, out error))
            return new OryErrorResult(error!);
        var page = OffsetPage.Parse(context.Request.Query);
        var now = s.Clock.GetUtcNow();
        var listed = await ReadRetry.ReadAsync(() => s.Catalog.ListForIdentityAsync(new IdentitySessionsQuery
        {
            IdentityId = identityId,
            Offset = page.Offset,
            Limit = page.PerPage,
            Active = active,
            Now = now,
        }));
        page.WriteHeaders(context, listed.Total);
        return SessionResults.List(listed.Sessions, SessionJsonShape.Full, now, s.PublicBaseUrl);
    }

    /// <summary>
    /// Deletes every session of the identity (rows and all): each answers 401 from then on, on every node.
    /// 404 when the identity has none, as Kratos.
    /// </summary>
    private static async Task<IResult> DeleteForIdentityAsync(string id, [AsParameters] AdminSessionServices s)
    {
        if (!SessionParameters.TryParseUuid(id, out var identityId, out var error))
            return new OryErrorResult(error!);
        if (!await s.Grains.GetGrain<IIdentityGrain>(identityId).DeleteSessionsAsync())
            return new OryErrorResult(NotFound);
        return TypedResults.NoContent();
    }
}
