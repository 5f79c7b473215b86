using System.Text.Json;

namespace OrleansSessions.Api.Pages;

/// <summary>A text of a flow's UI (Kratos's <c>uiText</c>): its id, words and kind (<c>info</c>, <c>error</c>, <c>success</c>).</summary>
public sealed record UiText(long Id, string Text, string Type)
{
    public bool IsError => Type == "error";

    internal static UiText Read(JsonElement text) => new(
        text.TryGetProperty("id", out var id) && id.TryGetInt64(out var number) ? number : 0,
        text.TryGetProperty("text", out var words) ? words.GetString() ?? "" : "",
        text.TryGetProperty("type", out var type) ? type.GetString() ?? "info" : "info");

    internal static IReadOnlyList<UiText> ReadAll(JsonElement owner) =>
        owner.TryGetProperty("messages", out var list) && list.ValueKind == JsonValueKind.Array ? [.. list.EnumerateArray().Select(Read)] : [];
}

/// <summary>An input node of a flow's UI (Kratos's <c>uiNode</c> with <c>uiNodeInputAttributes</c>).</summary>
public sealed record UiInput(string Name, string Type, string? Value, bool Required, string? Autocomplete, UiText? Label, IReadOnlyList<UiText> Messages)
{
    public bool HasError => Messages.Any(m => m.IsError);
}

/// <summary>
/// A flow's <c>ui</c> container as the sign-in page renders it: the form's action and method, its input
/// nodes in order, and the messages of the whole form. Read from the flow's JSON, the answer of the API
/// itself, so that the page shows exactly what any Kratos UI would be given.
/// </summary>
public sealed record UiForm(string Action, string Method, IReadOnlyList<UiInput> Nodes, IReadOnlyList<UiText> Messages)
{
    public static UiForm Read(JsonElement flow)
    {
        var ui = flow.GetProperty("ui");
        var nodes = new List<UiInput>();
        foreach (var node in ui.GetProperty("nodes").EnumerateArray())
        {
            if (node.GetProperty("type").GetString() != "input")
                continue;
            var attributes = node.GetProperty("attributes");
            var label = node.TryGetProperty("meta", out var meta) && meta.TryGetProperty("label", out var text) ? UiText.Read(text) : null;
            nodes.Add(new UiInput(
                attributes.GetProperty("name").GetString() ?? "",
                attributes.GetProperty("type").GetString() ?? "text",
                attributes.TryGetProperty("value", out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null,
                attributes.TryGetProperty("required", out var required) && required.ValueKind == JsonValueKind.True,
                attributes.TryGetProperty("autocomplete", out var autocomplete) ? autocomplete.GetString() : null,
                label,
                UiText.ReadAll(node)));
        }
        return new UiForm(ui.GetProperty("action").GetString() ?? "", ui.GetProperty("method").GetString() ?? "POST", nodes, UiText.ReadAll(ui));
    }
}
