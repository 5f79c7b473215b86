using Microsoft.Net.Http.Headers;
using OrleansSessions.Api.Errors;
using OrleansSessions.Api.Json;

namespace OrleansSessions.Api.Login;

/// <summary>
/// The body of <c>POST /self-service/login</c> (Kratos's <c>updateLoginFlowBody</c> for the password
/// and TOTP methods), as JSON or as a form. <c>password_identifier</c> is the legacy name of
/// <c>identifier</c>; the CSRF token may also come in the <c>X-CSRF-Token</c> header.
/// </summary>
public sealed record LoginSubmission(string? Method, string? Identifier, string? Password, string? TotpCode, string? CsrfToken)
{
    private static readonly (string Name, int MaxLength)[] Fields =
    [
        ("method", 64), ("identifier", 512), ("password_identifier", 512), ("password", 4096), ("totp_code", 64), ("csrf_token", 256),
    ];

    public static async Task<(LoginSubmission? Submission, OryError? Error)> ReadAsync(HttpRequest request)
    {
        var mediaType = MediaTypeHeaderValue.TryParse(request.ContentType, out var parsed) ? parsed.MediaType.Value?.ToLowerInvariant() : null;
        var (values, error) = mediaType switch
        {
            "application/json" => await ReadJsonAsync(request),
            "application/x-www-form-urlencoded" => await ReadFormAsync(request),
            _ => (null, OryError.BadRequest("The request body must be JSON (application/json) or a form (application/x-www-form-urlencoded).")),
        };
        if (values is null)
            return (null, error);
        return (new LoginSubmission(
            values["method"],
            Coalesce(values["identifier"], values["password_identifier"]),
            values["password"],
            values["totp_code"],
            Coalesce(values["csrf_token"], request.Headers[CsrfCookie.Header].ToString())), null);
    }

    private static async Task<(Dictionary<string, string?>? Values, OryError? Error)> ReadJsonAsync(HttpRequest request)
    {
        var (document, error) = await JsonBody.ReadObjectAsync(request);
        if (document is null)
            return (null, error);
        using (document)
        {
            var values = new Dictionary<string, string?>();
            foreach (var (name, maxLength) in Fields)
            {
                if (!JsonBody.TryOptionalString(document.RootElement, name, maxLength, out var value, out error))
                    return (null, error);
                values[name] = value;
            }
            return (values, null);
        }
    }

    private static async Task<(Dictionary<string, string?>? Values, OryError? Error)> ReadFormAsync(HttpRequest request)
    {
        IFormCollection form;
        try
        {
            form = await request.ReadFormAsync(request.HttpContext.RequestAborted);
        }
        catch (Exception e) when (e is InvalidDataException || (e is IOException && e is not BadHttpRequestException))
        {
            // Form limits and malformed forms; a broken chunked body (Kestrel's "Bad chunk size data" is an IOException;
            // a BadHttpRequestException, a 413 say, keeps its own status).
            return (null, OryError.BadRequest("The form body could not be read."));
        }
        var values = new Dictionary<string, string?>();
        foreach (var (name, maxLength) in Fields)
        {
            var value = form[name].FirstOrDefault();
            if (value is not null && value.Length > maxLength)
                return (null, OryError.BadRequest($"{name} must be at most {maxLength} characters long."));
            values[name] = value;
        }
        return (values, null);
    }

    private static string? Coalesce(string? first, string? second) =>
        !string.IsNullOrEmpty(first) ? first : string.IsNullOrEmpty(second) ? null : second;
}
