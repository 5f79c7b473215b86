using System.Buffers;
using System.Buffers.Text;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using OrleansSessions.Api.Errors;
using OrleansSessions.Api.Json;
using OrleansSessions.Api.Sessions;
using OrleansSessions.Json;

namespace OrleansSessions.Api.Identities;

/// <summary>
/// The admin identity API, as Kratos's <c>createIdentity</c>, <c>getIdentity</c>, <c>updateIdentity</c>,
/// <c>patchIdentity</c>, <c>deleteIdentity</c> and <c>listIdentities</c>. Credentials can be imported
/// but never appear in a response (Kratos's <c>include_credential</c> is not honoured).
/// </summary>
public static class IdentitiesAdminApi
{
    public const int DefaultPageSize = 250;
    public const int MaxPageSize = 1000;
    public const int MaxIds = 500;

    /// <summary>
    /// How often a PATCH is read, applied and written before it answers 409: each retry follows a write by another
    /// request, so this many PATCHes of one identity at once all land.
    /// </summary>
    public const int PatchAttempts = 5;

    public static RouteGroupBuilder MapIdentitiesAdminApi(this RouteGroupBuilder admin)
    {
        admin.MapPost("/identities", CreateAsync).WithName("createIdentity");
        admin.MapGet("/identities", ListAsync).WithName("listIdentities");
        admin.MapGet("/identities/{id}", GetAsync).WithName("getIdentity");
        admin.MapPut("/identities/{id}", UpdateAsync).WithName("updateIdentity");
        admin.MapPatch("/identities/{id}", PatchAsync).WithName("patchIdentity");
        admin.MapDelete("/identities/{id}", DeleteAsync).WithName("deleteIdentity");
        admin.MapIdentityCredentialsApi();
        // Kratos's IdentityApi reads schemas through the admin port too (getIdentitySchema, listIdentitySchemas).
        admin.MapIdentitySchemasApi("admin");
        return admin;
    }

    private static async Task<IResult> CreateAsync(HttpRequest request, IGrainFactory grains, IdentityBody reader, IOptions<JsonRenderingOptions> rendering)
    {
        var (document, error) = await JsonBody.ReadObjectAsync(request);
        if (document is null)
            return new OryErrorResult(error!);
        using (document)
        {
            if (!reader.TryRead(document.RootElement, IdentityBodyKind.Create, out var draft, out error))
                return new OryErrorResult(error!);
            var id = Guid.NewGuid();
            var result = await grains.GetGrain<IIdentityGrain>(id).CreateAsync(draft!);
            if (result.Outcome != IdentityWriteOutcome.Written)
                return new OryErrorResult(IdentityBody.Refused(result.Outcome));
            request.HttpContext.Response.Headers.Location = $"/admin/identities/{id}";
            return Written(StatusCodes.Status201Created, result.Identity!, rendering.Value.PublicBaseUrl);
        }
    }

    private static async Task<IResult> GetAsync(string id, HttpContext context, IGrainFactory grains, IOptions<JsonRenderingOptions> rendering)
    {
        if (!TryParseId(id, out var identityId, out var error))
            return error;
        var identity = await grains.GetGrain<IIdentityGrain>(identityId).GetAsync();
        if (identity is null)
            return NotFound();
        context.Response.Headers.CacheControl = WhoamiApi.NoStore;
        return Written(StatusCodes.Status200OK, identity, rendering.Value.PublicBaseUrl);
    }

    private static async Task<IResult> UpdateAsync(string id, HttpRequest request, IGrainFactory grains, IdentityBody reader, IOptions<JsonRenderingOptions> rendering)
    {
        if (!TryParseId(id, out var identityId, out var idError))
            return idError;
        var (document, error) = await JsonBody.ReadObjectAsync(request);
        if (document is null)
            return new OryErrorResult(error!);
        using (document)
        {
            if (!reader.TryRead(document.RootElement, IdentityBodyKind.Update, out var draft, out error))
                return new OryErrorResult(error!);
            // A full replace (Kratos has no If-Match): the last write wins, whole.
            return Answer(await grains.GetGrain<IIdentityGrain>(identityId).UpdateAsync(draft!, expectedVersion: null), rendering.Value.PublicBaseUrl);
        }
    }

    private static IResult Answer(IdentityWriteResult result, string publicBaseUrl) =>
        result.Outcome == IdentityWriteOutcome.Written
            ? Written(StatusCodes.Status200OK, result.Identity!, publicBaseUrl)
            : new OryErrorResult(IdentityBody.Refused(result.Outcome));

    /// <summary>
    /// RFC 6902 on the identity as the admin API shows it, plus <c>credentials.password.config</c> and
    /// <c>credentials.totp.config</c> to set a password or a TOTP secret; the result is then a PUT.
    /// </summary>
    private static async Task<IResult> PatchAsync(string id, HttpRequest request, IGrainFactory grains, IdentityBody reader, IOptions<JsonRenderingOptions> rendering)
    {
        if (!TryParseId(id, out var identityId, out var idError))
            return idError;
        var (document, bodyError) = await JsonBody.ReadAsync(request);
        if (document is null)
            return new OryErrorResult(bodyError!);
        JsonNode? body;
        using (document)
            body = document.RootElement.ValueKind switch
            {
                JsonValueKind.Object => JsonObject.Create(document.RootElement.Clone()),
                JsonValueKind.Array => JsonArray.Create(document.RootElement.Clone()),
                _ => JsonValue.Create(document.RootElement.Clone()),
            };
        if (!JsonPatch.TryParse(body, out var operations, out var patchError))
            return new OryErrorResult(OryError.BadRequest(patchError!));
        foreach (var operation in operations)
        {
            if (operation.Op != "test" && !IsPatchable(operation.PathSegments))
                return new OryErrorResult(OryError.BadRequest($"The path {operation.Path} cannot be patched; patchable are /traits, /state, /schema_id, /external_id, /metadata_public, /metadata_admin and /credentials/password/config/password."));
            if (operation.Op == "move" && !IsPatchable(operation.FromSegments!))
                return new OryErrorResult(OryError.BadRequest($"The path {operation.From} cannot be moved away from."));
        }

        // The patch applies to the version it was read from; when another write came in between, it is read
        // and applied again, so concurrent PATCHes of different fields all land.
        var grain = grains.GetGrain<IIdentityGrain>(identityId);
        for (var attempt = 1; ; attempt++)
        {
            var identity = await grain.GetAsync();
            if (identity is null)
                return NotFound();
            var (draft, error) = Patched(identity, operations, reader, rendering.Value.PublicBaseUrl);
            if (draft is null)
                return new OryErrorResult(error!);
            var result = await grain.UpdateAsync(draft, expectedVersion: identity.Version);
            if (result.Outcome != IdentityWriteOutcome.Conflict || attempt == PatchAttempts)
                return Answer(result, rendering.Value.PublicBaseUrl);
        }
    }

    /// <summary>The patch applied to <paramref name="identity"/>, read as an <c>updateIdentityBody</c>.</summary>
    private static (IdentityDraft? Draft, OryError? Error) Patched(IdentityRecord identity, IReadOnlyList<JsonPatchOperation> operations,
        IdentityBody reader, string publicBaseUrl)
    {
        var document = PatchableDocument(identity, publicBaseUrl);
        if (!JsonPatch.TryApply(ref document, operations, out var patchError))
            return (null, OryError.BadRequest($"The JSON Patch could not be applied: {patchError}"));
        if (document is not JsonObject patched)
            return (null, OryError.BadRequest("The patched identity must be a JSON object."));

        string updateBody;
        try
        {
            updateBody = UpdateBodyOf(patched).ToJsonString();
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or ArgumentException)
        {
            return (null, OryError.BadRequest("The patched identity cannot be written as JSON (too deep, or text that is not valid Unicode)."));
        }
        JsonDocument update;
        try
        {
            update = JsonDocument.Parse(updateBody, new JsonDocumentOptions { MaxDepth = 64 });
        }
        catch (JsonException)
        {
            return (null, OryError.BadRequest("The patched identity is nested too deeply."));
        }
        using (update)
            return reader.TryRead(update.RootElement, IdentityBodyKind.Update, out var draft, out var error) ? (draft, null) : (null, error);
    }

    private static bool IsPatchable(string[] path) => path switch
    {
        ["traits", ..] or ["metadata_public", ..] or ["metadata_admin", ..] => true,
        ["state"] or ["schema_id"] or ["external_id"] => true,
        ["credentials", "password", "config", "password" or "hashed_password"] => true,
        ["credentials", "totp", "config", "totp_url"] => true,
        _ => false,
    };

    /// <summary>The identity as the admin API writes it, with empty credential configs a patch can add a password or TOTP URL to.</summary>
    private static JsonNode PatchableDocument(IdentityRecord identity, string publicBaseUrl)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var w = new Utf8JsonWriter(buffer))
            IdentityJson.Write(w, identity, IdentityAudience.Admin, publicBaseUrl);
        var document = JsonNode.Parse(buffer.WrittenSpan)!;
        document["credentials"] = new JsonObject
        {
            ["password"] = new JsonObject { ["config"] = new JsonObject() },
            ["totp"] = new JsonObject { ["config"] = new JsonObject() },
        };
        return document;
    }

    /// <summary>The patched document as an <c>updateIdentityBody</c>; members the patch removed stay absent.</summary>
    private static JsonObject UpdateBodyOf(JsonObject patched)
    {
        var update = new JsonObject();
        foreach (var name in new[] { "schema_id", "traits", "state", "external_id", "metadata_public", "metadata_admin" })
            if (patched.TryGetPropertyValue(name, out var value))
                update[name] = value?.DeepClone();
        var credentials = new JsonObject();
        if (patched["credentials"]?["password"]?["config"] is JsonObject password && (password.ContainsKey("password") || password.ContainsKey("hashed_password")))
            credentials["password"] = new JsonObject { ["config"] = password.DeepClone() };
        if (patched["credentials"]?["totp"]?["config"] is JsonObject totp && totp.ContainsKey("totp_url"))
            credentials["totp"] = new JsonObject { ["config"] = totp.DeepClone() };
        if (credentials.Count > 0)
            update["credentials"] = credentials;
        return update;
    }

    private static async Task<IResult> DeleteAsync(string id, IGrainFactory grains)
    {
        if (!TryParseId(id, out var identityId, out var error))
            return error;
        return await grains.GetGrain<IIdentityGrain>(identityId).DeleteAsync() ? TypedResults.NoContent() : NotFound();
    }

    /// <summary>
    /// Keyset pagination as Kratos's: identities ordered by id, <c>page_token</c> opaque (the last id
    /// of the previous page), <c>Link</c> with <c>rel="first"</c> and, while more follow, <c>rel="next"</c>.
    /// Filters (not combinable, not paginated): <c>credentials_identifier</c> and <c>ids</c>.
    /// </summary>
    private static async Task<IResult> ListAsync(HttpContext context, IGrainFactory grains, IOptions<JsonRenderingOptions> rendering)
    {
        var query = context.Request.Query;
        var baseUrl = rendering.Value.PublicBaseUrl;
        context.Response.Headers.CacheControl = WhoamiApi.NoStore;
        var identifier = query["credentials_identifier"].ToString();
        var ids = query["ids"];
        if (identifier.Length > 0 && ids.Count > 0)
            return new OryErrorResult(OryError.BadRequest("The filters credentials_identifier and ids cannot be combined."));
        if (identifier.Length > 0)
        {
            var found = await grains.GetGrain<IIdentityCatalogGrain>(0).FindByIdentifierAsync(IdentifierNormalization.Normalize(identifier));
            var identity = found is { } foundId ? await grains.GetGrain<IIdentityGrain>(foundId).GetAsync() : null;
            return List(identity is null ? [] : [identity], baseUrl);
        }
        if (ids.Count > 0)
        {
            var wanted = new HashSet<Guid>();
            foreach (var text in ids)
            {
                if (!Guid.TryParse(text, out var wantedId))
                    return new OryErrorResult(OryError.BadRequest($"ids: \"{Shorten(text)}\" is not a UUID."));
                wanted.Add(wantedId);
            }
            if (wanted.Count > MaxIds)
                return new OryErrorResult(OryError.BadRequest($"ids: at most {MaxIds} identities can be asked for at once."));
            var identities = await Task.WhenAll(wanted.Order().Select(i => grains.GetGrain<IIdentityGrain>(i).GetAsync()));
            return List([.. identities.OfType<IdentityRecord>()], baseUrl);
        }

        var sizeText = query["page_size"].Count > 0 ? query["page_size"].ToString() : query["per_page"].ToString();
        var size = DefaultPageSize;
        if (sizeText.Length > 0 && (!int.TryParse(sizeText, NumberStyles.None, CultureInfo.InvariantCulture, out size) || size < 1))
        {
            // A number too large for an int is still a valid request for the largest page.
            if (sizeText.Length > 9 && sizeText.All(char.IsAsciiDigit) && sizeText.TrimStart('0').Length > 0)
                size = MaxPageSize;
            else
                return new OryErrorResult(OryError.BadRequest("could not parse parameter page_size: it must be a whole number from 1 to 1000."));
        }
        size = Math.Min(size, MaxPageSize);
        Guid? after = null;
        var token = query["page_token"].ToString();
        if (token.Length > 0)
        {
            if (!PageToken.TryRead(token, out var last))
                return new OryErrorResult(OryError.BadRequest("The page token is invalid, do not craft your own page tokens"));
            after = last;
        }

        var page = await grains.GetGrain<IIdentityCatalogGrain>(0).ListAsync(size + 1, after);
        var items = page.Length > size ? page[..size] : page;
        var path = context.Request.PathBase.Add(context.Request.Path).ToString();
        var links = new StringBuilder($"<{path}?page_size={size}>; rel=\"first\"");
        if (page.Length > size)
            links.Append($",<{path}?page_size={size}&page_token={PageToken.Write(items[^1].Id)}>; rel=\"next\"");
        context.Response.Headers["Link"] = links.ToString();
        return List(items, baseUrl);
    }

    private static JsonWriterResult List(IReadOnlyList<IdentityRecord> identities, string publicBaseUrl) =>
        new(StatusCodes.Status200OK, w =>
        {
            w.WriteStartArray();
            foreach (var identity in identities)
                IdentityJson.Write(w, identity, IdentityAudience.Admin, publicBaseUrl);
            w.WriteEndArray();
        });

    internal static bool TryParseId(string id, out Guid identityId, out OryErrorResult error)
    {
        error = null!;
        if (Guid.TryParse(id, out identityId))
            return true;
        error = new OryErrorResult(OryError.BadRequest("The identity id is not a UUID."));
        return false;
    }

    internal static OryErrorResult NotFound() => new(OryError.NotFound.WithReason("Unable to locate the resource"));

    private static JsonWriterResult Written(int status, IdentityRecord identity, string publicBaseUrl) =>
        new(status, w => IdentityJson.Write(w, identity, IdentityAudience.Admin, publicBaseUrl));

    private static string Shorten(string? text) => text is null ? "" : text.Length <= 64 ? text : text[..64] + "…";

    /// <summary>The opaque page token: the last id of the previous page, base64url-encoded.</summary>
    public static class PageToken
    {
        public static string Write(Guid lastId) => Base64Url.EncodeToString(Encoding.ASCII.GetBytes(lastId.ToString("D")));

        public static bool TryRead(string token, out Guid lastId)
        {
            lastId = default;
            if (token.Length > 64 || !Base64Url.IsValid(token))
                return false;
            var text = Encoding.ASCII.GetString(Base64Url.DecodeFromChars(token));
            return text.Length == 36 && Guid.TryParseExact(text, "D", out lastId);
        }
    }
}
