using System.Text.Json;
using System.Text.Json.Nodes;

namespace OrleansSessions.Api.Identities;

/// <summary>JSON Pointers (RFC 6901) as lists of unescaped segments.</summary>
public static class JsonPointerPath
{
    /// <summary>"" is the whole document; anything else starts with "/". <c>~1</c> is "/", <c>~0</c> is "~".</summary>
    public static bool TryParse(string pointer, out string[] segments)
    {
        segments = [];
        if (pointer.Length == 0)
            return true;
        if (pointer[0] != '/')
            return false;
        var parts = pointer[1..].Split('/');
        for (var i = 0; i < parts.Length; i++)
        {
            var part = parts[i];
            for (var j = part.IndexOf('~'); j >= 0; j = part.IndexOf('~', j + 1))
                if (j + 1 >= part.Length || part[j + 1] is not ('0' or '1'))
                    return false;
            parts[i] = part.Replace("~1", "/").Replace("~0", "~");
        }
        segments = parts;
        return true;
    }

    /// <summary>The node at the path, or null when there is none (or it is JSON null: use <see cref="TryFind"/> to tell).</summary>
    public static JsonNode? Find(JsonNode? root, IReadOnlyList<string> segments) => TryFind(root, segments, out var node) ? node : null;

    public static bool TryFind(JsonNode? root, IReadOnlyList<string> segments, out JsonNode? node)
    {
        node = root;
        foreach (var segment in segments)
        {
            switch (node)
            {
                case JsonObject o when o.TryGetPropertyValue(segment, out var child):
                    node = child;
                    break;
                case JsonArray a when TryIndex(segment, a.Count - 1, out var index):
                    node = a[index];
                    break;
                default:
                    node = null;
                    return false;
            }
        }
        return true;
    }

    /// <summary>An array index as RFC 6901 writes it: digits, no leading zero, at most <paramref name="max"/>.</summary>
    public static bool TryIndex(string segment, int max, out int index)
    {
        index = -1;
        if (segment.Length is 0 or > 9 || !segment.All(char.IsAsciiDigit) || (segment.Length > 1 && segment[0] == '0'))
            return false;
        index = int.Parse(segment, System.Globalization.CultureInfo.InvariantCulture);
        return index <= max;
    }
}

/// <summary>One operation of a JSON Patch document.</summary>
public sealed record JsonPatchOperation(string Op, string Path, string[] PathSegments, string? From, string[]? FromSegments, JsonNode? Value);

/// <summary>
/// JSON Patch (RFC 6902) over <see cref="System.Text.Json.Nodes"/>: add, remove, replace, move,
/// copy and test. A document is applied whole or not at all; the first failing operation is reported.
/// </summary>
public static class JsonPatch
{
    public const int MaxOperations = 1000;

    /// <summary>Reads a patch document: a JSON array of operation objects.</summary>
    public static bool TryParse(JsonNode? body, out List<JsonPatchOperation> operations, out string? error)
    {
        operations = [];
        error = null;
        if (body is not JsonArray array)
        {
            error = "The request body must be a JSON Patch document: a JSON array of operations.";
            return false;
        }
        if (array.Count > MaxOperations)
        {
            error = $"A JSON Patch document may hold at most {MaxOperations} operations.";
            return false;
        }
        for (var i = 0; i < array.Count; i++)
        {
            if (array[i] is not JsonObject entry)
            {
                error = $"Operation {i} must be a JSON object.";
                return false;
            }
            if (!TryString(entry, "op", out var op) || op is not ("add" or "remove" or "replace" or "move" or "copy" or "test"))
            {
                error = $"Operation {i}: \"op\" must be one of add, remove, replace, move, copy, test.";
                return false;
            }
            if (!TryString(entry, "path", out var path) || !JsonPointerPath.TryParse(path!, out var pathSegments))
            {
                error = $"Operation {i} ({op}): \"path\" must be a JSON Pointer such as \"/traits/email\".";
                return false;
            }
            string? from = null;
            string[]? fromSegments = null;
            if (op is "move" or "copy" && (!TryString(entry, "from", out from) || !JsonPointerPath.TryParse(from!, out fromSegments)))
            {
                error = $"Operation {i} ({op} {path}): \"from\" must be a JSON Pointer.";
                return false;
            }
            var hasValue = entry.TryGetPropertyValue("value", out var value);
            if (op is "add" or "replace" or "test" && !hasValue)
            {
                error = $"Operation {i} ({op} {path}): \"value\" is required.";
                return false;
            }
            operations.Add(new JsonPatchOperation(op!, path!, pathSegments, from, fromSegments, value));
        }
        return true;
    }

    /// <summary>Applies the operations in order to <paramref name="document"/>, which is changed in place.</summary>
    public static bool TryApply(ref JsonNode? document, IReadOnlyList<JsonPatchOperation> operations, out string? error)
    {
        error = null;
        for (var i = 0; i < operations.Count; i++)
        {
            var operation = operations[i];
            var problem = Apply(ref document, operation);
            if (problem is not null)
            {
                error = $"Operation {i} ({operation.Op} {operation.Path}): {problem}";
                return false;
            }
        }
        return true;
    }

    private static string? Apply(ref JsonNode? document, JsonPatchOperation operation)
    {
        switch (operation.Op)
        {
            case "add":
                return Add(ref document, operation.PathSegments, operation.Value?.DeepClone());
            case "remove":
                return Remove(ref document, operation.PathSegments, out _);
            case "replace":
                if (!JsonPointerPath.TryFind(document, operation.PathSegments, out _))
                    return "the path does not exist.";
                return Remove(ref document, operation.PathSegments, out _) ?? Add(ref document, operation.PathSegments, operation.Value?.DeepClone());
            case "move":
            {
                var from = operation.FromSegments!;
                if (from.Length < operation.PathSegments.Length && from.SequenceEqual(operation.PathSegments.Take(from.Length)))
                    return "a value cannot be moved into one of its own children.";
                if (from.SequenceEqual(operation.PathSegments))
                    return JsonPointerPath.TryFind(document, from, out _) ? null : "the from path does not exist.";
                var problem = Remove(ref document, from, out var moved);
                return problem is not null ? $"from: {problem}" : Add(ref document, operation.PathSegments, moved);
            }
            case "copy":
                return JsonPointerPath.TryFind(document, operation.FromSegments!, out var copied)
                    ? Add(ref document, operation.PathSegments, copied?.DeepClone())
                    : "the from path does not exist.";
            case "test":
                if (!JsonPointerPath.TryFind(document, operation.PathSegments, out var actual))
                    return "the path does not exist.";
                return JsonNode.DeepEquals(actual, operation.Value) ? null : "the value is not the expected one.";
            default:
                return "unknown operation.";
        }
    }

    private static string? Add(ref JsonNode? document, string[] path, JsonNode? value)
    {
        if (path.Length == 0)
        {
            document = value;
            return null;
        }
        if (!JsonPointerPath.TryFind(document, path[..^1], out var parent))
            return "the parent of the path does not exist.";
        var last = path[^1];
        switch (parent)
        {
            case JsonObject o:
                o[last] = value;
                return null;
            case JsonArray a when last == "-":
                a.Add(value);
                return null;
            case JsonArray a when JsonPointerPath.TryIndex(last, a.Count, out var index):
                a.Insert(index, value);
                return null;
            case JsonArray:
                return "the array index is out of range or not a number.";
            default:
                return "the parent of the path is neither an object nor an array.";
        }
    }

    private static string? Remove(ref JsonNode? document, string[] path, out JsonNode? removed)
    {
        removed = null;
        if (!JsonPointerPath.TryFind(document, path, out var target))
            return "the path does not exist.";
        if (path.Length == 0)
        {
            removed = document;
            document = null;
            return null;
        }
        var parent = JsonPointerPath.Find(document, path[..^1]);
        removed = target;
        switch (parent)
        {
            case JsonObject o:
                o.Remove(path[^1]);
                return null;
            case JsonArray a:
                a.RemoveAt(int.Parse(path[^1], System.Globalization.CultureInfo.InvariantCulture));
                return null;
            default:
                return "the path does not exist.";
        }
    }

    private static bool TryString(JsonObject entry, string name, out string? value)
    {
        value = null;
        if (!entry.TryGetPropertyValue(name, out var node) || node is not JsonValue v || v.GetValueKind() != JsonValueKind.String)
            return false;
        try
        {
            value = v.GetValue<string>();
            return true;
        }
        catch (InvalidOperationException)
        {
            return false; // a lone surrogate
        }
    }
}
