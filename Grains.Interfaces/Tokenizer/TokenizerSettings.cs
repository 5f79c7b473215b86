using System.Collections.Immutable;

namespace OrleansSessions.Tokenizer;

/// <summary>
/// <c>session.whoami.tokenizer</c>: how sessions become JWTs (<c>whoami?tokenize_as=</c>) and how the
/// signing keys are kept, published and rotated. Read from configuration by the host.
/// </summary>
public sealed class TokenizerSettings
{
    public const string Es256 = "ES256";
    public const string Rs256 = "RS256";
    public const string EdDsa = "EdDSA";
    public static readonly ImmutableArray<string> Algorithms = [Es256, Rs256, EdDsa];

    /// <summary>Claims the tokenizer always sets; a mapping may not name them.</summary>
    public static readonly ImmutableHashSet<string> RegisteredClaims = ["jti", "iss", "sub", "sid", "aud", "iat", "nbf", "exp"];

    /// <summary>By name, as <c>tokenize_as</c> names them.</summary>
    public ImmutableDictionary<string, TokenTemplate> Templates { get; init; } = ImmutableDictionary<string, TokenTemplate>.Empty;

    /// <summary><c>iss</c> of every token; null: the public base URL.</summary>
    public string? Issuer { get; init; }

    /// <summary><c>Cache-Control: max-age</c> of <c>/.well-known/jwks.json</c>.</summary>
    public TimeSpan JwksMaxAge { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>How often a silo re-reads the key ring from the store.</summary>
    public TimeSpan KeyRefresh { get; init; } = TimeSpan.FromMinutes(1);

    /// <summary>A generated key is replaced after this long.</summary>
    public TimeSpan RotationInterval { get; init; } = TimeSpan.FromDays(30);

    /// <summary>A new key is published this long before it signs anything.</summary>
    public TimeSpan RotationLeadTime { get; init; } = TimeSpan.FromMinutes(15);

    /// <summary>Added to a retired key's publication: clocks of nodes and consumers differ a little.</summary>
    public TimeSpan ClockSkew { get; init; } = TimeSpan.FromMinutes(1);

    /// <summary>Algorithms whose keys are generated and kept in the store (templates without a key file).</summary>
    public ImmutableArray<string> GeneratedAlgorithms =>
        [.. Templates.Values.Where(t => t.KeySet is null).Select(t => t.Algorithm).Distinct().Order(StringComparer.Ordinal)];

    /// <summary>The longest token lifetime of a template signing with keys of <paramref name="algorithm"/>.</summary>
    public TimeSpan LongestTtl(string algorithm) =>
        Templates.Values.Where(t => t.KeySet is null && t.Algorithm == algorithm).Select(t => t.Ttl).DefaultIfEmpty(TimeSpan.Zero).Max();
}

/// <summary>One <c>session.whoami.tokenizer.templates.&lt;name&gt;</c>.</summary>
public sealed record TokenTemplate
{
    public required string Name { get; init; }

    /// <summary>Lifetime of a token: <c>exp = iat + ttl</c>.</summary>
    public TimeSpan Ttl { get; init; } = TimeSpan.FromMinutes(1);

    /// <summary><c>ES256</c> (default), <c>RS256</c> or <c>EdDSA</c> (Ed25519).</summary>
    public string Algorithm { get; init; } = TokenizerSettings.Es256;

    /// <summary><c>id</c> (the identity's id) or <c>external_id</c> for <c>sub</c>.</summary>
    public string SubjectSource { get; init; } = "id";

    /// <summary><c>aud</c>: none, one (a string) or several (an array).</summary>
    public ImmutableArray<string> Audience { get; init; } = [];

    /// <summary>Claim name to a path into the session's JSON (e.g. <c>identity.traits.email</c>).</summary>
    public ImmutableDictionary<string, string> Claims { get; init; } = ImmutableDictionary<string, string>.Empty;

    /// <summary>A private JWK set from <c>jwks_url</c> (file:// or base64://): its first key signs, all are published. Null: generated keys.</summary>
    public string? KeySet { get; init; }
}
