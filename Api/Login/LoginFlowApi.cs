using System.Collections.Immutable;
using Microsoft.Extensions.Configuration;
using OrleansSessions.Api.Configuration;
using OrleansSessions.Api.Credentials;
using OrleansSessions.Api.Errors;
using OrleansSessions.Api.Identities;
using OrleansSessions.Api.Json;
using OrleansSessions.Api.Sessions;
using OrleansSessions.Json;
using OrleansSessions.Login;

namespace OrleansSessions.Api.Login;

/// <summary>What the login endpoints use, injected per request.</summary>
public readonly record struct LoginServices(
    IGrainFactory Grains,
    TimeProvider Clock,
    RequestSessions Sessions,
    SessionCookie Cookie,
    CsrfCookie Csrf,
    PasswordHasher Hasher,
    TotpCodes Totp,
    LoginThrottle Throttle,
    Devices Devices,
    ReturnUrls ReturnUrls,
    IOptions<SessionSettings> SessionOptions,
    IOptions<SelfServiceSettings> SelfServiceOptions,
    IOptions<JsonRenderingOptions> Rendering,
    Regions.RegionMap Regions)
{
    public string PublicBaseUrl => Rendering.Value.PublicBaseUrl;
    public LoginFlowSettings LoginSettings => SelfServiceOptions.Value.Flows.Login;
}

/// <summary>
/// Kratos's login flows for the password and TOTP methods: <c>createNativeLoginFlow</c>,
/// <c>createBrowserLoginFlow</c>, <c>getLoginFlow</c> and <c>updateLoginFlow</c>. A flow is created,
/// shown (its UI nodes) and submitted; a successful submission issues a session (token for API flows,
/// cookie for browser flows) or, when re-authenticating or stepping up, renews the session the request
/// carries.
/// </summary>
public static class LoginFlowApi
{
    /// <summary>Options and services of the login and logout endpoints, and the per-address rate limit.</summary>
    public static IServiceCollection AddLoginApi(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<SelfServiceSettings>().Bind(configuration.GetSection(SelfServiceSettings.Section))
            .PostConfigure<IOptions<JsonRenderingOptions>>((o, rendering) => o.Resolve(rendering.Value.PublicBaseUrl)).ValidateOnStart();
        services.AddSingleton<CsrfCookie>();
        services.AddSingleton<ReturnUrls>();
        services.AddSingleton<RequestSessions>();
        services.AddSingleton<LoginThrottle>();
        return services;
    }

    public static RouteGroupBuilder MapLoginApi(this IEndpointRouteBuilder routes)
    {
        var login = routes.MapGroup("/self-service/login");
        login.MapGet("/api", CreateNativeFlowAsync).WithName("createNativeLoginFlow");
        login.MapGet("/browser", CreateBrowserFlowAsync).WithName("createBrowserLoginFlow");
        login.MapGet("/flows", GetFlowAsync).WithName("getLoginFlow");
        login.MapPost("", UpdateFlowAsync).WithName("updateLoginFlow");
        return login;
    }

    // ---- creating and reading flows ------------------------------------------------------------

    private static async Task<IResult> CreateNativeFlowAsync(HttpContext context, [AsParameters] LoginServices s)
    {
        context.Response.Headers.CacheControl = WhoamiApi.NoStore;
        var (flow, error) = await NewFlowAsync(context, SessionChannel.Api, s);
        return flow is null ? new OryErrorResult(error!) : FlowResult(StatusCodes.Status200OK, flow, s);
    }

    private static async Task<IResult> CreateBrowserFlowAsync(HttpContext context, [AsParameters] LoginServices s)
    {
        context.Response.Headers.CacheControl = WhoamiApi.NoStore;
        var json = ContentNegotiation.PrefersJsonToRedirect(context.Request);
        var (flow, error) = await NewFlowAsync(context, SessionChannel.Browser, s);
        if (flow is null)
        {
            // A browser that is signed in already goes where it would have gone after signing in.
            if (ReferenceEquals(error, LoginErrors.AlreadyLoggedIn) && !json)
                return new SeeOther(s.ReturnUrls.AfterLogin(ReturnToOrNull(context, s)));
            return new OryErrorResult(error!);
        }
        return json ? FlowResult(StatusCodes.Status200OK, flow, s) : new SeeOther(UiUrl(s, flow.Id));
    }

    private static async Task<IResult> GetFlowAsync(HttpContext context, [AsParameters] LoginServices s)
    {
        context.Response.Headers.CacheControl = WhoamiApi.NoStore;
        if (!Guid.TryParse(context.Request.Query["id"], out var id)
            || await s.Grains.GetGrain<ILoginFlowGrain>(id).GetAsync() is not { } flow)
            return new OryErrorResult(LoginErrors.FlowNotFound);
        // A browser flow is only shown to the browser that holds its anti-CSRF cookie.
        if (flow.Type == SessionChannel.Browser && CheckCsrf(context.Request, s.Csrf, flow.CsrfToken) is { } csrfError)
            return new OryErrorResult(csrfError);
        if (flow.IsExpiredAt(s.Clock.GetUtcNow()))
            return new OryErrorResult(ExpiredOnRead(flow, s.PublicBaseUrl));
        return FlowResult(StatusCodes.Status200OK, flow, s);
    }

    /// <summary>Kratos's <c>NewLoginFlow</c>: checks <c>aal</c>, <c>refresh</c> and <c>return_to</c> against the session the request carries.</summary>
    private static async Task<(LoginFlowRecord? Flow, OryError? Error)> NewFlowAsync(HttpContext context, SessionChannel type, LoginServices s)
    {
        var query = context.Request.Query;
        var refresh = IsTrue(query["refresh"].ToString());
        var aal = query["aal"].ToString();
        if (aal.Length == 0)
            aal = AuthenticatorAssurance.Aal1;
        else if (!AuthenticatorAssurance.IsFactorLevel(aal))
            return (null, LoginErrors.InvalidAal(aal));
        string requested = query["return_to"].ToString();
        if (!s.ReturnUrls.TryResolve(requested, out var returnTo))
            return (null, LoginErrors.ReturnToNotAllowed(requested));

        var session = await s.Sessions.FindAsync(context.Request, type);
        if (session is null && aal == AuthenticatorAssurance.Aal2)
            return (null, LoginErrors.SessionRequiredForHigherAal);
        if (session is not null && !refresh && (aal == AuthenticatorAssurance.Aal1 || session.Session.Aal == AuthenticatorAssurance.Aal2))
            return (null, LoginErrors.AlreadyLoggedIn);

        var messages = ImmutableArray.CreateBuilder<LoginFlowMessage>();
        if (refresh)
            messages.Add(LoginTexts.ReAuthenticate);
        if (session is not null && aal == AuthenticatorAssurance.Aal2 && session.Session.Aal != AuthenticatorAssurance.Aal2)
            messages.Add(LoginTexts.SecondFactor);
        string? refreshIdentifier = null;
        if (refresh && session is not null)
            refreshIdentifier = (await s.Grains.GetGrain<IIdentityGrain>(session.Session.IdentityId).GetCredentialsAsync())?.Identifiers.FirstOrDefault();

        var now = Rfc3339.Truncate(s.Clock.GetUtcNow());
        var flow = new LoginFlowRecord
        {
            Id = Guid.NewGuid(),
            Type = type,
            IssuedAt = now,
            ExpiresAt = Rfc3339.Truncate(now + s.LoginSettings.ParsedLifespan),
            UpdatedAt = now,
            RequestUrl = s.PublicBaseUrl.TrimEnd('/') + context.Request.Path + context.Request.QueryString,
            ReturnTo = returnTo,
            Refresh = refresh,
            RequestedAal = aal,
            CsrfToken = type == SessionChannel.Browser ? CsrfCookie.Mask(s.Csrf.Ensure(context)) : null,
            RefreshIdentifier = refreshIdentifier,
            Messages = messages.ToImmutable(),
        };
        await s.Grains.GetGrain<ILoginFlowGrain>(flow.Id).StartAsync(flow);
        return (flow, null);
    }

    // ---- submitting ----------------------------------------------------------------------------

    private static async Task<IResult> UpdateFlowAsync(HttpContext context, [AsParameters] LoginServices s)
    {
        var request = context.Request;
        if (!Guid.TryParse(request.Query["flow"], out var flowId))
            return new OryErrorResult(OryError.BadRequest("the flow query parameter is missing or malformed"));
        if (await s.Grains.GetGrain<ILoginFlowGrain>(flowId).GetAsync() is not { } flow)
            return new OryErrorResult(LoginErrors.FlowNotFound);
        var (submission, error) = await LoginSubmission.ReadAsync(request);
        if (submission is null)
            return new OryErrorResult(error!);

        var csrfError = flow.Type == SessionChannel.Api ? CheckApiRequest(request) : CheckCsrf(request, s.Csrf, submission.CsrfToken);
        if (csrfError is not null)
            return new OryErrorResult(csrfError);

        // API clients and AJAX get JSON; a browser's form post is redirected.
        var json = flow.Type == SessionChannel.Api || ContentNegotiation.IsJsonRequest(request);
        var session = await s.Sessions.FindAsync(request, flow.Type);
        if (session is not null && !flow.Refresh
            && !(flow.RequestedAal == AuthenticatorAssurance.Aal2 && session.Session.Aal != AuthenticatorAssurance.Aal2))
            return json ? new OryErrorResult(LoginErrors.AlreadyLoggedIn) : new SeeOther(s.ReturnUrls.AfterLogin(null));
        if (session is null && flow.RequestedAal == AuthenticatorAssurance.Aal2)
            return new OryErrorResult(LoginErrors.SessionRequiredForHigherAal);

        var now = s.Clock.GetUtcNow();
        if (flow.IsExpiredAt(now))
            return await ReplaceExpiredAsync(context, flow, json, s);
        if (flow.Completed)
            return await FailAsync(flow, submission.Method, submission.Identifier, [LoginTexts.NoStrategy], json, s);

        return submission.Method switch
        {
            "password" when flow.RequestedAal == AuthenticatorAssurance.Aal1 => await PasswordAsync(context, flow, submission, session, json, s),
            "totp" when flow.RequestedAal == AuthenticatorAssurance.Aal2 => await TotpAsync(context, flow, submission, session!, json, s),
            _ => await FailAsync(flow, submission.Method, submission.Identifier, [LoginTexts.NoStrategy], json, s),
        };
    }

    private static async Task<IResult> PasswordAsync(HttpContext context, LoginFlowRecord flow, LoginSubmission submission,
        CurrentSession? session, bool json, LoginServices s)
    {
        var (identifier, password) = (submission.Identifier, submission.Password);
        if (string.IsNullOrEmpty(identifier) || string.IsNullOrEmpty(password))
        {
            var missing = new List<LoginFlowMessage>();
            if (string.IsNullOrEmpty(identifier)) missing.Add(LoginTexts.Missing("identifier"));
            if (string.IsNullOrEmpty(password)) missing.Add(LoginTexts.Missing("password"));
            return await FailAsync(flow, "password", identifier, [.. missing], json, s);
        }
        var normalized = IdentifierNormalization.Normalize(identifier);
        var (attempt, retryAfter) = await s.Throttle.BeginAsync(context, "identifier:" + normalized);
        if (attempt is null)
            return new TooManyResult(retryAfter);

        // An unknown identifier costs a hash verification too, and fails with the same message:
        // neither the answer nor its timing tells which identifiers exist.
        var identityId = await s.Grains.GetGrain<IIdentityCatalogGrain>(0).FindByIdentifierAsync(normalized);
        var identity = identityId is { } id ? s.Grains.GetGrain<IIdentityGrain>(id) : null;
        var hash = identity is null ? null : (await identity.GetCredentialsAsync())?.PasswordHash;
        PasswordCheck check = default;
        if (hash is not null)
            check = s.Hasher.Verify(password, hash);
        else
            s.Hasher.VerifyDecoy(password);
        if (!check.Matches)
        {
            await attempt.FailedAsync();
            return await FailAsync(flow, "password", identifier, [LoginTexts.InvalidCredentials], json, s);
        }
        await attempt.SucceededAsync();
        // Only over the hash just verified: a password changed meanwhile (or rehashed by a login on another node)
        // is kept, and this login goes on, as it would have had it come first.
        if (check.NeedsRehash)
            await identity!.SetPasswordHashAsync(s.Hasher.Hash(password), replaces: hash!);

        return await CompleteAsync(context, flow, session, identityId!.Value,
            new RequestedMethod { Method = "password", Aal = AuthenticatorAssurance.Aal1 }, identifier, json, s);
    }

    private static async Task<IResult> TotpAsync(HttpContext context, LoginFlowRecord flow, LoginSubmission submission,
        CurrentSession session, bool json, LoginServices s)
    {
        if (string.IsNullOrEmpty(submission.TotpCode))
            return await FailAsync(flow, "totp", null, [LoginTexts.Missing("totp_code")], json, s);
        var identityId = session.Session.IdentityId;
        var (attempt, retryAfter) = await s.Throttle.BeginAsync(context, "identity:" + identityId);
        if (attempt is null)
            return new TooManyResult(retryAfter);
        var secret = (await s.Grains.GetGrain<IIdentityGrain>(identityId).GetCredentialsAsync())?.TotpSecret;
        if (secret is null)
        {
            await attempt.SucceededAsync();
            return await FailAsync(flow, "totp", null, [LoginTexts.NoTotpDevice], json, s);
        }
        // A code signs in once: its time step is spent on the identity (a second use, or an older code, fails).
        if (s.Totp.Verify(secret, submission.TotpCode.Trim()) is not { } step || !await s.Grains.GetGrain<IIdentityGrain>(identityId).UseTotpStepAsync(step))
        {
            await attempt.FailedAsync();
            return await FailAsync(flow, "totp", null, [LoginTexts.InvalidTotp], json, s);
        }
        await attempt.SucceededAsync();
        return await CompleteAsync(context, flow, session, identityId,
            new RequestedMethod { Method = "totp", Aal = AuthenticatorAssurance.Aal2 }, null, json, s);
    }

    /// <summary>
    /// The factor is verified: renew the session the request carries when it belongs to the same identity
    /// (re-authentication, step-up), otherwise issue a new one; then answer as the flow type asks.
    /// </summary>
    private static async Task<IResult> CompleteAsync(HttpContext context, LoginFlowRecord flow, CurrentSession? session,
        Guid identityId, RequestedMethod method, string? identifier, bool json, LoginServices s)
    {
        // The flow is claimed before anything is issued: of two submissions of one flow at once, exactly one gets
        // past here, and the other gets the answer for a used flow. The claim is undone if no session comes of it.
        var flowGrain = s.Grains.GetGrain<ILoginFlowGrain>(flow.Id);
        if (!await flowGrain.CompleteAsync(method.Method, Rfc3339.Truncate(s.Clock.GetUtcNow())))
            return await FailAsync(flow, method.Method, identifier, [LoginTexts.NoStrategy], json, s);
        var lifespan = s.SessionOptions.Value.ParsedLifespan;
        SessionView? view = null;
        string token;
        if (session is not null && session.Session.IdentityId == identityId)
        {
            view = await s.Grains.SessionGrain(session.Credential.LookupKey).AuthenticateAgainAsync(method, lifespan);
            // A second factor only counts on the session it completes; that session ended in the meantime.
            if (view is null && method.Aal == AuthenticatorAssurance.Aal2)
            {
                await flowGrain.ReopenAsync();
                return new OryErrorResult(LoginErrors.SessionRequiredForHigherAal);
            }
        }
        if (view is null)
        {
            token = s.Regions.NewToken();
            var device = s.Devices.Of(context);
            var result = await s.Grains.GetGrain<IIdentityGrain>(identityId).IssueSessionAsync(new SessionIssueCommand
            {
                LookupKey = SessionToken.LookupKey(token),
                Channel = flow.Type,
                Lifespan = lifespan,
                Methods = [method],
                IpAddress = device.IpAddress,
                UserAgent = device.UserAgent,
                Location = device.Location,
            });
            if (result.Issued is null)
                await flowGrain.ReopenAsync();
            if (result.Outcome == SessionIssueOutcome.IdentityDisabled)
                return new OryErrorResult(OryError.IdentityDisabled);
            if (result.Issued is null)
                return await FailAsync(flow, method.Method, identifier, [LoginTexts.InvalidCredentials], json, s);
            view = result.Issued;
        }
        else
        {
            token = session!.Credential.Token;
        }

        var now = s.Clock.GetUtcNow();
        var active = view.Session.IsActiveAt(now, view.Identity);
        // As whoami would: below the identity's highest available level (required_aal: highest_available) is not enough.
        var aalSatisfied = !s.SessionOptions.Value.Whoami.RequiresHighestAvailable
            || view.Identity?.AvailableAal != AuthenticatorAssurance.Aal2 || view.Session.Aal == AuthenticatorAssurance.Aal2;
        var baseUrl = s.PublicBaseUrl;
        if (flow.Type == SessionChannel.Api)
        {
            return new JsonWriterResult(StatusCodes.Status200OK, w =>
            {
                w.WriteStartObject();
                w.WriteString("session_token", token);
                w.WritePropertyName("session");
                // Kratos leaves the identity out until the second factor is done, should the password have been phished.
                SessionJson.Write(w, view.Session, aalSatisfied ? view.Identity : null, active, SessionJsonShape.Full, baseUrl);
                w.WriteEndObject();
            });
        }

        s.Cookie.Append(context.Response, s.Cookie.Seal(token, view.Session.ExpiresAt), view.Session.ExpiresAt, now);
        if (!aalSatisfied)
        {
            var secondFactor = $"{baseUrl}self-service/login/browser?aal=aal2"
                + (flow.ReturnTo is { } back ? "&return_to=" + Uri.EscapeDataString(back) : "");
            return json ? new OryErrorResult(LoginErrors.BrowserLocationChangeRequired(secondFactor)) : new SeeOther(secondFactor);
        }
        var returnTo = s.ReturnUrls.AfterLogin(flow.ReturnTo);
        if (!json)
            return new SeeOther(returnTo);
        return new JsonWriterResult(StatusCodes.Status200OK, w =>
        {
            w.WriteStartObject();
            w.WritePropertyName("session");
            SessionJson.Write(w, view.Session, view.Identity, active, SessionJsonShape.Full, baseUrl);
            w.WriteStartArray("continue_with");
            w.WriteStartObject();
            w.WriteString("action", "redirect_browser_to");
            w.WriteString("redirect_browser_to", returnTo);
            w.WriteEndObject();
            w.WriteEndArray();
            w.WriteEndObject();
        });
    }

    /// <summary>A failed submission: the flow shows the messages (and the identifier again); 400 with the flow, or back to the UI.</summary>
    private static async Task<IResult> FailAsync(LoginFlowRecord flow, string? method, string? identifier,
        ImmutableArray<LoginFlowMessage> messages, bool json, LoginServices s)
    {
        var failed = await s.Grains.GetGrain<ILoginFlowGrain>(flow.Id).FailAsync(new LoginFlowFailure
        {
            Method = method is "password" or "totp" ? method : null,
            Identifier = identifier,
            Messages = messages,
            At = Rfc3339.Truncate(s.Clock.GetUtcNow()),
        });
        if (failed is null)
            return new OryErrorResult(LoginErrors.FlowNotFound);
        return json ? FlowResult(StatusCodes.Status400BadRequest, failed, s) : new SeeOther(UiUrl(s, failed.Id));
    }

    /// <summary>Kratos answers a submission of an expired flow with a new flow that says why (410, or back to the UI).</summary>
    private static async Task<IResult> ReplaceExpiredAsync(HttpContext context, LoginFlowRecord flow, bool json, LoginServices s)
    {
        var now = Rfc3339.Truncate(s.Clock.GetUtcNow());
        var ago = now - flow.ExpiresAt;
        var replacement = flow with
        {
            Id = Guid.NewGuid(),
            IssuedAt = now,
            ExpiresAt = Rfc3339.Truncate(now + s.LoginSettings.ParsedLifespan),
            UpdatedAt = now,
            CsrfToken = flow.Type == SessionChannel.Browser ? CsrfCookie.Mask(s.Csrf.Ensure(context)) : null,
            Identifier = null,
            Active = null,
            State = LoginFlowRecord.StateChooseMethod,
            Messages = [LoginTexts.Expired(ago, flow.ExpiresAt)],
        };
        await s.Grains.GetGrain<ILoginFlowGrain>(replacement.Id).StartAsync(replacement);
        if (!json)
            return new SeeOther(UiUrl(s, replacement.Id));
        return new OryErrorResult(new OryError(StatusCodes.Status410Gone, "self-service flow expired")
        {
            Id = "self_service_flow_expired",
            Reason = string.Create(System.Globalization.CultureInfo.InvariantCulture,
                $"The self-service flow expired {ago.TotalMinutes:F2} minutes ago, initialize a new one."),
            WriteBeside = w =>
            {
                w.WriteString("expired_at", Rfc3339.Write(flow.ExpiresAt));
                w.WriteNumber("since", ago.Ticks * 100); // a Go time.Duration: nanoseconds
                w.WriteString("use_flow_id", replacement.Id);
            },
        });
    }

    private static OryError ExpiredOnRead(LoginFlowRecord flow, string publicBaseUrl)
    {
        var gone = new OryError(StatusCodes.Status410Gone, "The requested resource is no longer available because it has expired or is otherwise invalid.")
        {
            Id = "self_service_flow_expired",
        };
        if (flow.Type == SessionChannel.Api)
            return gone with
            {
                Reason = "The login flow has expired. Call the login flow init API endpoint to initialize a new login flow.",
                Details = new Dictionary<string, string> { ["api"] = publicBaseUrl + "self-service/login/api" },
            };
        var details = new Dictionary<string, string> { ["redirect_to"] = publicBaseUrl + "self-service/login/browser" };
        if (flow.ReturnTo is not null)
            details["return_to"] = flow.ReturnTo;
        return gone with
        {
            Reason = "The login flow has expired. Redirect the user to the login flow init endpoint to initialize a new login flow.",
            Details = details,
        };
    }

    // ---- CSRF ----------------------------------------------------------------------------------

    /// <summary>
    /// Kratos's <c>flow.EnsureCSRF</c> for API flows: a request that carries <c>Origin</c> or any cookie
    /// (Cloudflare's own excepted) comes from a browser, which must use a browser flow.
    /// </summary>
    private static OryError? CheckApiRequest(HttpRequest request)
    {
        if (!string.IsNullOrEmpty(request.Headers.Origin))
            return LoginErrors.OriginNeedsBrowserFlow;
        foreach (var name in request.Cookies.Keys)
            if (!name.StartsWith("__cf", StringComparison.Ordinal) && !name.StartsWith("_cf", StringComparison.Ordinal)
                && !name.StartsWith("cf_", StringComparison.Ordinal))
                return LoginErrors.CookieNeedsBrowserFlow;
        return null;
    }

    /// <summary>A browser request must carry the anti-CSRF cookie and, in the body or header, a token made from it.</summary>
    internal static OryError? CheckCsrf(HttpRequest request, CsrfCookie csrf, string? token)
    {
        var cookie = csrf.Read(request);
        if (cookie is not null && CsrfCookie.Verify(cookie, token))
            return null;
        var rejection = request.Headers.Cookie.Count == 0 ? CsrfRejection.NoCookies
            : cookie is null ? CsrfRejection.CookieMissing
            : string.IsNullOrEmpty(token) ? CsrfRejection.TokenNotSent
            : CsrfRejection.Mismatch;
        return LoginErrors.CsrfViolation(ContentNegotiation.LooksLikeAjax(request), rejection);
    }

    // ---- small things --------------------------------------------------------------------------

    private static JsonWriterResult FlowResult(int status, LoginFlowRecord flow, LoginServices s)
    {
        var baseUrl = s.PublicBaseUrl;
        return new JsonWriterResult(status, w => LoginFlowJson.Write(w, flow, baseUrl));
    }

    private static string UiUrl(LoginServices s, Guid flowId)
    {
        var ui = s.LoginSettings.UiUrl;
        return $"{ui}{(ui.Contains('?') ? '&' : '?')}flow={flowId}";
    }

    private static string? ReturnToOrNull(HttpContext context, LoginServices s) =>
        s.ReturnUrls.TryResolve(context.Request.Query["return_to"].ToString(), out var returnTo) ? returnTo : null;

    /// <summary>As Go's <c>strconv.ParseBool</c> for the true values.</summary>
    private static bool IsTrue(string value) => value is "1" or "t" or "T" or "true" or "TRUE" or "True";
}

/// <summary>303 See Other: after a form post the browser fetches the next page with GET.</summary>
public sealed class SeeOther(string location) : IResult, IStatusCodeHttpResult
{
    public int? StatusCode => StatusCodes.Status303SeeOther;

    public Task ExecuteAsync(HttpContext httpContext)
    {
        httpContext.Response.StatusCode = StatusCodes.Status303SeeOther;
        httpContext.Response.Headers.Location = location;
        return Task.CompletedTask;
    }
}

/// <summary>429 in Kratos's envelope, with <c>Retry-After</c>.</summary>
public sealed class TooManyResult(TimeSpan retryAfter) : IResult, IStatusCodeHttpResult
{
    public int? StatusCode => StatusCodes.Status429TooManyRequests;

    public Task ExecuteAsync(HttpContext httpContext) => LoginThrottle.WriteTooManyAsync(httpContext, retryAfter);
}
