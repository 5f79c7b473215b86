using System.Text.Json;
using Microsoft.Extensions.Configuration;
using OrleansSessions.Api.Credentials;
using OrleansSessions.Api.Errors;
using OrleansSessions.Api.Json;
using OrleansSessions.Json;

namespace OrleansSessions.Api.Identities;

/// <summary>Kratos's <c>selfservice.methods.totp.config.issuer</c>: the issuer shown in authenticator apps.</summary>
public sealed class TotpEnrolmentSettings
{
    public const string Section = "selfservice:methods:totp:config";

    /// <summary>Unset: the host name of the public base URL, as Kratos.</summary>
    public string? Issuer { get; set; }
}

/// <summary>
/// An identity's second factor, by admin: Kratos's <c>deleteIdentityCredentials</c> for <c>totp</c>,
/// and our enrolment <c>PUT /admin/identities/{id}/credentials/totp</c> (<c>{}</c> makes a new
/// secret, <c>{"totp_url": "otpauth://…"}</c> imports one; the answer is <c>{"totp_url": …}</c>,
/// the one response that carries a secret, so it can be shown to the user once).
/// Either changes the identity's available AAL, which every live session of it follows at once.
/// </summary>
public static class IdentityCredentialsApi
{
    /// <summary>Kratos's credential types; those we never store can only be absent.</summary>
    private static readonly HashSet<string> KnownTypes =
        ["password", "oidc", "totp", "lookup_secret", "webauthn", "code", "passkey", "profile", "saml", "link_recovery", "code_recovery"];

    public static RouteGroupBuilder MapIdentityCredentialsApi(this RouteGroupBuilder admin)
    {
        admin.MapPut("/identities/{id}/credentials/totp", EnrolTotpAsync).WithName("setIdentityTotp");
        admin.MapDelete("/identities/{id}/credentials/{type}", DeleteAsync).WithName("deleteIdentityCredentials");
        return admin;
    }

    private static async Task<IResult> EnrolTotpAsync(string id, HttpRequest request, IGrainFactory grains, IdentitySchemas schemas,
        IOptions<TotpEnrolmentSettings> settings, IOptions<JsonRenderingOptions> rendering)
    {
        if (!IdentitiesAdminApi.TryParseId(id, out var identityId, out var idError))
            return idError;
        var (document, error) = await JsonBody.ReadObjectAsync(request);
        if (document is null)
            return new OryErrorResult(error!);
        string secret;
        using (document)
        {
            if (!JsonBody.TryOptionalString(document.RootElement, "totp_url", 2048, out var url, out error))
                return new OryErrorResult(error!);
            if (url is null)
                secret = TotpCodes.NewSecret();
            else if (TotpCodes.SecretOf(url) is { } imported)
                secret = imported;
            else
                return new OryErrorResult(OryError.BadRequest("totp_url must be an otpauth://totp/ URL with a base32 secret (SHA1, 6 digits, 30 seconds)."));
        }

        var grain = grains.GetGrain<IIdentityGrain>(identityId);
        var identity = await grain.GetAsync();
        if (identity is null)
            return IdentitiesAdminApi.NotFound();
        var result = await grain.SetTotpSecretAsync(secret);
        if (result.Outcome != IdentityWriteOutcome.Written)
            return new OryErrorResult(IdentityBody.Refused(result.Outcome));
        var totpUrl = TotpCodes.Url(secret, Issuer(settings.Value, rendering.Value.PublicBaseUrl), AccountName(identity, schemas));
        return new JsonWriterResult(StatusCodes.Status200OK, w =>
        {
            w.WriteStartObject();
            w.WriteString("totp_url", totpUrl);
            w.WriteEndObject();
        });
    }

    private static async Task<IResult> DeleteAsync(string id, string type, IGrainFactory grains)
    {
        if (!IdentitiesAdminApi.TryParseId(id, out var identityId, out var idError))
            return idError;
        if (!KnownTypes.Contains(type))
            return new OryErrorResult(OryError.BadRequest($"Unknown credential type \"{(type.Length <= 32 ? type : type[..32])}\"."));
        if (type == "password")
            return new OryErrorResult(OryError.BadRequest("Deleting password credentials is not supported; only totp credentials can be deleted."));
        var grain = grains.GetGrain<IIdentityGrain>(identityId);
        var credentials = await grain.GetCredentialsAsync();
        if (credentials is null)
            return IdentitiesAdminApi.NotFound();
        if (type != "totp" || credentials.TotpSecret is null)
            return new OryErrorResult(OryError.NotFound.WithReason("You tried to remove a credential which does not exist in this identity."));
        var result = await grain.SetTotpSecretAsync(null);
        return result.Outcome == IdentityWriteOutcome.Written ? TypedResults.NoContent() : new OryErrorResult(IdentityBody.Refused(result.Outcome));
    }

    private static string Issuer(TotpEnrolmentSettings settings, string publicBaseUrl) =>
        !string.IsNullOrWhiteSpace(settings.Issuer) ? settings.Issuer
        : Uri.TryCreate(publicBaseUrl, UriKind.Absolute, out var url) ? url.Host
        : "OrleansSessions";

    /// <summary>The trait the identity schema marks as the TOTP account name, else the first identifier, else the id.</summary>
    private static string AccountName(IdentityRecord identity, IdentitySchemas schemas)
    {
        if (schemas.Find(identity.SchemaId) is { } schema)
        {
            using var traits = JsonDocument.Parse(identity.Traits);
            var check = schema.Check(traits.RootElement);
            if ((check.TotpAccountName ?? check.Identifiers.FirstOrDefault()) is { } name)
                return name;
        }
        return identity.Id.ToString();
    }
}
