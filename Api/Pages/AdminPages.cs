using System.Text.Json;
using Microsoft.AspNetCore.Antiforgery;
using OrleansSessions.Api.Login;

namespace OrleansSessions.Api.Pages;

/// <summary>An identity in the search results of the admin page.</summary>
public sealed record AdminIdentitySummary(Guid Id, string Name, string State)
{
    internal static AdminIdentitySummary Read(JsonElement identity)
    {
        var id = identity.GetProperty("id").GetGuid();
        var traits = identity.TryGetProperty("traits", out var t) ? t.GetRawText() : null;
        return new(id, IdentityNames.Of(id, traits), identity.TryGetProperty("state", out var state) ? state.GetString() ?? "" : "");
    }
}

/// <summary>An identity as its admin page shows it: name, state and traits (top-level, as text).</summary>
public sealed record AdminIdentityView(Guid Id, string Name, string State, IReadOnlyList<(string Name, string Value)> Traits)
{
    internal static AdminIdentityView Read(JsonElement identity)
    {
        var summary = AdminIdentitySummary.Read(identity);
        var traits = new List<(string, string)>();
        if (identity.TryGetProperty("traits", out var t) && t.ValueKind == JsonValueKind.Object)
            foreach (var property in t.EnumerateObject())
                traits.Add((property.Name, property.Value.ValueKind == JsonValueKind.String ? property.Value.GetString()! : property.Value.GetRawText()));
        return new(summary.Id, summary.Name, summary.State, traits);
    }
}

/// <summary>The admin page's addresses on the admin listener.</summary>
public static class AdminPaths
{
    public const string Search = "/admin/ui";
    public const string Stylesheet = "/admin/ui/assets/site.css";
    public static string Identity(Guid id) => $"/admin/ui/identities/{id}";
    public static string State(Guid id) => $"/admin/ui/identities/{id}/state";
    public static string RevokeAll(Guid id) => $"/admin/ui/identities/{id}/revoke-all";
    public static string Revoke(Guid id, Guid session) => $"/admin/ui/identities/{id}/sessions/{session}/revoke";
    public const string RevokeEveryone = "/admin/ui/revoke-everyone";
}

/// <summary>
/// The admin page, on the admin listener behind the admin key (Basic with the key as the password, as the
/// dashboard): find an identity, see its sessions and devices, revoke one or all, disable or enable it. Every
/// read and every action is a call of the admin API (<see cref="AdminApiClient"/>); forms carry an
/// anti-forgery token.
/// </summary>
public static class AdminPages
{
    /// <summary>How many of an identity's sessions the page lists (newest first).</summary>
    private const int Listed = 250;

    public readonly record struct AdminPageServices(AdminApiClient Api, UserAgents Agents, IAntiforgery Antiforgery, TimeProvider Clock);

    /// <summary>Maps under the admin group (<c>/admin</c>).</summary>
    public static RouteGroupBuilder MapAdminPages(this RouteGroupBuilder admin)
    {
        var pages = PagePolicy.On(admin.MapGroup("/ui"));
        pages.MapGet("/assets/site.css", PagePolicy.StylesheetResult);
        pages.MapGet("", SearchAsync);
        pages.MapGet("/identities/{id}", IdentityAsync);
        pages.MapPost("/identities/{id}/state", SetStateAsync);
        pages.MapPost("/identities/{id}/revoke-all", RevokeAllAsync);
        pages.MapPost("/identities/{id}/sessions/{session}/revoke", RevokeAsync);
        pages.MapPost("/revoke-everyone", RevokeEveryoneAsync);
        return pages;
    }

    private static async Task<IResult> SearchAsync(HttpContext context, [AsParameters] AdminPageServices s)
    {
        var query = context.Request.Query["q"].ToString().Trim();
        if (query.Length == 0)
        {
            // The start page also offers to end every session, and says how the latest such job went.
            var job = await s.Api.GetAsync(context, "sessions/revoke-everyone");
            if (!job.Ok && job.Status != StatusCodes.Status404NotFound)
                return Failed(job);
            return PagePolicy.Render<AdminSearchPage>(new
            {
                Token = s.Antiforgery.GetAndStoreTokens(context),
                EveryoneStatus = job.Ok && job.Body is { } status ? EveryoneStatus(status) : null,
                NoticeText = context.Request.Query["notice"].ToString() == "revoking-everyone"
                    ? "Every session of every identity is being revoked, identity by identity." : null,
                Stylesheet = AdminPaths.Stylesheet,
            });
        }
        if (query.Length > 512)
            return PagePolicy.Render<AdminSearchPage>(new { Query = query[..512], Problem = "That is longer than any identifier.", Stylesheet = AdminPaths.Stylesheet },
                StatusCodes.Status400BadRequest);

        var results = new List<AdminIdentitySummary>();
        if (Guid.TryParse(query, out var id))
        {
            var byId = await s.Api.GetAsync(context, $"identities/{id}");
            if (byId.Ok && byId.Body is { } identity)
                results.Add(AdminIdentitySummary.Read(identity));
            else if (byId.Status != StatusCodes.Status404NotFound)
                return Failed(byId);
        }
        var byIdentifier = await s.Api.GetAsync(context, "identities?credentials_identifier=" + Uri.EscapeDataString(query));
        if (!byIdentifier.Ok)
            return Failed(byIdentifier);
        if (byIdentifier.Body is { ValueKind: JsonValueKind.Array } found)
            foreach (var identity in found.EnumerateArray())
                if (results.All(r => r.Id != identity.GetProperty("id").GetGuid()))
                    results.Add(AdminIdentitySummary.Read(identity));
        return PagePolicy.Render<AdminSearchPage>(new
        {
            Query = query,
            Results = (IReadOnlyList<AdminIdentitySummary>)results,
            Problem = results.Count == 0 ? "No identity has that identifier or id." : null,
            Stylesheet = AdminPaths.Stylesheet,
        }, results.Count == 0 ? StatusCodes.Status404NotFound : StatusCodes.Status200OK);
    }

    private static async Task<IResult> IdentityAsync(string id, HttpContext context, [AsParameters] AdminPageServices s)
    {
        if (!Guid.TryParse(id, out var identityId))
            return NotFound();
        var identity = await s.Api.GetAsync(context, $"identities/{identityId}");
        if (identity.Status == StatusCodes.Status404NotFound)
            return NotFound();
        if (!identity.Ok || identity.Body is not { } body)
            return Failed(identity);
        var sessions = await s.Api.GetAsync(context, $"identities/{identityId}/sessions?per_page={Listed}");
        if (!sessions.Ok)
            return Failed(sessions);
        var rows = new List<SessionRow>();
        if (sessions.Body is { ValueKind: JsonValueKind.Array } list)
            foreach (var session in list.EnumerateArray())
                rows.Add(Row(session, s.Agents));
        return PagePolicy.Render<AdminIdentityPage>(new
        {
            Identity = AdminIdentityView.Read(body),
            Sessions = (IReadOnlyList<SessionRow>)rows,
            NoticeText = Notice(context.Request.Query["notice"].ToString()),
            Token = s.Antiforgery.GetAndStoreTokens(context),
            Stylesheet = AdminPaths.Stylesheet,
        });
    }

    private static string? Notice(string notice) => notice switch
    {
        "revoked" => "The session was revoked.",
        "revoked-all" => "Every session of this identity was revoked.",
        "active" => "The identity is enabled: it can sign in again.",
        "inactive" => "The identity is disabled: its sessions no longer answer, and it cannot sign in.",
        _ => null,
    };

    private static async Task<IResult> SetStateAsync(string id, HttpContext context, [AsParameters] AdminPageServices s)
    {
        if (!Guid.TryParse(id, out var identityId))
            return NotFound();
        if (!await s.Antiforgery.IsRequestValidAsync(context))
            return FormExpired(identityId);
        var state = (await context.Request.ReadFormAsync())["state"].ToString();
        if (state is not ("active" or "inactive"))
            return PagePolicy.Render<ErrorPage>(new { Title = "Nothing was changed", Reason = "The form asked for an unknown state.", Stylesheet = AdminPaths.Stylesheet,
                Continue = AdminPaths.Identity(identityId), ContinueText = "Back to the identity" }, StatusCodes.Status400BadRequest);
        var patch = JsonSerializer.Serialize(new[] { new { op = "replace", path = "/state", value = state } });
        var answer = await s.Api.SendAsync(context, HttpMethod.Patch, $"identities/{identityId}", patch);
        return answer.Ok ? new SeeOther($"{AdminPaths.Identity(identityId)}?notice={state}") : Failed(answer, identityId);
    }

    private static async Task<IResult> RevokeAllAsync(string id, HttpContext context, [AsParameters] AdminPageServices s)
    {
        if (!Guid.TryParse(id, out var identityId))
            return NotFound();
        if (!await s.Antiforgery.IsRequestValidAsync(context))
            return FormExpired(identityId);
        var answer = await s.Api.SendAsync(context, HttpMethod.Delete, $"identities/{identityId}/sessions", null);
        // 404: there was no session to revoke, which is what was asked.
        return answer.Ok || answer.Status == StatusCodes.Status404NotFound
            ? new SeeOther($"{AdminPaths.Identity(identityId)}?notice=revoked-all") : Failed(answer, identityId);
    }

    /// <summary>The latest job of <c>POST /admin/sessions/revoke-everyone</c>, in a sentence.</summary>
    private static string EveryoneStatus(JsonElement status)
    {
        var identities = status.GetProperty("identities").GetInt64();
        var sessions = status.GetProperty("sessions_revoked").GetInt64();
        var started = status.GetProperty("started_at").GetDateTimeOffset();
        return status.GetProperty("state").GetString() == "finished"
            ? $"The last run, started {started:u}, finished {status.GetProperty("finished_at").GetDateTimeOffset():u}: {identities} identities, {sessions} sessions revoked."
            : $"Running since {started:u}: {identities} identities so far, {sessions} sessions revoked."
                + (status.GetProperty("last_error").GetString() is { } error ? $" The last page failed ({error}); it is tried again." : "");
    }

    /// <summary>Ends every session of every identity, once the form's box says the admin means it.</summary>
    private static async Task<IResult> RevokeEveryoneAsync(HttpContext context, [AsParameters] AdminPageServices s)
    {
        if (!await s.Antiforgery.IsRequestValidAsync(context))
            return PagePolicy.Render<ErrorPage>(new { Title = "Nothing was changed", Reason = "That form had expired. Open the page again and retry.",
                Stylesheet = AdminPaths.Stylesheet, Continue = AdminPaths.Search, ContinueText = "Back" }, StatusCodes.Status400BadRequest);
        if ((await context.Request.ReadFormAsync())["confirm"].ToString() != "yes")
            return PagePolicy.Render<ErrorPage>(new { Title = "Nothing was changed", Reason = "Tick the box to confirm that every user is to be signed out.",
                Stylesheet = AdminPaths.Stylesheet, Continue = AdminPaths.Search, ContinueText = "Back" }, StatusCodes.Status400BadRequest);
        var answer = await s.Api.SendAsync(context, HttpMethod.Post, "sessions/revoke-everyone", null);
        return answer.Ok ? new SeeOther($"{AdminPaths.Search}?notice=revoking-everyone") : Failed(answer);
    }

    private static async Task<IResult> RevokeAsync(string id, string session, HttpContext context, [AsParameters] AdminPageServices s)
    {
        if (!Guid.TryParse(id, out var identityId) || !Guid.TryParse(session, out var sessionId))
            return NotFound();
        if (!await s.Antiforgery.IsRequestValidAsync(context))
            return FormExpired(identityId);
        var answer = await s.Api.SendAsync(context, HttpMethod.Delete, $"sessions/{sessionId}", null);
        return answer.Ok ? new SeeOther($"{AdminPaths.Identity(identityId)}?notice=revoked") : Failed(answer, identityId);
    }

    /// <summary>A session of the admin API's JSON as a row (the admin API does not say when it was last seen).</summary>
    private static SessionRow Row(JsonElement session, UserAgents agents)
    {
        JsonElement device = default;
        if (session.TryGetProperty("devices", out var devices) && devices.ValueKind == JsonValueKind.Array && devices.GetArrayLength() > 0)
            device = devices[0];
        string? Text(string name) => device.ValueKind == JsonValueKind.Object && device.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String
            ? value.GetString() : null;
        var (browser, system) = agents.Describe(Text("user_agent"));
        return new SessionRow(
            session.GetProperty("id").GetGuid(), browser, system, Text("ip_address"), Text("location"),
            session.TryGetProperty("authenticated_at", out var at) ? at.GetDateTimeOffset() : default,
            null,
            session.TryGetProperty("expires_at", out var expires) ? expires.GetDateTimeOffset() : default,
            session.TryGetProperty("active", out var active) && active.ValueKind == JsonValueKind.True,
            Current: false);
    }

    private static IResult NotFound() =>
        PagePolicy.Render<ErrorPage>(new { Title = "No such identity", Reason = "No identity has that id.", Stylesheet = AdminPaths.Stylesheet,
            Continue = AdminPaths.Search, ContinueText = "Find a user" }, StatusCodes.Status404NotFound);

    private static IResult FormExpired(Guid identityId) =>
        PagePolicy.Render<ErrorPage>(new { Title = "Nothing was changed", Reason = "That form had expired. Open the page again and retry.", Stylesheet = AdminPaths.Stylesheet,
            Continue = AdminPaths.Identity(identityId), ContinueText = "Back to the identity" }, StatusCodes.Status400BadRequest);

    /// <summary>The admin API refused or failed: its status (a 4xx stays a 4xx) and its reason.</summary>
    private static IResult Failed(AdminAnswer answer, Guid? identityId = null) =>
        PagePolicy.Render<ErrorPage>(new
        {
            Title = "The admin API refused",
            Reason = answer.Problem,
            Stylesheet = AdminPaths.Stylesheet,
            Continue = identityId is { } id ? AdminPaths.Identity(id) : AdminPaths.Search,
            ContinueText = identityId is null ? "Find a user" : "Back to the identity",
        }, answer.Status is >= 400 and < 600 ? answer.Status : StatusCodes.Status502BadGateway);
}
