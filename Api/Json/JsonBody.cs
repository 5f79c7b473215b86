using System.Text.Json;
using OrleansSessions.Api.Errors;

namespace OrleansSessions.Api.Json;

/// <summary>Reads a request body that must be one JSON object, with a clear 400 otherwise.</summary>
public static class JsonBody
{
    private static readonly JsonDocumentOptions Options = new() { MaxDepth = 64 };

    public static async Task<(JsonDocument? Document, OryError? Error)> ReadObjectAsync(HttpRequest request)
    {
        var (document, error) = await ReadAsync(request);
        if (document is null)
            return (null, error);
        if (document.RootElement.ValueKind != JsonValueKind.Object)
        {
            document.Dispose();
            return (null, OryError.BadRequest("The request body must be a JSON object."));
        }
        return (document, null);
    }

    /// <summary>
    /// Reads a request body that must be JSON of any kind, and Unicode text throughout: System.Text.Json does not
    /// check the UTF-8 of names and strings while parsing (nor escaped lone surrogates), and reading such a name or
    /// string later throws, so a body with one is refused here, once, with a 400.
    /// </summary>
    public static async Task<(JsonDocument? Document, OryError? Error)> ReadAsync(HttpRequest request)
    {
        JsonDocument document;
        try
        {
            document = await JsonDocument.ParseAsync(request.Body, Options, request.HttpContext.RequestAborted);
        }
        catch (JsonException)
        {
            return (null, OryError.BadRequest("The request body is not valid JSON."));
        }
        catch (IOException e) when (e is not BadHttpRequestException)
        {
            // Kestrel's own framing errors that are not a BadHttpRequestException (that one, an IOException too, keeps
            // its status: 413 for a body over the limit): a chunk size that overflows ("Bad chunk size data").
            return (null, OryError.BadRequest("The request body could not be read."));
        }
        if (!IsUnicode(document.RootElement))
        {
            document.Dispose();
            return (null, OryError.BadRequest("The request body must be valid Unicode text: UTF-8, without lone surrogates."));
        }
        return (document, null);
    }

    /// <summary>Every name and string can be read as text (reading throws InvalidOperationException otherwise).</summary>
    private static bool IsUnicode(JsonElement element)
    {
        try
        {
            Touch(element);
            return true;
        }
        catch (InvalidOperationException)
        {
            return false;
        }

        static void Touch(JsonElement element)
        {
            switch (element.ValueKind)
            {
                case JsonValueKind.Object:
                    foreach (var property in element.EnumerateObject())
                    {
                        _ = property.Name;
                        Touch(property.Value);
                    }
                    break;
                case JsonValueKind.Array:
                    foreach (var item in element.EnumerateArray())
                        Touch(item);
                    break;
                case JsonValueKind.String:
                    _ = element.GetString();
                    break;
            }
        }
    }

    /// <summary>An optional string member: absent or null gives null; any other kind is an error.</summary>
    public static bool TryOptionalString(JsonElement body, string name, int maxLength, out string? value, out OryError? error)
    {
        value = null;
        error = null;
        if (!body.TryGetProperty(name, out var member) || member.ValueKind == JsonValueKind.Null)
            return true;
        if (member.ValueKind != JsonValueKind.String)
        {
            error = OryError.BadRequest($"{name} must be a string.");
            return false;
        }
        try
        {
            value = member.GetString()!;
        }
        catch (InvalidOperationException)
        {
            // An escaped lone surrogate ("\ud800") is valid JSON but no string: GetString throws.
            error = OryError.BadRequest($"{name} must be valid Unicode text.");
            return false;
        }
        if (value.Length > maxLength)
        {
            error = OryError.BadRequest($"{name} must be at most {maxLength} characters long.");
            return false;
        }
        return true;
    }

    /// <summary>An optional member of any JSON kind, as raw JSON text; null when absent or null.</summary>
    public static string? OptionalRaw(JsonElement body, string name) =>
        body.TryGetProperty(name, out var member) && member.ValueKind != JsonValueKind.Null ? member.GetRawText() : null;
}

/// <summary>A JSON response written straight to the body by a writer callback.</summary>
public sealed class JsonWriterResult(int statusCode, Action<Utf8JsonWriter> write) : IResult, IStatusCodeHttpResult
{
    public int? StatusCode => statusCode;

    public async Task ExecuteAsync(HttpContext httpContext)
    {
        var response = httpContext.Response;
        response.StatusCode = statusCode;
        response.Headers.ContentType = "application/json; charset=utf-8";
        if (HttpMethods.IsHead(httpContext.Request.Method))
            return;
        await using var w = new Utf8JsonWriter(response.BodyWriter);
        write(w);
        await w.FlushAsync();
    }
}
