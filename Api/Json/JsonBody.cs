using System.Text.Json;
using OrleansSessions.Api.Errors;

namespace OrleansSessions.Api.Json;

/// <summary>Reads a request body that must be one JSON object, with a clear 400 otherwise.</summary>
public static class JsonBody
{
    private static readonly JsonDocumentOptions Options = new() { MaxDepth = 64 };

    public static async Task<(JsonDocument? Document, OryError? Error)> ReadObjectAsync(HttpRequest request)
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
        if (document.RootElement.ValueKind != JsonValueKind.Object)
        {
            document.Dispose();
            return (null, OryError.BadRequest("The request body must be a JSON object."));
        }
        return (document, null);
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
