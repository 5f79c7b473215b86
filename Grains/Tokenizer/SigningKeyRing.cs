using System.Buffers;
using System.Collections.Immutable;
using System.Text.Json;

namespace OrleansSessions.Tokenizer;

/// <summary>A key of the ring and when it signs: from <see cref="ActivatesAt"/> until the next key of its algorithm activates.</summary>
public sealed record KeyRingEntry(SigningKey Key, DateTimeOffset CreatedAt, DateTimeOffset ActivatesAt);

/// <summary>
/// The signing keys at one moment: the generated ones (from the store) and those of configured key sets.
/// Which key signs is a matter of time alone, so every node that holds the same ring picks the same key:
/// per algorithm, the key with the latest activation time that has passed. A key is published from its
/// creation (before it signs, by the lead time) until every token it signed has expired: its successor's
/// activation plus the longest token lifetime of its algorithm plus the clock skew.
/// </summary>
public sealed class SigningKeyRing
{
    private readonly ImmutableArray<KeyRingEntry> _generated;
    private readonly ImmutableDictionary<string, ImmutableArray<SigningKey>> _configured;
    private readonly TokenizerSettings _settings;

    public SigningKeyRing(IEnumerable<KeyRingEntry> generated, ImmutableDictionary<string, ImmutableArray<SigningKey>> configured, TokenizerSettings settings)
    {
        _generated = [.. generated.OrderBy(e => e.ActivatesAt).ThenBy(e => e.Key.Kid, StringComparer.Ordinal)];
        _configured = configured;
        _settings = settings;
    }

    /// <summary>The key that signs tokens of <paramref name="template"/> at <paramref name="now"/>; null when none does yet.</summary>
    public SigningKey? SignerFor(TokenTemplate template, DateTimeOffset now)
    {
        if (template.KeySet is not null)
            return _configured.TryGetValue(template.Name, out var keys) && keys.Length > 0 ? keys[0] : null;
        SigningKey? signer = null;
        foreach (var entry in _generated)
        {
            if (entry.Key.Algorithm == template.Algorithm && entry.ActivatesAt <= now)
                signer = entry.Key;
        }
        return signer;
    }

    /// <summary>When a generated key of <paramref name="algorithm"/> stops being published; null while it has no successor that signs.</summary>
    public DateTimeOffset? UnpublishedAt(KeyRingEntry entry)
    {
        var successor = _generated.FirstOrDefault(e => e.Key.Algorithm == entry.Key.Algorithm && e.ActivatesAt > entry.ActivatesAt);
        return successor is null ? null : successor.ActivatesAt + _settings.LongestTtl(entry.Key.Algorithm) + _settings.ClockSkew;
    }

    /// <summary>Keys in the JWKS at <paramref name="now"/>: generated ones not yet retired past their tokens, and every configured one.</summary>
    public IEnumerable<SigningKey> Published(DateTimeOffset now)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var entry in _generated)
        {
            if (UnpublishedAt(entry) is { } until && until <= now)
                continue;
            if (seen.Add(entry.Key.Kid))
                yield return entry.Key;
        }
        foreach (var key in _configured.Values.SelectMany(k => k))
        {
            if (seen.Add(key.Kid))
                yield return key;
        }
    }

    /// <summary>
    /// When the first key of an algorithm signs from: it replaces nothing, so it signs at once on every node,
    /// whatever their clocks say.
    /// </summary>
    public static readonly DateTimeOffset FirstKeyActivation = DateTimeOffset.UnixEpoch;

    /// <summary>
    /// Whether the store needs a new key of <paramref name="algorithm"/> now, and when it should activate:
    /// at once when there is none; otherwise when the newest one is due for rotation within the lead time.
    /// </summary>
    public DateTimeOffset? DueActivation(string algorithm, DateTimeOffset now)
    {
        var newest = _generated.LastOrDefault(e => e.Key.Algorithm == algorithm);
        if (newest is null)
            return FirstKeyActivation;
        // A first key (active since the epoch) is due an interval after its creation.
        var due = (newest.ActivatesAt > newest.CreatedAt ? newest.ActivatesAt : newest.CreatedAt) + _settings.RotationInterval;
        var earliest = now + _settings.RotationLeadTime;
        // Checked on time, due == earliest; checked late, the old key signs a little longer.
        return due <= earliest ? earliest : null;
    }

    /// <summary>The JWKS document of <see cref="Published"/>.</summary>
    public byte[] RenderPublicKeySet(DateTimeOffset now)
    {
        var buffer = new ArrayBufferWriter<byte>(1024);
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteStartArray("keys");
            foreach (var key in Published(now))
                key.WritePublicJwk(w);
            w.WriteEndArray();
            w.WriteEndObject();
        }
        return buffer.WrittenSpan.ToArray();
    }
}
