using System.Buffers.Text;
using System.Text;
using OrleansSessions.Api.Errors;
using OrleansSessions.Api.Json;
using OrleansSessions.Api.Sessions;

namespace OrleansSessions.Api.Identities;

/// <summary>
/// Kratos's <c>listIdentitySchemas</c> (<c>GET /schemas</c>: <c>[{id, schema}]</c>) and
/// <c>getIdentitySchema</c> (<c>GET /schemas/{id}</c>: the schema itself). The id may be given as
/// is or base64url-encoded, as every identity's <c>schema_url</c> carries it.
/// </summary>
public static class IdentitySchemasApi
{
    /// <summary>Maps the routes; <paramref name="surface"/> keeps endpoint names unique when they are mapped on both listeners.</summary>
    public static RouteGroupBuilder MapIdentitySchemasApi(this IEndpointRouteBuilder routes, string surface = "public")
    {
        var schemas = routes.MapGroup("/schemas");
        schemas.MapGet("", List).WithName($"listIdentitySchemas.{surface}");
        schemas.MapGet("/{id}", Get).WithName($"getIdentitySchema.{surface}");
        return schemas;
    }

    private static IResult List(HttpContext context, IdentitySchemas schemas)
    {
        context.Response.Headers.CacheControl = WhoamiApi.NoStore;
        return new JsonWriterResult(StatusCodes.Status200OK, w =>
        {
            w.WriteStartArray();
            foreach (var schema in schemas.All)
            {
                w.WriteStartObject();
                w.WriteString("id", schema.Id);
                w.WritePropertyName("schema");
                w.WriteRawValue(schema.Text);
                w.WriteEndObject();
            }
            w.WriteEndArray();
        });
    }

    private static IResult Get(string id, HttpContext context, IdentitySchemas schemas)
    {
        var schema = schemas.Find(id) ?? (Decoded(id) is { } decoded ? schemas.Find(decoded) : null);
        if (schema is null)
            return new OryErrorResult(OryError.NotFound.WithReason("The requested identity schema does not exist."));
        context.Response.Headers.CacheControl = WhoamiApi.NoStore;
        return new JsonWriterResult(StatusCodes.Status200OK, w => w.WriteRawValue(schema.Text));
    }

    private static string? Decoded(string id)
    {
        if (id.Length > 1024 || !Base64Url.IsValid(id))
            return null;
        try
        {
            return new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(Base64Url.DecodeFromChars(id));
        }
        catch (DecoderFallbackException)
        {
            return null;
        }
    }
}
