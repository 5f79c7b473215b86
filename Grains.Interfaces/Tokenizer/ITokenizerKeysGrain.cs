using System.Collections.Immutable;

namespace OrleansSessions.Tokenizer;

/// <summary>
/// The one writer of the generated signing keys (a single activation, key 0): it creates the first keys,
/// rotates them on schedule and on demand, and renders the published key set.
/// </summary>
[Alias("os.ITokenizerKeysGrain")]
public interface ITokenizerKeysGrain : IGrainWithIntegerKey
{
    /// <summary>The JWKS document: public keys only.</summary>
    [Alias("PublicKeySet")]
    Task<byte[]> GetPublicKeySetAsync();

    /// <summary>Creates every key that is missing or due (first keys sign at once; replacements after the lead time).</summary>
    [Alias("EnsureCurrent")]
    Task EnsureCurrentAsync();

    /// <summary>A new key for each generated algorithm now: published at once, signing after the lead time.</summary>
    [Alias("Rotate")]
    Task<ImmutableArray<KeyRotation>> RotateAsync();
}

[GenerateSerializer, Immutable, Alias("os.KeyRotation")]
public sealed record KeyRotation
{
    [Id(0)] public required string Kid { get; init; }
    [Id(1)] public required string Algorithm { get; init; }
    [Id(2)] public required DateTimeOffset ActivatesAt { get; init; }
}
