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

    /// <summary>
    /// The whole session as whoami sends it, in the pieces of <see cref="WhoamiBody"/>: the same bytes as
    /// <see cref="Render"/>, with <paramref name="identityJson"/> (from <see cref="RenderIdentity"/>) not copied.
    /// </summary>
    public static WhoamiBody RenderBody(SessionRecord session, byte[] identityJson, bool active)
    {
        var buffer = new ArrayBufferWriter<byte>(512);
        using var w = new Utf8JsonWriter(buffer);
        WriteHead(w, session, active);
        w.Flush();
        var head = buffer.WrittenSpan.ToArray();
        w.WriteRawValue(identityJson, skipInputValidation: true);
        w.Flush();
        var identityEnd = buffer.WrittenCount;
        WriteTail(w, session, SessionJsonShape.Full);
        w.Flush();
        return new WhoamiBody { Head = head, Identity = identityJson, Tail = buffer.WrittenSpan[identityEnd..].ToArray() };
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
    private static void WriteHead(Utf8JsonWriter w, SessionRecord session, bool active)
    {
        w.WriteStartObject();
        w.WriteString("id", session.Id);
        w.WriteBoolean("active", active);
        w.WriteString("expires_at", Rfc3339.Write(session.ExpiresAt));
        w.WriteString("authenticated_at", Rfc3339.Write(session.AuthenticatedAt));
        w.WriteString("authenticator_assurance_level", session.Aal);
        w.WriteStartArray("authentication_methods");
        foreach (var m in session.AuthenticationMethods)
        {
            w.WriteStartObject();
            w.WriteString("method", m.Method);
            w.WriteString("aal", m.Aal);
            w.WriteString("completed_at", Rfc3339.Write(m.CompletedAt));
            w.WriteEndObject();
        }
        w.WriteEndArray();
        w.WriteString("issued_at", Rfc3339.Write(session.IssuedAt));
        w.WritePropertyName("identity");
    }

    /// <summary>After the identity: the devices and the closing brace.</summary>
    private static void WriteTail(Utf8JsonWriter w, SessionRecord session, SessionJsonShape shape)
    {
        w.WritePropertyName("devices");
        if (shape.Devices)
        {
            w.WriteStartArray();
            foreach (var d in session.Devices)
            {
                w.WriteStartObject();
                w.WriteString("id", d.Id);
                // Kratos writes null here; the published schema says string, so absent fields are left out.
                if (d.IpAddress is not null) w.WriteString("ip_address", d.IpAddress);
                if (d.UserAgent is not null) w.WriteString("user_agent", d.UserAgent);
                if (d.Location is not null) w.WriteString("location", d.Location);
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
}
