namespace OrleansSessions.Json;

/// <summary>What the JSON writers need to know about the deployment.</summary>
public sealed class JsonRenderingOptions
{
    /// <summary>Base URL of the public API, used for <c>schema_url</c>.</summary>
    public string PublicBaseUrl { get; set; } = "http://127.0.0.1:4433/";
}
