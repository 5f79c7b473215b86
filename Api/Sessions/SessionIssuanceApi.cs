using System.Collections.Frozen;
using System.Collections.Immutable;
using System.Text;
using System.Text.Json;
using OrleansSessions.Api.Configuration;
using OrleansSessions.Api.Errors;
using OrleansSessions.Api.Json;
using OrleansSessions.Json;

namespace OrleansSessions.Api.Sessions;

/// <summary>
/// Trusted issuance, our addition to Kratos: <c>POST /admin/identities/{id}/sessions</c> lets a
/// login front end, a migration or a load test issue a session for an identity it vouches for.
/// <c>"channel": "api"</c> answers <c>{session_token, session}</c>; <c>"channel": "browser"</c>
/// answers <c>{session, session_cookie}</c> and sets the cookie.
/// </summary>
public static class SessionIssuanceApi
{
    /// <summary>Kratos's credential types, the values <c>authentication_methods[].method</c> may take.</summary>
    private static readonly FrozenSet<string> KnownMethods = new[]
    {
        "password", "oidc", "totp", "lookup_secret", "webauthn", "code", "passkey", "profile", "saml", "link_recovery", "code_recovery",
    }.ToFrozenSet(StringComparer.Ordinal);

    private static readonly TimeSpan LongestLifespan = TimeSpan.FromDays(3650);
    internal const int MaxUserAgentBytes = 512;

    public static RouteGroupBuilder MapSessionIssuanceApi(this RouteGroupBuilder admin)
    {
        admin.MapPost("/identities/{id}/sessions", IssueAsync).WithName("issueSession");
        return admin;
    }

    private static async Task<IResult> IssueAsync(string id, HttpContext context, IGrainFactory grains, SessionCookie cookie,
        IOptions<SessionSettings> sessionOptions, IOptions<JsonRenderingOptions> rendering, TimeProvider clock, Regions.RegionMap regions)
    {
        if (!Guid.TryParse(id, out var identityId))
            return new OryErrorResult(OryError.BadRequest("The identity id is not a UUID."));
        var (document, error) = await JsonBody.ReadObjectAsync(context.Request);
        if (document is null)
            return new OryErrorResult(error!);
        using (document)
        {
            var token = regions.NewToken();
            if (!TryReadCommand(document.RootElement, SessionToken.LookupKey(token), sessionOptions.Value.ParsedLifespan, out var command, out error))
                return new OryErrorResult(error!);

            var result = await grains.GetGrain<IIdentityGrain>(identityId).IssueSessionAsync(command!);
            switch (result.Outcome)
            {
                case SessionIssueOutcome.IdentityNotFound:
                    return new OryErrorResult(OryError.NotFound.WithReason("Unable to locate the identity."));
                case SessionIssueOutcome.IdentityDisabled:
                    return new OryErrorResult(OryError.IdentityDisabled);
            }

            var issued = result.Issued!;
            var baseUrl = rendering.Value.PublicBaseUrl;
            var active = issued.Session.IsActiveAt(clock.GetUtcNow(), issued.Identity);
            if (command!.Channel == SessionChannel.Api)
            {
                return new JsonWriterResult(StatusCodes.Status201Created, w =>
                {
                    w.WriteStartObject();
                    w.WriteString("session_token", token);
                    w.WritePropertyName("session");
                    SessionJson.Write(w, issued.Session, issued.Identity, active, SessionJsonShape.Full, baseUrl);
                    w.WriteEndObject();
                });
            }

            var value = cookie.Seal(token, issued.Session.ExpiresAt);
            cookie.Append(context.Response, value, issued.Session.ExpiresAt, clock.GetUtcNow());
            return new JsonWriterResult(StatusCodes.Status201Created, w =>
            {
                w.WriteStartObject();
                w.WritePropertyName("session");
                SessionJson.Write(w, issued.Session, issued.Identity, active, SessionJsonShape.Full, baseUrl);
                w.WriteStartObject("session_cookie");
                w.WriteString("name", cookie.Name);
                w.WriteString("value", value);
                w.WriteString("expires_at", Rfc3339.Write(issued.Session.ExpiresAt));
                w.WriteEndObject();
                w.WriteEndObject();
            });
        }
    }

    private static bool TryReadCommand(JsonElement body, string lookupKey, TimeSpan defaultLifespan,
        out SessionIssueCommand? command, out OryError? error)
    {
        command = null;
        if (!JsonBody.TryOptionalString(body, "channel", 16, out var channelText, out error))
            return false;
        SessionChannel channel;
        switch (channelText)
        {
            case "api": channel = SessionChannel.Api; break;
            case "browser": channel = SessionChannel.Browser; break;
            default:
                error = OryError.BadRequest("channel is required and must be \"api\" or \"browser\".");
                return false;
        }

        var lifespan = defaultLifespan;
        if (!JsonBody.TryOptionalString(body, "lifespan", 64, out var lifespanText, out error))
            return false;
        if (lifespanText is not null && (!GoDuration.TryParse(lifespanText, out lifespan) || lifespan <= TimeSpan.Zero || lifespan > LongestLifespan))
        {
            error = OryError.BadRequest("lifespan must be a positive duration of at most 87600h, such as \"24h\" or \"30m\".");
            return false;
        }

        if (!JsonBody.TryOptionalString(body, "aal", 8, out var aal, out error))
            return false;
        if (aal is not null && !AuthenticatorAssurance.IsFactorLevel(aal))
        {
            error = OryError.BadRequest("aal must be \"aal1\" or \"aal2\".");
            return false;
        }
        if (!TryReadMethods(body, aal, out var methods, out error))
            return false;

        string? ip = null, userAgent = null, location = null;
        if (body.TryGetProperty("device", out var device) && device.ValueKind != JsonValueKind.Null)
        {
            if (device.ValueKind != JsonValueKind.Object)
            {
                error = OryError.BadRequest("device must be a JSON object.");
                return false;
            }
            if (!JsonBody.TryOptionalString(device, "ip_address", 64, out ip, out error)
                || !JsonBody.TryOptionalString(device, "user_agent", 4096, out userAgent, out error)
                || !JsonBody.TryOptionalString(device, "location", 512, out location, out error))
                return false;
            if (ip is not null && !System.Net.IPAddress.TryParse(ip, out _))
            {
                error = OryError.BadRequest("device.ip_address must be an IP address.");
                return false;
            }
        }

        command = new SessionIssueCommand
        {
            LookupKey = lookupKey,
            Channel = channel,
            Lifespan = lifespan,
            Methods = methods,
            IpAddress = ip,
            UserAgent = userAgent is null ? null : TruncateUtf8(userAgent, MaxUserAgentBytes),
            Location = location,
        };
        return true;
    }

    private static bool TryReadMethods(JsonElement body, string? aal, out ImmutableArray<RequestedMethod> methods, out OryError? error)
    {
        error = null;
        if (!body.TryGetProperty("authentication_methods", out var list) || list.ValueKind == JsonValueKind.Null)
        {
            methods = aal == AuthenticatorAssurance.Aal2
                ? [new() { Method = "password", Aal = AuthenticatorAssurance.Aal1 }, new() { Method = "totp", Aal = AuthenticatorAssurance.Aal2 }]
                : [new() { Method = "password", Aal = AuthenticatorAssurance.Aal1 }];
            return true;
        }
        methods = default;
        if (list.ValueKind != JsonValueKind.Array || list.GetArrayLength() is 0 or > 16)
        {
            error = OryError.BadRequest("authentication_methods must be an array of 1 to 16 entries.");
            return false;
        }
        var builder = ImmutableArray.CreateBuilder<RequestedMethod>();
        foreach (var entry in list.EnumerateArray())
        {
            if (entry.ValueKind != JsonValueKind.Object
                || !JsonBody.TryOptionalString(entry, "method", 32, out var method, out _)
                || method is null || !KnownMethods.Contains(method))
            {
                error = OryError.BadRequest("Each authentication method needs a \"method\" Kratos knows, such as \"password\" or \"totp\".");
                return false;
            }
            if (!JsonBody.TryOptionalString(entry, "aal", 8, out var level, out _) || (level is not null && !AuthenticatorAssurance.IsFactorLevel(level)))
            {
                error = OryError.BadRequest("authentication_methods[].aal must be \"aal1\" or \"aal2\".");
                return false;
            }
            builder.Add(new RequestedMethod { Method = method, Aal = level ?? DefaultLevel(method) });
        }
        methods = builder.ToImmutable();
        if (aal is not null && AuthenticatorAssurance.Of(methods.Select(m => m.Aal)) != aal)
        {
            error = OryError.BadRequest("aal does not follow from authentication_methods (aal2 needs a first and a second factor).");
            return false;
        }
        return true;
    }

    /// <summary>Second factors are aal2 by nature; everything else is a first factor.</summary>
    private static string DefaultLevel(string method) =>
        method is "totp" or "lookup_secret" ? AuthenticatorAssurance.Aal2 : AuthenticatorAssurance.Aal1;

    internal static string TruncateUtf8(string value, int maxBytes)
    {
        if (Encoding.UTF8.GetByteCount(value) <= maxBytes)
            return value;
        var length = value.Length;
        while (Encoding.UTF8.GetByteCount(value.AsSpan(0, length)) > maxBytes)
            length--;
        if (length > 0 && char.IsHighSurrogate(value[length - 1]))
            length--;
        return value[..length];
    }
}
