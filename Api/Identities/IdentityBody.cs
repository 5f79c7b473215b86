using System.Text.Json;
using OrleansSessions.Api.Credentials;
using OrleansSessions.Api.Errors;
using OrleansSessions.Api.Json;

namespace OrleansSessions.Api.Identities;

/// <summary>Which request an identity body belongs to: they differ in what is required.</summary>
public enum IdentityBodyKind
{
    /// <summary><c>createIdentityBody</c>: schema_id and traits required, state defaults to active.</summary>
    Create,
    /// <summary><c>updateIdentityBody</c>: schema_id, traits and state required; the rest replaced (credentials only added).</summary>
    Update,
}

/// <summary>
/// Reads <c>createIdentityBody</c> and <c>updateIdentityBody</c> into an <see cref="IdentityDraft"/>:
/// the traits checked against their identity schema, identifiers taken from them, imported
/// credentials (<c>credentials.password.config.password</c> or <c>.hashed_password</c>, and our
/// <c>credentials.totp.config.totp_url</c>) turned into what the grain stores.
/// </summary>
public sealed class IdentityBody(IdentitySchemas schemas, PasswordHasher hasher)
{
    public const int MaxPasswordLength = 1000;
    public const string IdentifierTakenReason = "An account with the same identifier (email, phone, username, ...) exists already.";
    public const string ExternalIdTakenReason = "An identity with the same external_id exists already.";
    public const string ChangedMeanwhileReason = "The identity kept being changed by other requests while this one was applied; nothing was written. Retry the request.";

    private const int MaxIdLength = 256;

    public bool TryRead(JsonElement body, IdentityBodyKind kind, out IdentityDraft? draft, out OryError? error)
    {
        draft = null;
        if (!JsonBody.TryOptionalString(body, "schema_id", MaxIdLength, out var schemaId, out error))
            return false;
        if (string.IsNullOrEmpty(schemaId))
            return Fail("schema_id is required.", out error);
        if (schemas.Find(schemaId) is not { } schema)
            return Fail($"The identity schema \"{schemaId}\" does not exist. Known schemas: {string.Join(", ", schemas.All.Select(s => s.Id))}.", out error);
        if (!body.TryGetProperty("traits", out var traits) || traits.ValueKind != JsonValueKind.Object)
            return Fail("traits is required and must be a JSON object.", out error);

        if (!JsonBody.TryOptionalString(body, "state", 16, out var state, out error))
            return false;
        if (state is null && kind == IdentityBodyKind.Update)
            return Fail("state is required: \"active\" or \"inactive\".", out error);
        state ??= IdentityRecord.StateActive;
        if (state is not (IdentityRecord.StateActive or IdentityRecord.StateInactive))
            return Fail("state must be \"active\" or \"inactive\".", out error);

        if (!JsonBody.TryOptionalString(body, "external_id", MaxIdLength, out var externalId, out error))
            return false;
        if (JsonBody.OptionalRaw(body, "organization_id") is not null)
            return Fail("Organizations are not supported: organization_id must be null or absent.", out error);
        if (!TryReadCredentials(body, out var password, out var hashedPassword, out var totpSecret, out error))
            return false;

        var check = schema.Check(traits);
        if (!check.IsValid)
            return Fail($"The traits do not match the identity schema \"{schema.Id}\": {string.Join("; ", check.Errors)}", out error);
        if ((password ?? hashedPassword) is not null && check.Identifiers.IsEmpty)
            return Fail("A password needs a login identifier, but the traits hold none that the identity schema marks as one.", out error);

        draft = new IdentityDraft
        {
            SchemaId = schemaId,
            State = state,
            Traits = traits.GetRawText(),
            MetadataPublic = JsonBody.OptionalRaw(body, "metadata_public"),
            MetadataAdmin = JsonBody.OptionalRaw(body, "metadata_admin"),
            ExternalId = string.IsNullOrEmpty(externalId) ? null : externalId,
            Identifiers = check.Identifiers,
            // Hashed last: nothing is spent on a body that fails anywhere else.
            PasswordHash = password is not null ? hasher.Hash(password) : hashedPassword,
            TotpSecret = totpSecret,
        };
        return true;
    }

    private static bool TryReadCredentials(JsonElement body, out string? password, out string? hashedPassword, out string? totpSecret, out OryError? error)
    {
        password = hashedPassword = totpSecret = null;
        error = null;
        if (!body.TryGetProperty("credentials", out var credentials) || credentials.ValueKind == JsonValueKind.Null)
            return true;
        if (credentials.ValueKind != JsonValueKind.Object)
            return Fail("credentials must be a JSON object.", out error);
        foreach (var type in credentials.EnumerateObject())
        {
            if (type.Value.ValueKind == JsonValueKind.Null)
                continue;
            switch (type.Name)
            {
                case "password":
                    if (!TryConfig(type, out var passwordConfig, out error)
                        || !TryReadPassword(passwordConfig, out password, out hashedPassword, out error))
                        return false;
                    break;
                case "totp":
                    if (!TryConfig(type, out var totpConfig, out error)
                        || !JsonBody.TryOptionalString(totpConfig, "totp_url", 2048, out var url, out error))
                        return false;
                    if (url is null || TotpCodes.SecretOf(url) is not { } secret)
                        return Fail("credentials.totp.config.totp_url must be an otpauth://totp/ URL with a base32 secret (SHA1, 6 digits, 30 seconds).", out error);
                    totpSecret = secret;
                    break;
                default:
                    return Fail($"Importing {type.Name} credentials is not supported; password and totp are.", out error);
            }
        }
        return true;
    }

    private static bool TryConfig(JsonProperty type, out JsonElement config, out OryError? error)
    {
        config = default;
        error = null;
        if (type.Value.ValueKind != JsonValueKind.Object || !type.Value.TryGetProperty("config", out config) || config.ValueKind != JsonValueKind.Object)
            return Fail($"credentials.{type.Name} must be an object with a \"config\" object.", out error);
        return true;
    }

    private static bool TryReadPassword(JsonElement config, out string? password, out string? hashedPassword, out OryError? error)
    {
        hashedPassword = null;
        if (!JsonBody.TryOptionalString(config, "password", int.MaxValue, out password, out error)
            || !JsonBody.TryOptionalString(config, "hashed_password", 4096, out var hashed, out error))
            return false;
        if (config.TryGetProperty("use_password_migration_hook", out var hook) && hook.ValueKind == JsonValueKind.True)
            return Fail("The password migration hook is not supported.", out error);
        if (password is not null)
        {
            // As Kratos: a clear-text password wins over a hash given beside it.
            if (password.Length is 0 or > MaxPasswordLength)
                return Fail($"credentials.password.config.password must be 1 to {MaxPasswordLength} characters long.", out error);
            return true;
        }
        if (hashed is null)
            return Fail("credentials.password.config needs a password or a hashed_password.", out error);
        if (!PasswordHasher.IsSupported(hashed))
            return Fail("credentials.password.config.hashed_password must be an argon2id or bcrypt hash in PHC format ($argon2id$v=19$m=…,t=…,p=…$salt$hash or $2a$/$2b$/$2y$…).", out error);
        hashedPassword = hashed;
        return true;
    }

    private static bool Fail(string reason, out OryError? error)
    {
        error = OryError.BadRequest(reason);
        return false;
    }

    /// <summary>The answer to a write the grain refused.</summary>
    public static OryError Refused(IdentityWriteOutcome outcome) => outcome switch
    {
        IdentityWriteOutcome.NotFound => OryError.NotFound.WithReason("Unable to locate the resource"),
        IdentityWriteOutcome.IdentifierTaken => OryError.Conflict.WithReason(IdentifierTakenReason),
        IdentityWriteOutcome.ExternalIdTaken => OryError.Conflict.WithReason(ExternalIdTakenReason),
        IdentityWriteOutcome.Conflict => OryError.Conflict.WithReason(ChangedMeanwhileReason),
        _ => OryError.Conflict.WithReason("An identity with the same id exists already."),
    };
}
