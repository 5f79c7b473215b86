using System.Buffers;
using System.Text.Json;

namespace OrleansSessions.Json;

/// <summary>What to include when a session is written.</summary>
/// <param name="Identity">Embed the identity (whoami always does; admin listings on <c>expand=identity</c>).</param>
/// <param name="Devices">Write the devices array; otherwise <c>devices</c> is null.</param>
public readonly record struct SessionJsonShape(bool Identity, bool Devices)
{
    public static readonly SessionJsonShape Full = new(true, true);
}

/// <summary>Writes a session in the JSON shape of Kratos's <c>session</c> schema.</summary>
public static class SessionJson
{
    /// <summary>The whole session as UTF-8 JSON, as whoami sends it.</summary>
    public static byte[] Render(SessionRecord session, IdentityRecord? identity, bool active, string publicBaseUrl)
    {
        var buffer = new ArrayBufferWriter<byte>(1024);
        using (var w = new Utf8JsonWriter(buffer))
            Write(w, session, identity, active, SessionJsonShape.Full, publicBaseUrl);
        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>The identity as a session embeds it, as UTF-8 JSON.</summary>
    public static byte[] RenderIdentity(IdentityRecord identity, string publicBaseUrl)
    {
        var buffer = new ArrayBufferWriter<byte>(512);
        using (var w = new Utf8JsonWriter(buffer))
            IdentityJson.Write(w, identity, IdentityAudience.Session, publicBaseUrl);
        return buffer.WrittenSpan.ToArray();
    }

    public static void Write(Utf8JsonWriter w, SessionRecord session, IdentityRecord? identity, bool active,
        SessionJsonShape shape, string publicBaseUrl)
    {
        WriteHead(w, session, active);
        if (shape.Identity && identity is not null)
            IdentityJson.Write(w, identity, IdentityAudience.Session, publicBaseUrl);
        else
            w.WriteNullValue();
        WriteTail(w, session, shape);
    }

    /// <summary>From the session's opening brace to the name of its <c>identity</c>.</summary>
    internal static void WriteHead(Utf8JsonWriter w, SessionRecord session, bool active)
    {
        w.WriteStartObject();
        w.WriteString(Names.Id, session.Id);
        w.WriteBoolean(Names.Active, active);
        Rfc3339.WriteTo(w, Names.ExpiresAt, session.ExpiresAt);
        Rfc3339.WriteTo(w, Names.AuthenticatedAt, session.AuthenticatedAt);
        w.WriteString(Names.Aal, session.Aal);
        w.WriteStartArray(Names.AuthenticationMethods);
        foreach (var m in session.AuthenticationMethods)
        {
            w.WriteStartObject();
            w.WriteString(Names.Method, m.Method);
            w.WriteString(Names.MethodAal, m.Aal);
            Rfc3339.WriteTo(w, Names.CompletedAt, m.CompletedAt);
            w.WriteEndObject();
        }
        w.WriteEndArray();
        Rfc3339.WriteTo(w, Names.IssuedAt, session.IssuedAt);
        w.WritePropertyName(Names.Identity);
    }

    /// <summary>After the identity: the devices and the closing brace.</summary>
    internal static void WriteTail(Utf8JsonWriter w, SessionRecord session, SessionJsonShape shape)
    {
        w.WritePropertyName(Names.Devices);
        if (shape.Devices)
        {
            w.WriteStartArray();
            foreach (var d in session.Devices)
            {
                w.WriteStartObject();
                w.WriteString(Names.Id, d.Id);
                // Kratos writes null here; the published schema says string, so absent fields are left out.
                if (d.IpAddress is not null) w.WriteString(Names.IpAddress, d.IpAddress);
                if (d.UserAgent is not null) w.WriteString(Names.UserAgent, d.UserAgent);
                if (d.Location is not null) w.WriteString(Names.Location, d.Location);
                w.WriteEndObject();
            }
            w.WriteEndArray();
        }
        else
        {
            w.WriteNullValue();
        }
        w.WriteEndObject();
    }

    /// <summary>The member names, encoded once (a whoami writes them on every request).</summary>
    private static class Names
    {
        public static readonly JsonEncodedText Id = JsonEncodedText.Encode("id");
        public static readonly JsonEncodedText Active = JsonEncodedText.Encode("active");
        public static readonly JsonEncodedText ExpiresAt = JsonEncodedText.Encode("expires_at");
        public static readonly JsonEncodedText AuthenticatedAt = JsonEncodedText.Encode("authenticated_at");
        public static readonly JsonEncodedText Aal = JsonEncodedText.Encode("authenticator_assurance_level");
        public static readonly JsonEncodedText AuthenticationMethods = JsonEncodedText.Encode("authentication_methods");
        public static readonly JsonEncodedText Method = JsonEncodedText.Encode("method");
        public static readonly JsonEncodedText MethodAal = JsonEncodedText.Encode("aal");
        public static readonly JsonEncodedText CompletedAt = JsonEncodedText.Encode("completed_at");
        public static readonly JsonEncodedText IssuedAt = JsonEncodedText.Encode("issued_at");
        public static readonly JsonEncodedText Identity = JsonEncodedText.Encode("identity");
        public static readonly JsonEncodedText Devices = JsonEncodedText.Encode("devices");
        public static readonly JsonEncodedText IpAddress = JsonEncodedText.Encode("ip_address");
        public static readonly JsonEncodedText UserAgent = JsonEncodedText.Encode("user_agent");
        public static readonly JsonEncodedText Location = JsonEncodedText.Encode("location");
    }
}
