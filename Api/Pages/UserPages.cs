using System.Buffers;
using System.Text.Json;
using Microsoft.AspNetCore.Antiforgery;
using Microsoft.AspNetCore.Http.HttpResults;
using OrleansSessions.Api.Configuration;
using OrleansSessions.Api.Login;
using OrleansSessions.Api.Logout;
using OrleansSessions.Api.Sessions;
using OrleansSessions.Json;
using OrleansSessions.Login;

namespace OrleansSessions.Api.Pages;

/// <summary>The pages' own addresses on the public listener, absolute under the public base URL.</summary>
public sealed record UserPagePaths(string SignIn, string Sessions, string EndOne, string EndOthers, string SignOut, string Assets)
{
    public const string Prefix = "ui";

    public static UserPagePaths Under(string publicBaseUrl) => new(
        publicBaseUrl + Prefix + "/login",
        publicBaseUrl + Prefix + "/sessions",
        publicBaseUrl + Prefix + "/sessions/end",
        publicBaseUrl + Prefix + "/sessions/end-others",
        publicBaseUrl + Prefix + "/logout",
        publicBaseUrl + Prefix + "/assets/site.css");
}

/// <summary>
/// The pages for people, on the public listener: <b>sign in</b> (a browser login flow's UI, the default
/// <c>selfservice.flows.login.ui_url</c>), <b>your sessions</b> (this device and every other one, each of which
/// can be ended, or all of them) and <b>sign out</b>. Server-rendered, without script; every form of ours
/// carries an anti-forgery token, the sign-in form the flow's own anti-CSRF token.
/// </summary>
public static class UserPages
{
    /// <summary>How many other sessions the page lists (newest first); signing out all others ends the rest too.</summary>
    private const int Listed = 100;

    /// <summary>What the pages use, injected per request.</summary>
    public readonly record struct UserPageServices(
        IGrainFactory Grains,
        TimeProvider Clock,
        RequestSessions Sessions,
        OwnSessions Own,
        BrowserLogout Logout,
        CsrfCookie Csrf,
        ReturnUrls ReturnUrls,
        UserAgents Agents,
        IAntiforgery Antiforgery,
        IOptions<SelfServiceSettings> SelfServiceOptions,
        IOptions<SessionSettings> SessionOptions,
        IOptions<JsonRenderingOptions> Rendering)
    {
        public string PublicBaseUrl => Rendering.Value.PublicBaseUrl;
        public UserPagePaths Paths => UserPagePaths.Under(PublicBaseUrl);
    }

    public static RouteGroupBuilder MapUserPages(this IEndpointRouteBuilder routes)
    {
        var pages = PagePolicy.On(routes.MapGroup("/" + UserPagePaths.Prefix));
        pages.MapGet("/login", SignInAsync);
        pages.MapGet("/sessions", SessionsAsync);
        pages.MapPost("/sessions/end", EndOneAsync);
        pages.MapPost("/sessions/end-others", EndOthersAsync);
        pages.MapPost("/logout", SignOutAsync);
        pages.MapGet("/", (IOptions<JsonRenderingOptions> rendering) => new SeeOther(UserPagePaths.Under(rendering.Value.PublicBaseUrl).Sessions));
        pages.MapGet("/assets/site.css", PagePolicy.StylesheetResult);
        return pages;
    }

    // ---- sign in -------------------------------------------------------------------------------

    /// <summary>
    /// <c>GET /ui/login?flow=&lt;id&gt;</c>: the flow's form. Without a flow, or with one this browser cannot use
    /// (unknown, another browser's, expired, not a browser flow), a new flow is started with the same wishes.
    /// </summary>
    private static async Task<IResult> SignInAsync(HttpContext context, [AsParameters] UserPageServices s)
    {
        var query = context.Request.Query;
        if (!Guid.TryParse(query["flow"], out var flowId))
            return new SeeOther(StartFlow(s.PublicBaseUrl, query["return_to"], query["aal"], query["refresh"]));
        var flow = await s.Grains.GetGrain<ILoginFlowGrain>(flowId).GetAsync();
        if (flow is null || flow.Type != SessionChannel.Browser || flow.IsExpiredAt(s.Clock.GetUtcNow())
            || LoginFlowApi.CheckCsrf(context.Request, s.Csrf, flow.CsrfToken) is not null)
            return new SeeOther(StartFlow(s.PublicBaseUrl, flow?.ReturnTo, flow?.RequestedAal == AuthenticatorAssurance.Aal2 ? AuthenticatorAssurance.Aal2 : null,
                flow?.Refresh == true ? "true" : null));

        var form = UiForm.Read(FlowJson(flow, s.PublicBaseUrl).RootElement);
        return PagePolicy.Render<LoginPage>(new
        {
            Form = form,
            SecondFactor = flow.RequestedAal == AuthenticatorAssurance.Aal2,
            Stylesheet = s.Paths.Assets,
        });
    }

    /// <summary>The flow as the API answers it (<c>getLoginFlow</c>): the page renders what any Kratos UI gets.</summary>
    private static JsonDocument FlowJson(LoginFlowRecord flow, string publicBaseUrl)
    {
        var buffer = new ArrayBufferWriter<byte>(2048);
        using (var writer = new Utf8JsonWriter(buffer))
            LoginFlowJson.Write(writer, flow, publicBaseUrl);
        return JsonDocument.Parse(buffer.WrittenMemory);
    }

    /// <summary><c>/self-service/login/browser</c> with the given wishes (each passed on only when given).</summary>
    public static string StartFlow(string publicBaseUrl, string? returnTo, string? aal = null, string? refresh = null)
    {
        var parameters = new List<string>();
        if (!string.IsNullOrEmpty(returnTo)) parameters.Add("return_to=" + Uri.EscapeDataString(returnTo));
        if (!string.IsNullOrEmpty(aal)) parameters.Add("aal=" + Uri.EscapeDataString(aal));
        if (!string.IsNullOrEmpty(refresh)) parameters.Add("refresh=" + Uri.EscapeDataString(refresh));
        return publicBaseUrl + "self-service/login/browser" + (parameters.Count == 0 ? "" : "?" + string.Join('&', parameters));
    }

    // ---- your sessions -------------------------------------------------------------------------

    private static async Task<IResult> SessionsAsync(HttpContext context, [AsParameters] UserPageServices s)
    {
        var paths = s.Paths;
        var (current, outcome) = await s.Sessions.FindAsync(context.Request, s.SessionOptions.Value.Whoami.RequiresHighestAvailable);
        if (outcome == WhoamiOutcome.Aal2Required)
            return new SeeOther(StartFlow(s.PublicBaseUrl, paths.Sessions, AuthenticatorAssurance.Aal2));
        if (current is null)
            return new SeeOther(StartFlow(s.PublicBaseUrl, paths.Sessions));

        var now = s.Clock.GetUtcNow();
        var others = await s.Own.ListAsync(current, 0, Listed, exceptCurrent: true, now);
        var (notice, error) = Notice(context.Request.Query);
        return PagePolicy.Render<SessionsPage>(new
        {
            Who = IdentityNames.Of(current.Identity.Id, current.Identity.Traits),
            // This device is being seen now (its stored last-seen time is written only now and then).
            Current = SessionRow.Of(current.Session, current.Identity, current.Session.Id, s.Agents, now) with { LastSeenAt = now },
            Others = (IReadOnlyList<SessionRow>)[.. others.Sessions.Select(v => SessionRow.Of(v.Session, v.Identity, current.Session.Id, s.Agents, now))],
            Total = others.Total,
            NoticeText = notice,
            NoticeIsError = error,
            Token = s.Antiforgery.GetAndStoreTokens(context),
            Paths = paths,
            Stylesheet = paths.Assets,
        });
    }

    /// <summary>What the last action did, told by the redirect that followed it.</summary>
    private static (string? Text, bool Error) Notice(IQueryCollection query) => query["notice"].ToString() switch
    {
        "ended" => ("The session was ended. That device is signed out.", false),
        "ended-others" => (int.TryParse(query["count"], out var count) && count >= 0
            ? (count == 1 ? "1 other session was ended." : $"{count} other sessions were ended.") : "The other sessions were ended.", false),
        "form-expired" => ("That form had expired, so nothing was done. Please try again.", true),
        "signed-in-again" => ("You confirmed it is you: you can end sessions now.", false),
        _ => (null, false),
    };

    /// <summary>
    /// Ending sessions needs a recent sign-in (<c>selfservice.flows.settings.privileged_session_max_age</c>): a stolen
    /// cookie alone cannot sign the owner out everywhere else. Older, the browser re-authenticates and comes back.
    /// </summary>
    private static IResult? RequireRecentSignIn(CurrentSession current, UserPageServices s)
    {
        var age = s.Clock.GetUtcNow() - current.Session.AuthenticatedAt;
        return age <= s.SelfServiceOptions.Value.Flows.Settings.ParsedPrivilegedSessionMaxAge
            ? null
            : new SeeOther(StartFlow(s.PublicBaseUrl, s.Paths.Sessions + "?notice=signed-in-again", refresh: "true"));
    }

    private static async Task<IResult> EndOneAsync(HttpContext context, [AsParameters] UserPageServices s)
    {
        if (await SignedInFormAsync(context, s) is not { } current)
            return FormRejected(context, s);
        if (RequireRecentSignIn(current, s) is { } again)
            return again;
        var form = await context.Request.ReadFormAsync();
        if (!Guid.TryParse(form["session_id"], out var sessionId))
            return PagePolicy.Render<ErrorPage>(new { Title = "Nothing was ended", Reason = "The form did not name a session.", Stylesheet = s.Paths.Assets, Continue = s.Paths.Sessions, ContinueText = "Back to your sessions" },
                StatusCodes.Status400BadRequest);
        await s.Own.EndAsync(current, sessionId);
        return new SeeOther(s.Paths.Sessions + "?notice=ended");
    }

    private static async Task<IResult> EndOthersAsync(HttpContext context, [AsParameters] UserPageServices s)
    {
        if (await SignedInFormAsync(context, s) is not { } current)
            return FormRejected(context, s);
        if (RequireRecentSignIn(current, s) is { } again)
            return again;
        var count = await s.Own.EndOthersAsync(current);
        return new SeeOther($"{s.Paths.Sessions}?notice=ended-others&count={count}");
    }

    // ---- sign out ------------------------------------------------------------------------------

    /// <summary>The browser logout flow behind a button: the session revoked and its cookie expired.</summary>
    private static async Task<IResult> SignOutAsync(HttpContext context, [AsParameters] UserPageServices s)
    {
        if (await SignedInFormAsync(context, s) is not { } current)
            return FormRejected(context, s);
        await s.Logout.EndAsync(current, context.Response);
        return new SeeOther(s.ReturnUrls.AfterLogout(null));
    }

    // ---- forms ---------------------------------------------------------------------------------

    /// <summary>The browser session that sent a form of ours, when the form's anti-forgery token is good; null otherwise.</summary>
    private static async Task<CurrentSession?> SignedInFormAsync(HttpContext context, UserPageServices s)
    {
        if (!await s.Antiforgery.IsRequestValidAsync(context))
            return null;
        return await s.Sessions.FindAsync(context.Request, SessionChannel.Browser);
    }

    /// <summary>A form that cannot be acted on: back to the sessions page, which says why (or sends a signed-out browser to sign in).</summary>
    private static IResult FormRejected(HttpContext context, UserPageServices s) =>
        new SeeOther(s.Paths.Sessions + "?notice=form-expired");

}
