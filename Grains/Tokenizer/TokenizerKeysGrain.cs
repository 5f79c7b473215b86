using System.Collections.Immutable;
using Microsoft.Extensions.Logging;
using OrleansSessions.Json;
using OrleansSessions.Storage;

namespace OrleansSessions.Tokenizer;

/// <summary>
/// The one writer of generated signing keys, and the renderer of the JWKS. Its view of the ring is read from
/// the store again every <see cref="TokenizerSettings.KeyRefresh"/>; keys that are missing or due are created
/// then, so a JWKS request alone keeps rotation on schedule.
/// </summary>
public sealed class TokenizerKeysGrain(ISigningKeyStore store, IPrivateKeyProtection protection, TokenizerKeys keys, TimeProvider clock,
    ILogger<TokenizerKeysGrain> logger, Regions.RegionMap regions)
    : Grain, ITokenizerKeysGrain
{
    private (SigningKeyRing Ring, DateTimeOffset ReadAt)? _ring;

    public async Task<byte[]> GetPublicKeySetAsync()
    {
        var ring = await RingAsync(force: false);
        return ring.RenderPublicKeySet(clock.GetUtcNow());
    }

    public async Task EnsureCurrentAsync() => await RingAsync(force: true);

    public async Task<ImmutableArray<KeyRotation>> RotateAsync()
    {
        if (!regions.CreatesKeys)
            throw new InvalidOperationException($"Signing keys are created in region {regions.KeyRegion} (regions:keys_from): rotate them there.");
        await RingAsync(force: true);
        var now = Rfc3339.Truncate(clock.GetUtcNow());
        var activatesAt = now + keys.Settings.RotationLeadTime;
        var rotations = ImmutableArray.CreateBuilder<KeyRotation>();
        foreach (var algorithm in keys.Settings.GeneratedAlgorithms)
            rotations.Add(await CreateAsync(algorithm, now, activatesAt));
        _ring = null;
        keys.Invalidate();
        return rotations.ToImmutable();
    }

    private async Task<SigningKeyRing> RingAsync(bool force)
    {
        var now = Rfc3339.Truncate(clock.GetUtcNow());
        if (!force && _ring is { } held && now - held.ReadAt < keys.Settings.KeyRefresh)
            return held.Ring;
        var ring = await keys.ReadAsync();
        var created = false;
        // With regions, one region creates the signing keys and the others sign with what replicates from it.
        foreach (var algorithm in regions.CreatesKeys ? keys.Settings.GeneratedAlgorithms : [])
        {
            if (ring.DueActivation(algorithm, now) is { } activatesAt)
            {
                await CreateAsync(algorithm, now, activatesAt);
                created = true;
            }
        }
        if (created)
        {
            ring = await keys.ReadAsync();
            keys.Invalidate();
        }
        _ring = (ring, now);
        return ring;
    }

    private async Task<KeyRotation> CreateAsync(string algorithm, DateTimeOffset now, DateTimeOffset activatesAt)
    {
        var rotation = await CreateKeyAsync(store, protection, algorithm, now, activatesAt);
        logger.LogInformation("New {Algorithm} signing key {Kid} for session tokens: published now, signs from {ActivatesAt:O}",
            algorithm, rotation.Kid, activatesAt);
        return rotation;
    }

    /// <summary>
    /// Generates a key and stores it as <paramref name="protection"/> seals it, to sign from <paramref name="activatesAt"/>
    /// (also the <c>rotate-keys</c> command).
    /// </summary>
    public static async Task<KeyRotation> CreateKeyAsync(ISigningKeyStore store, IPrivateKeyProtection protection, string algorithm,
        DateTimeOffset now, DateTimeOffset activatesAt)
    {
        using var key = SigningKey.Generate(algorithm);
        await store.InsertSigningKeyAsync(new StoredSigningKey(key.Kid, algorithm, protection.Seal(key.ExportPrivateJwk()), now, activatesAt));
        return new KeyRotation { Kid = key.Kid, Algorithm = algorithm, ActivatesAt = activatesAt };
    }
}
