using System.Text.Json;
using System.Text.Json.Nodes;
using Json.Schema;

namespace OrleansSessions.Api.Tests.Infrastructure;

/// <summary>
/// JSON Schemas taken from Kratos's OpenAPI 3.0.3 document (<c>Reference/kratos-api.json</c>).
/// <c>components.schemas</c> become <c>$defs</c> of one draft 2020-12 document:
/// <c>#/components/schemas/X</c> refs point at <c>#/$defs/X</c>, <c>nullable: true</c> becomes a
/// type union with <c>"null"</c> (and adds null to an <c>enum</c>), siblings of a <c>$ref</c> are
/// dropped (OpenAPI 3.0 ignores them), OpenAPI-only keywords (<c>example</c>,
/// <c>discriminator</c>, <c>x-*</c>) are removed, and <c>format: uuid4</c> becomes <c>uuid</c>.
/// Formats are asserted (date-time, uuid).
/// </summary>
public static class KratosSchema
{
    private const string RefPrefix = "#/components/schemas/";
    private static readonly Lazy<JsonObject> Definitions = new(LoadDefinitions);
    private static readonly Dictionary<string, JsonSchema> Built = [];
    private static readonly Lock Gate = new();

    public static string DocumentPath => Path.Combine(AppContext.BaseDirectory, "Reference", "kratos-api.json");

    /// <summary>Validates <paramref name="instance"/> against <c>components.schemas.{name}</c>.</summary>
    public static EvaluationResults Validate(string name, JsonElement instance) =>
        For(name).Evaluate(instance, new EvaluationOptions { OutputFormat = OutputFormat.List, RequireFormatValidation = true });

    /// <summary>The failures of an evaluation, one per line, for assertion messages.</summary>
    public static string Describe(EvaluationResults results)
    {
        var lines = new List<string>();
        void Walk(EvaluationResults r)
        {
            if (r.Errors is { Count: > 0 } errors)
                lines.AddRange(errors.Select(e => $"{r.InstanceLocation} ({r.EvaluationPath}): {e.Key}: {e.Value}"));
            if (r.Details is { } details)
                foreach (var d in details)
                    Walk(d);
        }
        Walk(results);
        return lines.Count == 0 ? (results.IsValid ? "valid" : "invalid (no details)") : string.Join("\n", lines);
    }

    private static JsonSchema For(string name)
    {
        lock (Gate)
        {
            if (Built.TryGetValue(name, out var schema))
                return schema;
            var defs = new JsonObject();
            foreach (var reachable in Reachable(name))
                defs[reachable] = Translate(Definitions.Value[reachable]!);
            var document = new JsonObject
            {
                ["$schema"] = "https://json-schema.org/draft/2020-12/schema",
                ["$id"] = $"https://orleans-sessions.test/kratos/{name}.json",
                ["$ref"] = $"#/$defs/{name}",
                ["$defs"] = defs,
            };
            // Each document gets its own registry: the shared default one would reject a second build of the same $id.
            schema = JsonSchema.FromText(document.ToJsonString(), new BuildOptions { SchemaRegistry = new SchemaRegistry() });
            Built[name] = schema;
            return schema;
        }
    }

    private static JsonObject LoadDefinitions()
    {
        var document = JsonNode.Parse(File.ReadAllText(DocumentPath))!;
        return document["components"]!["schemas"]!.AsObject();
    }

    private static IEnumerable<string> Reachable(string root)
    {
        var seen = new SortedSet<string>(StringComparer.Ordinal);
        var pending = new Stack<string>([root]);
        while (pending.TryPop(out var name))
        {
            if (!seen.Add(name))
                continue;
            if (Definitions.Value[name] is not { } schema)
                throw new InvalidOperationException($"components.schemas.{name} is missing from {DocumentPath}");
            foreach (var reference in References(schema))
                pending.Push(reference);
        }
        return seen;
    }

    private static IEnumerable<string> References(JsonNode? node)
    {
        switch (node)
        {
            case JsonObject o:
                foreach (var (key, value) in o)
                {
                    if (key == "$ref" && value is JsonValue v && v.TryGetValue<string>(out var target) && target.StartsWith(RefPrefix, StringComparison.Ordinal))
                        yield return target[RefPrefix.Length..];
                    else
                        foreach (var r in References(value))
                            yield return r;
                }
                break;
            case JsonArray a:
                foreach (var item in a)
                    foreach (var r in References(item))
                        yield return r;
                break;
        }
    }

    /// <summary>One OpenAPI 3.0 schema object to a draft 2020-12 schema.</summary>
    private static JsonNode Translate(JsonNode schema)
    {
        if (schema is not JsonObject source)
            return schema.DeepClone(); // a boolean schema
        if (source["$ref"] is JsonValue reference)
        {
            var target = reference.GetValue<string>();
            if (!target.StartsWith(RefPrefix, StringComparison.Ordinal))
                throw new NotSupportedException($"$ref {target}");
            return new JsonObject { ["$ref"] = "#/$defs/" + target[RefPrefix.Length..] };
        }

        var result = new JsonObject();
        foreach (var (key, value) in source)
        {
            if (key is "nullable" or "example" or "discriminator" or "xml" or "externalDocs" || key.StartsWith("x-", StringComparison.Ordinal))
                continue;
            result[key] = key switch
            {
                "properties" or "patternProperties" => TranslateMap(value!.AsObject()),
                "items" or "additionalProperties" or "not" => Translate(value!),
                "allOf" or "anyOf" or "oneOf" => new JsonArray([.. value!.AsArray().Select(s => Translate(s!))]),
                "format" when value!.GetValue<string>() == "uuid4" => "uuid",
                _ => value?.DeepClone(),
            };
        }

        if (source["nullable"] is JsonValue nullable && nullable.GetValue<bool>())
        {
            if (result["type"] is JsonValue type)
                result["type"] = new JsonArray(type.GetValue<string>(), "null");
            if (result["enum"] is JsonArray values && !values.Any(v => v is null))
                values.Add(null);
        }
        return result;
    }

    private static JsonObject TranslateMap(JsonObject map)
    {
        var result = new JsonObject();
        foreach (var (name, schema) in map)
            result[name] = Translate(schema!);
        return result;
    }
}
