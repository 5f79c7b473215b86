using System.Text.Json;
using OrleansSessions.Json;
using OrleansSessions.Login;

namespace OrleansSessions.Api.Login;

/// <summary>
/// Writes a login flow in the shape of Kratos's <c>loginFlow</c>. The UI nodes follow from the flow:
/// the CSRF token for browser flows; identifier, password and submit for a first factor (the identifier
/// hidden and filled in when re-authenticating); TOTP code and submit for a second factor.
/// </summary>
public static class LoginFlowJson
{
    public static string TypeName(SessionChannel type) => type == SessionChannel.Api ? "api" : "browser";

    public static string ActionUrl(string publicBaseUrl, Guid flowId) => $"{publicBaseUrl}self-service/login?flow={flowId}";

    public static void Write(Utf8JsonWriter w, LoginFlowRecord flow, string publicBaseUrl)
    {
        w.WriteStartObject();
        w.WriteString("id", flow.Id);
        w.WriteString("type", TypeName(flow.Type));
        w.WriteString("expires_at", Rfc3339.Write(flow.ExpiresAt));
        w.WriteString("issued_at", Rfc3339.Write(flow.IssuedAt));
        w.WriteString("request_url", flow.RequestUrl);
        if (flow.ReturnTo is not null)
            w.WriteString("return_to", flow.ReturnTo);
        if (flow.Active is not null)
            w.WriteString("active", flow.Active);
        w.WriteBoolean("refresh", flow.Refresh);
        w.WriteString("requested_aal", flow.RequestedAal);
        w.WriteString("state", flow.State);
        w.WriteString("created_at", Rfc3339.Write(flow.IssuedAt));
        w.WriteString("updated_at", Rfc3339.Write(flow.UpdatedAt));

        w.WriteStartObject("ui");
        w.WriteString("action", ActionUrl(publicBaseUrl, flow.Id));
        w.WriteString("method", "POST");
        w.WriteStartArray("nodes");
        if (flow.Type == SessionChannel.Browser)
            Input(w, flow, "default", "csrf_token", "hidden", flow.CsrfToken ?? "", required: true, label: null);
        if (flow.RequestedAal == AuthenticatorAssurance.Aal2)
        {
            Input(w, flow, "totp", "totp_code", "text", null, required: true, LoginTexts.LabelTotpCode, autocomplete: "one-time-code");
            Input(w, flow, "totp", "method", "submit", "totp", required: false, LoginTexts.LabelUseAuthenticator);
        }
        else
        {
            if (flow.Refresh && flow.RefreshIdentifier is not null)
                Input(w, flow, "default", "identifier", "hidden", flow.RefreshIdentifier, required: false, label: null);
            else
                Input(w, flow, "default", "identifier", "text", flow.Identifier ?? "", required: true, LoginTexts.LabelId);
            Input(w, flow, "password", "password", "password", null, required: true, LoginTexts.LabelPassword, autocomplete: "current-password");
            Input(w, flow, "password", "method", "submit", "password", required: false,
                flow.Refresh ? LoginTexts.LabelSignIn : LoginTexts.LabelSignInWithPassword);
        }
        w.WriteEndArray();
        var flowMessages = flow.Messages.Where(m => m.Node is null).ToList();
        if (flowMessages.Count > 0)
        {
            w.WriteStartArray("messages");
            foreach (var message in flowMessages)
                Text(w, message);
            w.WriteEndArray();
        }
        w.WriteEndObject();
        w.WriteEndObject();
    }

    private static void Input(Utf8JsonWriter w, LoginFlowRecord flow, string group, string name, string type, string? value,
        bool required, LoginFlowMessage? label, string? autocomplete = null)
    {
        w.WriteStartObject();
        w.WriteString("type", "input");
        w.WriteString("group", group);
        w.WriteStartObject("attributes");
        w.WriteString("name", name);
        w.WriteString("type", type);
        if (value is not null)
            w.WriteString("value", value);
        if (required)
            w.WriteBoolean("required", true);
        if (autocomplete is not null)
            w.WriteString("autocomplete", autocomplete);
        w.WriteBoolean("disabled", false);
        w.WriteString("node_type", "input");
        w.WriteEndObject();
        w.WriteStartArray("messages");
        foreach (var message in flow.Messages)
            if (message.Node == name)
                Text(w, message);
        w.WriteEndArray();
        w.WriteStartObject("meta");
        if (label is not null)
        {
            w.WritePropertyName("label");
            Text(w, label);
        }
        w.WriteEndObject();
        w.WriteEndObject();
    }

    private static void Text(Utf8JsonWriter w, LoginFlowMessage message)
    {
        w.WriteStartObject();
        w.WriteNumber("id", message.Id);
        w.WriteString("text", message.Text);
        w.WriteString("type", message.Type);
        if (message.Context is not null)
        {
            w.WritePropertyName("context");
            w.WriteRawValue(message.Context);
        }
        w.WriteEndObject();
    }
}
