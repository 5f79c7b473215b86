using System.Buffers.Text;
using System.Text;
using System.Text.Json;

namespace OrleansSessions.Json;

/// <summary>Which audience an identity is written for.</summary>
public enum IdentityAudience
{
    /// <summary>Embedded in a session: never credentials, never <c>metadata_admin</c>.</summary>
    Session,
    /// <summary>The admin identity API: adds <c>metadata_admin</c>.</summary>
    Admin,
}

/// <summary>Writes an identity in the JSON shape of Kratos's <c>identity</c> schema.</summary>
public static class IdentityJson
{
    /// <summary>Kratos's <c>schema_url</c>: the public base URL, <c>/schemas/</c>, and the schema id in base64url.</summary>
    public static string SchemaUrl(string publicBaseUrl, string schemaId) =>
        $"{publicBaseUrl.TrimEnd('/')}/schemas/{Base64Url.EncodeToString(Encoding.UTF8.GetBytes(schemaId))}";

    public static void Write(Utf8JsonWriter w, IdentityRecord identity, IdentityAudience audience, string publicBaseUrl)
    {
        w.WriteStartObject();
        w.WriteString("id", identity.Id);
        if (identity.ExternalId is not null)
            w.WriteString("external_id", identity.ExternalId);
        w.WriteString("schema_id", identity.SchemaId);
        w.WriteString("schema_url", SchemaUrl(publicBaseUrl, identity.SchemaId));
        w.WriteString("state", identity.State);
        if (identity.StateChangedAt is { } changed)
            w.WriteString("state_changed_at", Rfc3339.Write(changed));
        w.WritePropertyName("traits");
        w.WriteRawValue(identity.Traits, skipInputValidation: true);
        WriteRawOrNull(w, "metadata_public", identity.MetadataPublic);
        if (audience == IdentityAudience.Admin)
            WriteRawOrNull(w, "metadata_admin", identity.MetadataAdmin);
        w.WriteString("created_at", Rfc3339.Write(identity.CreatedAt));
        w.WriteString("updated_at", Rfc3339.Write(identity.UpdatedAt));
        w.WriteNull("organization_id");
        w.WriteEndObject();
    }

    private static void WriteRawOrNull(Utf8JsonWriter w, string name, string? json)
    {
        w.WritePropertyName(name);
        if (json is null) w.WriteNullValue();
        else w.WriteRawValue(json, skipInputValidation: true);
    }
}
