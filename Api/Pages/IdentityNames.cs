using System.Text.Json;

namespace OrleansSessions.Api.Pages;

/// <summary>How the pages name an identity to people: its e-mail address or user name from its traits, else its id.</summary>
public static class IdentityNames
{
    public static string Of(Guid id, string? traits)
    {
        if (!string.IsNullOrEmpty(traits))
        {
            try
            {
                using var document = JsonDocument.Parse(traits);
                if (document.RootElement.ValueKind == JsonValueKind.Object)
                {
                    foreach (var preferred in new[] { "email", "username", "phone" })
                        if (document.RootElement.TryGetProperty(preferred, out var value) && value.ValueKind == JsonValueKind.String && value.GetString() is { Length: > 0 } name)
                            return name;
                    foreach (var property in document.RootElement.EnumerateObject())
                        if (property.Value.ValueKind == JsonValueKind.String && property.Value.GetString() is { Length: > 0 } name)
                            return name;
                }
            }
            catch (JsonException)
            {
                // Traits are validated JSON when stored; an unreadable one is named by the id.
            }
        }
        return id.ToString();
    }
}
