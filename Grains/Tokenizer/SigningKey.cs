using System.Buffers;
using System.Security.Cryptography;
using System.Text.Json;
using NSec.Cryptography;

namespace OrleansSessions.Tokenizer;

/// <summary>
/// One JWS signing key: ES256 (P-256), RS256 (RSA 2048) or EdDSA (Ed25519). Knows its JWK forms:
/// the private one (stored, or read from a configured key set) and the public one (published).
/// </summary>
public abstract class SigningKey : IDisposable
{
    private protected SigningKey(string kid, string algorithm)
    {
        Kid = kid;
        Algorithm = algorithm;
    }

    public string Kid { get; }

    public string Algorithm { get; }

    /// <summary>The JWS signature of <paramref name="data"/> (for ES256 the fixed-size r‖s form JWS uses).</summary>
    public abstract byte[] Sign(ReadOnlySpan<byte> data);

    /// <summary>The public JWK: <c>kid</c>, <c>alg</c>, <c>use</c> and the public parameters only.</summary>
    public void WritePublicJwk(Utf8JsonWriter w)
    {
        w.WriteStartObject();
        w.WriteString("kid", Kid);
        w.WriteString("alg", Algorithm);
        w.WriteString("use", "sig");
        WriteKeyParameters(w, includePrivate: false);
        w.WriteEndObject();
    }

    /// <summary>The private JWK, for the store.</summary>
    public string ExportPrivateJwk()
    {
        var buffer = new ArrayBufferWriter<byte>(2048);
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteString("kid", Kid);
            w.WriteString("alg", Algorithm);
            w.WriteString("use", "sig");
            WriteKeyParameters(w, includePrivate: true);
            w.WriteEndObject();
        }
        return System.Text.Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    private protected abstract void WriteKeyParameters(Utf8JsonWriter w, bool includePrivate);

    public abstract void Dispose();

    /// <summary>A fresh key with a random id.</summary>
    public static SigningKey Generate(string algorithm)
    {
        var kid = Base64Url(RandomNumberGenerator.GetBytes(16));
        return algorithm switch
        {
            TokenizerSettings.Es256 => new EcKey(kid, ECDsa.Create(ECCurve.NamedCurves.nistP256)),
            TokenizerSettings.Rs256 => new RsaKey(kid, RSA.Create(2048)),
            TokenizerSettings.EdDsa => new Ed25519Key(kid, Key.Create(SignatureAlgorithm.Ed25519, Exportable)),
            _ => throw new ArgumentException($"Unsupported signing algorithm '{algorithm}'.", nameof(algorithm)),
        };
    }

    /// <summary>
    /// A key from a private JWK (ours, or one of a configured set). The algorithm is the JWK's <c>alg</c>, or
    /// follows from its type (EC P-256 → ES256, RSA → RS256, OKP Ed25519 → EdDSA); <c>kid</c> is required.
    /// </summary>
    public static SigningKey FromPrivateJwk(JsonElement jwk)
    {
        var kid = Text(jwk, "kid") ?? throw new FormatException("A signing JWK needs a \"kid\".");
        var kty = Text(jwk, "kty") ?? throw new FormatException($"JWK {kid} has no \"kty\".");
        var alg = Text(jwk, "alg");
        switch (kty)
        {
            case "EC" when Text(jwk, "crv") == "P-256" && alg is null or TokenizerSettings.Es256:
                var ec = ECDsa.Create(new ECParameters
                {
                    Curve = ECCurve.NamedCurves.nistP256,
                    Q = new ECPoint { X = Bytes(jwk, "x", kid), Y = Bytes(jwk, "y", kid) },
                    D = Bytes(jwk, "d", kid),
                });
                return new EcKey(kid, ec);
            case "RSA" when alg is null or TokenizerSettings.Rs256:
                var rsa = RSA.Create();
                rsa.ImportParameters(new RSAParameters
                {
                    Modulus = Bytes(jwk, "n", kid), Exponent = Bytes(jwk, "e", kid), D = Bytes(jwk, "d", kid),
                    P = Bytes(jwk, "p", kid), Q = Bytes(jwk, "q", kid), DP = Bytes(jwk, "dp", kid),
                    DQ = Bytes(jwk, "dq", kid), InverseQ = Bytes(jwk, "qi", kid),
                });
                return new RsaKey(kid, rsa);
            case "OKP" when Text(jwk, "crv") == "Ed25519" && alg is null or TokenizerSettings.EdDsa:
                return new Ed25519Key(kid, Key.Import(SignatureAlgorithm.Ed25519, Bytes(jwk, "d", kid), KeyBlobFormat.RawPrivateKey, Exportable));
            default:
                throw new FormatException($"JWK {kid}: only EC P-256 (ES256), RSA (RS256) and OKP Ed25519 (EdDSA) private keys can sign.");
        }
    }

    public static string Base64Url(ReadOnlySpan<byte> bytes) => System.Buffers.Text.Base64Url.EncodeToString(bytes);

    private static KeyCreationParameters Exportable => new() { ExportPolicy = KeyExportPolicies.AllowPlaintextExport };

    private static string? Text(JsonElement jwk, string name) =>
        jwk.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;

    private static byte[] Bytes(JsonElement jwk, string name, string kid) =>
        Text(jwk, name) is { } text
            ? System.Buffers.Text.Base64Url.DecodeFromChars(text)
            : throw new FormatException($"JWK {kid} has no \"{name}\" (a signing key needs its private part).");

    private sealed class EcKey(string kid, ECDsa key) : SigningKey(kid, TokenizerSettings.Es256)
    {
        private readonly Lock _gate = new();

        public override byte[] Sign(ReadOnlySpan<byte> data)
        {
            lock (_gate)
                return key.SignData(data, HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation);
        }

        private protected override void WriteKeyParameters(Utf8JsonWriter w, bool includePrivate)
        {
            var p = key.ExportParameters(includePrivate);
            w.WriteString("kty", "EC");
            w.WriteString("crv", "P-256");
            w.WriteString("x", Base64Url(p.Q.X));
            w.WriteString("y", Base64Url(p.Q.Y));
            if (includePrivate)
                w.WriteString("d", Base64Url(p.D));
        }

        public override void Dispose() => key.Dispose();
    }

    private sealed class RsaKey(string kid, RSA key) : SigningKey(kid, TokenizerSettings.Rs256)
    {
        private readonly Lock _gate = new();

        public override byte[] Sign(ReadOnlySpan<byte> data)
        {
            lock (_gate)
                return key.SignData(data.ToArray(), HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        }

        private protected override void WriteKeyParameters(Utf8JsonWriter w, bool includePrivate)
        {
            var p = key.ExportParameters(includePrivate);
            w.WriteString("kty", "RSA");
            w.WriteString("n", Base64Url(p.Modulus));
            w.WriteString("e", Base64Url(p.Exponent));
            if (!includePrivate)
                return;
            w.WriteString("d", Base64Url(p.D));
            w.WriteString("p", Base64Url(p.P));
            w.WriteString("q", Base64Url(p.Q));
            w.WriteString("dp", Base64Url(p.DP));
            w.WriteString("dq", Base64Url(p.DQ));
            w.WriteString("qi", Base64Url(p.InverseQ));
        }

        public override void Dispose() => key.Dispose();
    }

    private sealed class Ed25519Key(string kid, Key key) : SigningKey(kid, TokenizerSettings.EdDsa)
    {
        public override byte[] Sign(ReadOnlySpan<byte> data) => SignatureAlgorithm.Ed25519.Sign(key, data);

        private protected override void WriteKeyParameters(Utf8JsonWriter w, bool includePrivate)
        {
            w.WriteString("kty", "OKP");
            w.WriteString("crv", "Ed25519");
            w.WriteString("x", Base64Url(key.PublicKey.Export(KeyBlobFormat.RawPublicKey)));
            if (includePrivate)
                w.WriteString("d", Base64Url(key.Export(KeyBlobFormat.RawPrivateKey)));
        }

        public override void Dispose() => key.Dispose();
    }
}
