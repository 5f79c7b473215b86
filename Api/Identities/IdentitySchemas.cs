using System.Collections.Frozen;
using System.Collections.Immutable;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Json.Schema;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Hosting;

namespace OrleansSessions.Api.Identities;

/// <summary>Kratos's <c>identity.*</c> keys: which identity schemas exist and which one is the default.</summary>
public sealed class IdentitySchemaSettings
{
    public const string Section = "identity";

    [ConfigurationKeyName("default_schema_id")]
    public string DefaultSchemaId { get; set; } = IdentitySchemas.BuiltInId;

    /// <summary><c>identity.schemas</c>: <c>{id, url}</c> with a <c>file://</c> or <c>base64://</c> URL.</summary>
    public List<IdentitySchemaSource> Schemas { get; set; } = [];
}

public sealed class IdentitySchemaSource
{
    public string Id { get; set; } = "";

    public string Url { get; set; } = "";
}

/// <summary>What checking traits against an identity schema found.</summary>
/// <param name="Errors">One line per failure, each naming the field (<c>#/traits/email: …</c>); empty when valid.</param>
/// <param name="Identifiers">The password identifiers the schema marks, normalised as Kratos does.</param>
/// <param name="TotpAccountName">The value the schema marks as the TOTP account name, if any.</param>
public sealed record TraitsCheck(ImmutableArray<string> Errors, ImmutableArray<string> Identifiers, string? TotpAccountName)
{
    public bool IsValid => Errors.IsEmpty;
}

/// <summary>
/// One identity schema: a JSON Schema for the identity document (<c>{"traits": …}</c>), as in
/// Kratos, with Kratos's <c>"ory.sh/kratos"</c> extension marking password identifiers
/// (<c>credentials.password.identifier</c>) and the TOTP account name (<c>credentials.totp.account_name</c>).
/// </summary>
public sealed class IdentitySchema
{
    private const string Extension = "ory.sh/kratos";
    private static readonly EvaluationOptions Evaluation = new() { OutputFormat = OutputFormat.List, RequireFormatValidation = true };

    private readonly JsonSchema _schema;
    private readonly JsonNode _document;
    // Paths inside the traits; "*" stands for every item of an array.
    private readonly ImmutableArray<string[]> _identifierPaths;
    private readonly ImmutableArray<string[]> _accountNamePaths;

    public IdentitySchema(string id, string text)
    {
        Id = id;
        _document = JsonNode.Parse(text) as JsonObject
            ?? throw new InvalidOperationException($"Identity schema '{id}' is not a JSON object.");
        Text = text;
        // Each schema gets its own registry: two schemas may share an $id (or have none).
        _schema = JsonSchema.FromText(text, new BuildOptions { SchemaRegistry = new SchemaRegistry() });
        var identifiers = new List<string[]>();
        var accountNames = new List<string[]>();
        if (_document["properties"]?["traits"] is JsonObject traits)
            CollectMarkedPaths(traits, [], identifiers, accountNames, depth: 0);
        _identifierPaths = [.. identifiers];
        _accountNamePaths = [.. accountNames];
    }

    public string Id { get; }

    /// <summary>The schema document as JSON text, served by <c>GET /schemas/{id}</c>.</summary>
    public string Text { get; }

    /// <summary>Validates the traits and extracts what the schema marks in them.</summary>
    public TraitsCheck Check(JsonElement traits)
    {
        using var instance = JsonDocument.Parse($"{{\"traits\":{traits.GetRawText()}}}", new JsonDocumentOptions { MaxDepth = 80 });
        EvaluationResults results;
        try
        {
            results = _schema.Evaluate(instance.RootElement, Evaluation);
        }
        catch (InvalidOperationException)
        {
            // An escaped lone surrogate is valid JSON but no string; reading it as one throws.
            return new TraitsCheck(["#/traits: the traits contain text that is not valid Unicode."], [], null);
        }
        if (!results.IsValid)
            return new TraitsCheck([.. Describe(results, instance.RootElement).Distinct().Order(StringComparer.Ordinal)], [], null);

        var identifiers = _identifierPaths.SelectMany(path => StringsAt(traits, path, 0))
            .Select(IdentifierNormalization.Normalize).Where(v => v.Length > 0).Distinct(StringComparer.Ordinal);
        var accountName = _accountNamePaths.SelectMany(path => StringsAt(traits, path, 0)).FirstOrDefault(v => v.Trim().Length > 0)?.Trim();
        return new TraitsCheck([], [.. identifiers], accountName);
    }

    private IEnumerable<string> Describe(EvaluationResults results, JsonElement instance)
    {
        if (results.Errors is { Count: > 0 } errors)
        {
            var location = "#" + results.InstanceLocation;
            foreach (var (keyword, message) in errors)
            {
                if (keyword == "required" && MissingProperties(results, instance) is { Count: > 0 } missing)
                    foreach (var name in missing)
                        yield return $"{location}/{EscapePointerSegment(name)}: the property {name} is missing (it is required).";
                else if (keyword is "" or "false" && results.EvaluationPath.ToString().EndsWith("/additionalProperties", StringComparison.Ordinal))
                    yield return $"{location}: the property is not allowed by the schema (additionalProperties is false).";
                else
                    yield return $"{location}: {message}";
            }
        }
        if (results.Details is { } details)
            foreach (var detail in details)
                foreach (var line in Describe(detail, instance))
                    yield return line;
    }

    /// <summary>Which names of the failing <c>required</c> keyword the instance lacks, so the error can name each field.</summary>
    private List<string>? MissingProperties(EvaluationResults results, JsonElement instance)
    {
        var fragment = Uri.UnescapeDataString(results.SchemaLocation.Fragment.TrimStart('#'));
        if (!JsonPointerPath.TryParse(fragment, out var schemaPath) || JsonPointerPath.Find(_document, schemaPath) is not JsonObject schemaNode
            || schemaNode["required"] is not JsonArray required)
            return null;
        if (!JsonPointerPath.TryParse(results.InstanceLocation.ToString(), out var instancePath))
            return null;
        var target = instance;
        foreach (var segment in instancePath)
        {
            if (target.ValueKind == JsonValueKind.Object && target.TryGetProperty(segment, out var child)) target = child;
            else if (target.ValueKind == JsonValueKind.Array && int.TryParse(segment, out var index) && index < target.GetArrayLength()) target = target[index];
            else return null;
        }
        if (target.ValueKind != JsonValueKind.Object)
            return null;
        var missing = new List<string>();
        foreach (var entry in required)
            if (entry is JsonValue value && value.TryGetValue<string>(out var name) && !target.TryGetProperty(name, out _))
                missing.Add(name);
        return missing;
    }

    private static string EscapePointerSegment(string name) => name.Replace("~", "~0").Replace("/", "~1");

    private void CollectMarkedPaths(JsonObject node, string[] path, List<string[]> identifiers, List<string[]> accountNames, int depth)
    {
        if (depth > 32)
            return;
        if (node["$ref"] is JsonValue reference && reference.TryGetValue<string>(out var target) && target.StartsWith('#')
            && JsonPointerPath.TryParse(Uri.UnescapeDataString(target[1..]), out var pointer) && JsonPointerPath.Find(_document, pointer) is JsonObject referenced)
            CollectMarkedPaths(referenced, path, identifiers, accountNames, depth + 1);
        if (node[Extension]?["credentials"] is JsonObject credentials)
        {
            if (IsTrue(credentials["password"]?["identifier"]))
                identifiers.Add(path);
            if (IsTrue(credentials["totp"]?["account_name"]))
                accountNames.Add(path);
        }
        if (node["properties"] is JsonObject properties)
            foreach (var (name, child) in properties)
                if (child is JsonObject childSchema)
                    CollectMarkedPaths(childSchema, [.. path, name], identifiers, accountNames, depth + 1);
        if (node["items"] is JsonObject items)
            CollectMarkedPaths(items, [.. path, "*"], identifiers, accountNames, depth + 1);
    }

    private static bool IsTrue(JsonNode? node) => node is JsonValue value && value.TryGetValue<bool>(out var b) && b;

    private static IEnumerable<string> StringsAt(JsonElement element, string[] path, int index)
    {
        if (index == path.Length)
        {
            if (element.ValueKind == JsonValueKind.String)
                yield return element.GetString()!;
            else if (element.ValueKind == JsonValueKind.Array)
                foreach (var item in element.EnumerateArray().Where(i => i.ValueKind == JsonValueKind.String))
                    yield return item.GetString()!;
            yield break;
        }
        if (path[index] == "*")
        {
            if (element.ValueKind == JsonValueKind.Array)
                foreach (var item in element.EnumerateArray())
                    foreach (var value in StringsAt(item, path, index + 1))
                        yield return value;
        }
        else if (element.ValueKind == JsonValueKind.Object && element.TryGetProperty(path[index], out var child))
        {
            foreach (var value in StringsAt(child, path, index + 1))
                yield return value;
        }
    }
}

/// <summary>How Kratos normalises password identifiers, when storing them and when looking one up at login.</summary>
public static class IdentifierNormalization
{
    /// <summary>Trimmed and lower-cased (Kratos lower-cases every password identifier: the schema may not say it is an email).</summary>
    public static string Normalize(string identifier) => identifier.Trim().ToLowerInvariant();
}

/// <summary>The identity schemas of this node: the configured ones and the built-in <c>default</c>.</summary>
public sealed class IdentitySchemas
{
    public const string BuiltInId = "default";
    private const string BuiltInResource = "OrleansSessions.Api.Identities.default.schema.json";

    private readonly FrozenDictionary<string, IdentitySchema> _byId;

    public IdentitySchemas(IOptions<IdentitySchemaSettings> settings, IHostEnvironment environment)
        : this(settings.Value, environment.ContentRootPath)
    {
    }

    public IdentitySchemas(IdentitySchemaSettings settings, string contentRoot)
    {
        var all = new List<IdentitySchema>();
        foreach (var source in settings.Schemas)
        {
            if (string.IsNullOrWhiteSpace(source.Id))
                throw new InvalidOperationException("identity:schemas: every schema needs an id.");
            if (all.Any(s => s.Id == source.Id))
                throw new InvalidOperationException($"identity:schemas: the id '{source.Id}' is listed twice.");
            all.Add(Load(source, contentRoot));
        }
        // The built-in schema stays available under its id unless the configuration names another "default".
        if (all.All(s => s.Id != BuiltInId))
            all.Insert(0, new IdentitySchema(BuiltInId, BuiltInText()));
        if (all.All(s => s.Id != settings.DefaultSchemaId))
            throw new InvalidOperationException($"identity:default_schema_id '{settings.DefaultSchemaId}' is not among identity:schemas.");
        All = [.. all];
        DefaultId = settings.DefaultSchemaId;
        _byId = all.ToFrozenDictionary(s => s.Id, StringComparer.Ordinal);
    }

    public ImmutableArray<IdentitySchema> All { get; }

    public string DefaultId { get; }

    public IdentitySchema? Find(string id) => _byId.GetValueOrDefault(id);

    public static string BuiltInText()
    {
        using var stream = typeof(IdentitySchemas).Assembly.GetManifestResourceStream(BuiltInResource)
            ?? throw new InvalidOperationException($"The embedded resource {BuiltInResource} is missing.");
        using var reader = new StreamReader(stream, Encoding.UTF8);
        return reader.ReadToEnd();
    }

    private static IdentitySchema Load(IdentitySchemaSource source, string contentRoot)
    {
        string text;
        const string file = "file://", base64 = "base64://";
        try
        {
            if (source.Url.StartsWith(file, StringComparison.OrdinalIgnoreCase))
            {
                var path = Uri.UnescapeDataString(source.Url[file.Length..]);
                text = File.ReadAllText(Path.IsPathRooted(path) ? path : Path.Combine(contentRoot, path));
            }
            else if (source.Url.StartsWith(base64, StringComparison.OrdinalIgnoreCase))
            {
                var data = source.Url[base64.Length..].Replace('-', '+').Replace('_', '/').TrimEnd('=');
                text = Encoding.UTF8.GetString(Convert.FromBase64String(data.PadRight(data.Length + (4 - data.Length % 4) % 4, '=')));
            }
            else
            {
                throw new InvalidOperationException("only file:// and base64:// URLs are supported");
            }
            return new IdentitySchema(source.Id, text);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or JsonException or InvalidOperationException
                                      or JsonSchemaException or ArgumentException or NotSupportedException)
        {
            throw new InvalidOperationException($"identity:schemas: could not load schema '{source.Id}' from {Describe(source.Url)}: {e.Message}", e);
        }
    }

    /// <summary>A base64 URL can be long; the start is enough to tell which one failed.</summary>
    private static string Describe(string url) => url.Length <= 80 ? url : url[..80] + "…";
}

public static class IdentityServices
{
    /// <summary>
    /// The identity feature's services: <c>identity:*</c> bound and the schemas loaded at start-up (a
    /// broken schema stops the node early), the body reader, the TOTP enrolment settings.
    /// </summary>
    public static IServiceCollection AddIdentities(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<IdentitySchemaSettings>().Bind(configuration.GetSection(IdentitySchemaSettings.Section))
            .Validate<IHostEnvironment>((settings, environment) =>
            {
                _ = new IdentitySchemas(settings, environment.ContentRootPath);
                return true;
            }).ValidateOnStart();
        services.AddSingleton<IdentitySchemas>();
        services.AddSingleton<IdentityBody>();
        services.AddOptions<TotpEnrolmentSettings>().Bind(configuration.GetSection(TotpEnrolmentSettings.Section));
        return services;
    }
}
