using System.Text.Json;
using OrleansSessions.Api.Errors;
using OrleansSessions.Api.Json;
using OrleansSessions.Json;

namespace OrleansSessions.Api.Identities;

/// <summary>The admin identity API (Kratos's <c>createIdentity</c> and <c>getIdentity</c>).</summary>
public static class IdentitiesAdminApi
{
    public static RouteGroupBuilder MapIdentitiesAdminApi(this RouteGroupBuilder admin)
    {
        admin.MapPost("/identities", CreateAsync).WithName("createIdentity");
        admin.MapGet("/identities/{id}", GetAsync).WithName("getIdentity");
        return admin;
    }

    private static async Task<IResult> CreateAsync(HttpRequest request, IGrainFactory grains, IOptions<JsonRenderingOptions> rendering)
    {
        var (document, error) = await JsonBody.ReadObjectAsync(request);
        if (document is null)
            return new OryErrorResult(error!);
        using (document)
        {
            if (!TryReadDraft(document.RootElement, out var draft, out error))
                return new OryErrorResult(error!);
            var id = Guid.NewGuid();
            var result = await grains.GetGrain<IIdentityGrain>(id).CreateAsync(draft!);
            if (result.Outcome != IdentityWriteOutcome.Written)
                return new OryErrorResult(OryError.Conflict.WithReason("An identity with the same external_id already exists."));
            request.HttpContext.Response.Headers.Location = $"/admin/identities/{id}";
            return Written(StatusCodes.Status201Created, result.Identity!, rendering.Value.PublicBaseUrl);
        }
    }

    private static async Task<IResult> GetAsync(string id, IGrainFactory grains, IOptions<JsonRenderingOptions> rendering)
    {
        if (!Guid.TryParse(id, out var identityId))
            return new OryErrorResult(OryError.BadRequest("The identity id is not a UUID."));
        var identity = await grains.GetGrain<IIdentityGrain>(identityId).GetAsync();
        return identity is null
            ? new OryErrorResult(OryError.NotFound.WithReason("Unable to locate the resource"))
            : Written(StatusCodes.Status200OK, identity, rendering.Value.PublicBaseUrl);
    }

    private static JsonWriterResult Written(int status, IdentityRecord identity, string publicBaseUrl) =>
        new(status, w => IdentityJson.Write(w, identity, IdentityAudience.Admin, publicBaseUrl));

    private static bool TryReadDraft(JsonElement body, out IdentityDraft? draft, out OryError? error)
    {
        draft = null;
        if (!JsonBody.TryOptionalString(body, "schema_id", 256, out var schemaId, out error))
            return false;
        if (string.IsNullOrWhiteSpace(schemaId))
        {
            error = OryError.BadRequest("schema_id is required.");
            return false;
        }
        if (!body.TryGetProperty("traits", out var traits) || traits.ValueKind != JsonValueKind.Object)
        {
            error = OryError.BadRequest("traits is required and must be a JSON object.");
            return false;
        }
        if (!JsonBody.TryOptionalString(body, "state", 16, out var state, out error))
            return false;
        state ??= IdentityRecord.StateActive;
        if (state is not (IdentityRecord.StateActive or IdentityRecord.StateInactive))
        {
            error = OryError.BadRequest("state must be \"active\" or \"inactive\".");
            return false;
        }
        if (!JsonBody.TryOptionalString(body, "external_id", 256, out var externalId, out error))
            return false;
        if (JsonBody.OptionalRaw(body, "credentials") is not null)
        {
            error = OryError.BadRequest("Importing credentials is not supported yet.");
            return false;
        }
        draft = new IdentityDraft
        {
            SchemaId = schemaId,
            State = state,
            Traits = traits.GetRawText(),
            MetadataPublic = JsonBody.OptionalRaw(body, "metadata_public"),
            MetadataAdmin = JsonBody.OptionalRaw(body, "metadata_admin"),
            ExternalId = string.IsNullOrEmpty(externalId) ? null : externalId,
        };
        return true;
    }
}
