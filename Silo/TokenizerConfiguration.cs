using System.Collections.Immutable;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using OrleansSessions.Api.Configuration;
using OrleansSessions.Tokenizer;

namespace OrleansSessions.Silo;

/// <summary>
/// Reads <c>session:whoami:tokenizer</c> (Kratos's <c>session.whoami.tokenizer</c>, extended with key
/// generation, rotation and a declarative claims mapping). Mistakes stop start-up with the key that is wrong.
/// </summary>
public static class TokenizerConfiguration
{
    public const string Section = "session:whoami:tokenizer";

    public static TokenizerSettings Read(IConfiguration configuration)
    {
        var section = configuration.GetSection(Section);
        var defaults = new TokenizerSettings();
        var templates = ImmutableDictionary.CreateBuilder<string, TokenTemplate>(StringComparer.Ordinal);
        foreach (var child in section.GetSection("templates").GetChildren())
            templates[child.Key] = ReadTemplate(child);
        var settings = new TokenizerSettings
        {
            Templates = templates.ToImmutable(),
            Issuer = section["issuer"] is { Length: > 0 } issuer ? issuer : null,
            JwksMaxAge = Duration(section, "jwks_max_age", defaults.JwksMaxAge),
            KeyRefresh = Duration(section, "key_refresh", defaults.KeyRefresh),
            RotationInterval = Duration(section, "rotation:interval", defaults.RotationInterval),
            RotationLeadTime = Duration(section, "rotation:lead_time", defaults.RotationLeadTime),
            ClockSkew = Duration(section, "clock_skew", defaults.ClockSkew),
        };
        if (settings.KeyRefresh <= TimeSpan.Zero || settings.RotationInterval <= TimeSpan.Zero)
            throw new InvalidOperationException($"{Section}: key_refresh and rotation:interval must be positive.");
        // Every silo reads the ring at least twice before a new key signs, and every consumer refetches the JWKS after
        // it appeared there (a key written by `rotate-keys` reaches the JWKS within one key_refresh).
        if (settings.RotationLeadTime < 2 * settings.KeyRefresh || settings.RotationLeadTime < settings.KeyRefresh + settings.JwksMaxAge)
            throw new InvalidOperationException($"{Section}:rotation:lead_time ({settings.RotationLeadTime}) must be at least twice "
                + $"key_refresh ({settings.KeyRefresh}) and at least key_refresh + jwks_max_age ({settings.JwksMaxAge}), so that every "
                + "node and every consumer knows a new key before it signs.");
        if (settings.RotationInterval <= settings.RotationLeadTime)
            throw new InvalidOperationException($"{Section}:rotation:interval must be longer than rotation:lead_time.");
        return settings;
    }

    private static TokenTemplate ReadTemplate(IConfigurationSection section)
    {
        var key = $"{Section}:templates:{section.Key}";
        var algorithm = section["algorithm"] is { Length: > 0 } a ? a : TokenizerSettings.Es256;
        var canonical = TokenizerSettings.Algorithms.FirstOrDefault(x => string.Equals(x, algorithm, StringComparison.OrdinalIgnoreCase))
            ?? throw new InvalidOperationException($"{key}:algorithm '{algorithm}' is not supported; use ES256, RS256 or EdDSA.");
        var subject = section["subject_source"] is { Length: > 0 } s ? s : "id";
        if (subject is not ("id" or "external_id"))
            throw new InvalidOperationException($"{key}:subject_source '{subject}' is not supported; use 'id' or 'external_id'.");
        var ttl = Duration(section, "ttl", TimeSpan.FromMinutes(1), key);
        if (ttl <= TimeSpan.Zero)
            throw new InvalidOperationException($"{key}:ttl must be positive.");
        // audience: one string, or a list.
        ImmutableArray<string> audience = section["audience"] is { Length: > 0 } one
            ? [one]
            : [.. section.GetSection("audience").GetChildren().Select(c => c.Value).OfType<string>().Where(v => v.Length > 0)];
        var claims = ImmutableDictionary.CreateBuilder<string, string>(StringComparer.Ordinal);
        foreach (var claim in section.GetSection("claims").GetChildren())
        {
            if (TokenizerSettings.RegisteredClaims.Contains(claim.Key))
                throw new InvalidOperationException($"{key}:claims:{claim.Key}: the tokenizer sets '{claim.Key}' itself.");
            if (claim.Value is not { Length: > 0 } path || path.Split('.').Any(p => p.Length == 0))
                throw new InvalidOperationException($"{key}:claims:{claim.Key} must be a dot path into the session, e.g. identity.traits.email.");
            claims[claim.Key] = path;
        }
        return new TokenTemplate
        {
            Name = section.Key,
            Ttl = ttl,
            Algorithm = canonical,
            SubjectSource = subject,
            Audience = audience,
            Claims = claims.ToImmutable(),
            KeySet = section["jwks_url"] is { Length: > 0 } url ? CheckKeySet(ReadKeySet(url, key), canonical, key) : null,
        };
    }

    /// <summary>
    /// A configured key set must sign: a JSON object with "keys", each a private key we can use, the first of the
    /// template's algorithm. Checked here, so a bad set stops start-up naming its key instead of failing calls later.
    /// </summary>
    private static string CheckKeySet(string json, string algorithm, string key)
    {
        try
        {
            using var document = JsonDocument.Parse(json);
            if (!document.RootElement.TryGetProperty("keys", out var keys) || keys.ValueKind != JsonValueKind.Array || keys.GetArrayLength() == 0)
                throw new FormatException("it holds no \"keys\"");
            var first = true;
            foreach (var jwk in keys.EnumerateArray())
            {
                using var signing = SigningKey.FromPrivateJwk(jwk);
                if (first && signing.Algorithm != algorithm)
                    throw new FormatException($"its first key ({signing.Kid}) is {signing.Algorithm}, the template's algorithm is {algorithm}");
                first = false;
            }
            return json;
        }
        catch (Exception e) when (e is JsonException or FormatException or CryptographicException or ArgumentException)
        {
            throw new InvalidOperationException($"{key}:jwks_url: not a private key set this template can sign with: {e.Message}.");
        }
    }

    /// <summary>A private JWK set from <c>file://</c> or <c>base64://</c>, as Kratos's <c>jwks_url</c>.</summary>
    private static string ReadKeySet(string url, string key)
    {
        if (url.StartsWith("base64://", StringComparison.Ordinal))
        {
            try
            {
                return Encoding.UTF8.GetString(Convert.FromBase64String(url["base64://".Length..]));
            }
            catch (FormatException)
            {
                throw new InvalidOperationException($"{key}:jwks_url: the base64:// value is not base64.");
            }
        }
        if (url.StartsWith("file://", StringComparison.Ordinal))
        {
            var path = new Uri(url).LocalPath;
            return File.Exists(path) ? File.ReadAllText(path) : throw new InvalidOperationException($"{key}:jwks_url: no file {path}.");
        }
        throw new InvalidOperationException($"{key}:jwks_url must be file:// or base64:// (a private key set; leave it out to have keys generated and rotated).");
    }

    private static TimeSpan Duration(IConfigurationSection section, string name, TimeSpan fallback, string? key = null) =>
        section[name] is { Length: > 0 } value ? GoDuration.Parse(value, $"{key ?? Section}:{name}") : fallback;
}
