using System.Buffers;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Options;
using OrleansSessions.Json;

namespace OrleansSessions.Tokenizer;

/// <summary>A signed token and what decides whether it can be handed out again.</summary>
public sealed record SignedToken(string Jwt, string Kid, DateTimeOffset IssuedAt, DateTimeOffset ExpiresAt);

/// <summary>
/// Turns a session into a JWT of a template: <c>jti</c>, <c>iss</c>, <c>sub</c>, <c>sid</c>, <c>aud</c>,
/// <c>iat</c>, <c>nbf</c>, <c>exp</c> = iat + ttl, then the template's claims, each copied from a path into
/// the session's whoami JSON. Declarative only: nothing from configuration runs.
/// </summary>
public sealed class SessionTokenizer(TokenizerKeys keys, IOptions<JsonRenderingOptions> rendering)
{
    public TokenizerSettings Settings => keys.Settings;

    public TokenTemplate? Template(string name) => Settings.Templates.GetValueOrDefault(name);

    /// <summary>The key that signs the template's tokens now (the ring is refreshed as due).</summary>
    public async ValueTask<SigningKey?> SignerAsync(TokenTemplate template, DateTimeOffset now) =>
        (await keys.CurrentAsync()).SignerFor(template, now);

    /// <summary>A signed token, or the reason there can be none.</summary>
    public (SignedToken? Token, string? Problem) Sign(TokenTemplate template, SigningKey key, SessionRecord session,
        IdentityRecord identity, ReadOnlySpan<byte> sessionJson, DateTimeOffset now)
    {
        string subject;
        if (template.SubjectSource == "external_id")
        {
            if (identity.ExternalId is not { Length: > 0 } externalId)
                return (null, $"The tokenizer template \"{template.Name}\" takes the subject from external_id, and the identity has none.");
            subject = externalId;
        }
        else
            subject = identity.Id.ToString();

        var issuedAt = DateTimeOffset.FromUnixTimeSeconds(now.ToUnixTimeSeconds());
        var expiresAt = issuedAt + template.Ttl;
        var buffer = new ArrayBufferWriter<byte>(1024);
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteString("alg", key.Algorithm);
            w.WriteString("kid", key.Kid);
            w.WriteString("typ", "JWT");
            w.WriteEndObject();
        }
        var header = SigningKey.Base64Url(buffer.WrittenSpan);
        buffer.ResetWrittenCount();
        using (var document = JsonDocument.Parse(sessionJson.ToArray()))
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteString("jti", Guid.NewGuid());
            w.WriteString("iss", Settings.Issuer ?? rendering.Value.PublicBaseUrl.TrimEnd('/'));
            w.WriteString("sub", subject);
            w.WriteString("sid", session.Id);
            if (template.Audience.Length == 1)
                w.WriteString("aud", template.Audience[0]);
            else if (template.Audience.Length > 1)
            {
                w.WriteStartArray("aud");
                foreach (var audience in template.Audience)
                    w.WriteStringValue(audience);
                w.WriteEndArray();
            }
            w.WriteNumber("iat", issuedAt.ToUnixTimeSeconds());
            w.WriteNumber("nbf", issuedAt.ToUnixTimeSeconds());
            w.WriteNumber("exp", expiresAt.ToUnixTimeSeconds());
            foreach (var (claim, path) in template.Claims.OrderBy(c => c.Key, StringComparer.Ordinal))
                ClaimPath.WriteIfPresent(w, claim, document.RootElement, path);
            w.WriteEndObject();
        }
        var payload = SigningKey.Base64Url(buffer.WrittenSpan);
        var signingInput = $"{header}.{payload}";
        var signature = key.Sign(Encoding.ASCII.GetBytes(signingInput));
        return (new SignedToken($"{signingInput}.{SigningKey.Base64Url(signature)}", key.Kid, issuedAt, expiresAt), null);
    }

    /// <summary>The whoami body with <c>"tokenized": jwt</c> as its last member.</summary>
    public static WhoamiBody WithToken(WhoamiBody sessionJson, string jwt)
    {
        var (head, own) = sessionJson.OwnPieces();
        var end = Array.LastIndexOf(own, (byte)'}');
        var token = Encoding.ASCII.GetBytes($",\"tokenized\":\"{jwt}\"}}");
        var tail = new byte[end + token.Length];
        own.AsSpan(0, end).CopyTo(tail);
        token.CopyTo(tail.AsSpan(end));
        return WhoamiBody.FromPieces(head, sessionJson.Identity, tail);
    }
}

/// <summary>
/// A claim's source: a dot path into the session's whoami JSON (<c>identity.traits.email</c>,
/// <c>identity.metadata_public.plan</c>, <c>authenticator_assurance_level</c>). Through an array the rest
/// of the path applies to each element (<c>authentication_methods.method</c> is the list of methods).
/// A path that leads nowhere leaves the claim out.
/// </summary>
public static class ClaimPath
{
    public static void WriteIfPresent(Utf8JsonWriter w, string claim, JsonElement root, string path)
    {
        var segments = path.Split('.');
        if (Resolve(root, segments, 0) is { } found)
        {
            w.WritePropertyName(claim);
            found.Write(w);
        }
    }

    private static Found? Resolve(JsonElement at, string[] segments, int i)
    {
        if (i == segments.Length)
            return at.ValueKind is JsonValueKind.Undefined or JsonValueKind.Null ? null : new Found(at, null);
        if (at.ValueKind == JsonValueKind.Array)
        {
            // An empty array is an empty list; a path that matches no element of a non-empty one leads nowhere.
            var items = at.EnumerateArray().Select(e => Resolve(e, segments, i)).OfType<Found>().ToList();
            return items.Count > 0 || at.GetArrayLength() == 0 ? new Found(default, items) : null;
        }
        return at.ValueKind == JsonValueKind.Object && at.TryGetProperty(segments[i], out var next) ? Resolve(next, segments, i + 1) : null;
    }

    private sealed record Found(JsonElement Value, List<Found>? Items)
    {
        public void Write(Utf8JsonWriter w)
        {
            if (Items is null)
            {
                Value.WriteTo(w);
                return;
            }
            w.WriteStartArray();
            foreach (var item in Items)
                item.Write(w);
            w.WriteEndArray();
        }
    }
}
