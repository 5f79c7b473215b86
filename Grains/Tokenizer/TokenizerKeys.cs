using System.Collections.Immutable;
using System.Security.Cryptography;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using OrleansSessions.Storage;

namespace OrleansSessions.Tokenizer;

/// <summary>
/// A silo's copy of the key ring: re-read from the store at most every <see cref="TokenizerSettings.KeyRefresh"/>
/// (by the silo's clock), and at once after <see cref="Invalidate"/>. When a generated key is missing or due,
/// it asks the keys grain (the one writer) to create it, then reads again. Private keys stay in the silo, and are
/// stored as <paramref name="protection"/> seals them.
/// </summary>
public sealed class TokenizerKeys(ISigningKeyStore store, IGrainFactory grains, TimeProvider clock, IOptions<TokenizerSettings> options,
    IPrivateKeyProtection protection, ILogger<TokenizerKeys> logger) : IDisposable
{
    private readonly SemaphoreSlim _loading = new(1, 1);
    private readonly ImmutableDictionary<string, ImmutableArray<SigningKey>> _configured = ReadConfiguredKeySets(options.Value);
    private readonly Dictionary<string, SigningKey> _byKid = new(StringComparer.Ordinal);
    // Stored keys this silo could not unseal, each logged once; tried again at every read.
    private readonly HashSet<string> _sealedAway = new(StringComparer.Ordinal);
    private (SigningKeyRing Ring, DateTimeOffset ReadAt)? _current;

    public TokenizerSettings Settings => options.Value;

    /// <summary>The ring, read again when older than the refresh interval.</summary>
    public async ValueTask<SigningKeyRing> CurrentAsync()
    {
        var now = clock.GetUtcNow();
        if (_current is { } current && now - current.ReadAt < Settings.KeyRefresh)
            return current.Ring;
        await _loading.WaitAsync();
        try
        {
            now = clock.GetUtcNow();
            if (_current is { } again && now - again.ReadAt < Settings.KeyRefresh)
                return again.Ring;
            var ring = await ReadAsync();
            if (Settings.GeneratedAlgorithms.Any(a => ring.DueActivation(a, now) is not null))
            {
                await grains.GetGrain<ITokenizerKeysGrain>(0).EnsureCurrentAsync();
                ring = await ReadAsync();
            }
            _current = (ring, now);
            return ring;
        }
        finally
        {
            _loading.Release();
        }
    }

    /// <summary>The next <see cref="CurrentAsync"/> reads the store (after a rotation on this silo).</summary>
    public void Invalidate() => _current = null;

    /// <summary>The ring as stored now, without creating anything (the keys grain's view).</summary>
    public async Task<SigningKeyRing> ReadAsync()
    {
        var stored = await store.ListSigningKeysAsync();
        var entries = new List<KeyRingEntry>(stored.Count);
        lock (_byKid)
        {
            foreach (var key in stored)
            {
                // Parsed once per silo: a stored key never changes.
                if (!_byKid.TryGetValue(key.Kid, out var parsed))
                {
                    if (Open(key) is not { } opened)
                        continue;
                    _byKid[key.Kid] = parsed = opened;
                }
                entries.Add(new KeyRingEntry(parsed, key.CreatedAt, key.ActivatesAt));
            }
        }
        return new SigningKeyRing(entries, _configured, Settings);
    }

    /// <summary>
    /// The key of a stored row, or null when this silo cannot unseal it: it is then neither published nor used here,
    /// rather than the whole ring failing for one key (a key sealed under a Data Protection key that has not yet
    /// replicated to this region, or an old key whose certificate was retired from <c>previous</c>).
    /// </summary>
    private SigningKey? Open(StoredSigningKey key)
    {
        string jwk;
        try
        {
            jwk = protection.Open(key.PrivateJwk);
        }
        catch (CryptographicException e)
        {
            if (_sealedAway.Add(key.Kid))
                logger.LogError(e, "Signing key {Kid} ({Algorithm}) cannot be unsealed on this node; it is left out of the key ring until it can: {Reason}",
                    key.Kid, key.Algorithm, e.Message);
            return null;
        }
        using var document = JsonDocument.Parse(jwk);
        return SigningKey.FromPrivateJwk(document.RootElement);
    }

    /// <summary>Each template's configured private key set (<c>jwks_url</c>), checked when the configuration was read.</summary>
    private static ImmutableDictionary<string, ImmutableArray<SigningKey>> ReadConfiguredKeySets(TokenizerSettings settings)
    {
        var sets = ImmutableDictionary.CreateBuilder<string, ImmutableArray<SigningKey>>(StringComparer.Ordinal);
        foreach (var template in settings.Templates.Values)
        {
            if (template.KeySet is not { } json)
                continue;
            using var document = JsonDocument.Parse(json);
            sets[template.Name] = [.. document.RootElement.GetProperty("keys").EnumerateArray().Select(SigningKey.FromPrivateJwk)];
        }
        return sets.ToImmutable();
    }

    public void Dispose()
    {
        _loading.Dispose();
        lock (_byKid)
        {
            foreach (var key in _byKid.Values)
                key.Dispose();
        }
        foreach (var key in _configured.Values.SelectMany(k => k))
            key.Dispose();
    }
}
