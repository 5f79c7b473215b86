using System.Collections.Immutable;
using System.Security.Cryptography.X509Certificates;
using OrleansSessions.Api.Configuration;

namespace OrleansSessions.Silo.KeyRing;

/// <summary>
/// <c>secrets:key_encryption</c>: the certificate the key ring is encrypted to at rest (<see cref="Certificate"/>, the
/// same shape as a listener's <c>tls</c>), and the ones it was encrypted to before (<see cref="Previous"/>), which still
/// decrypt during a rotation. Off unless a certificate is set.
/// </summary>
public sealed class KeyEncryptionSettings
{
    public const string Section = "secrets:key_encryption";

    public CertificateSource Certificate { get; set; } = new();

    public List<CertificateSource> Previous { get; set; } = [];

    /// <summary>The loaded certificates, or null when key encryption is off; a certificate that cannot serve stops start-up naming its key.</summary>
    public static KeyEncryption? Read(IConfiguration configuration)
    {
        var settings = configuration.GetSection(Section).Get<KeyEncryptionSettings>() ?? new KeyEncryptionSettings();
        if (!settings.Certificate.IsEnabled)
        {
            if (settings.Previous.Count > 0)
                throw CertificateSource.Invalid(Section, $"{Section}:previous needs {Section}:certificate (the one new keys are encrypted to).");
            return null;
        }
        var current = Load(settings.Certificate, $"{Section}:certificate");
        var previous = settings.Previous.Select((source, i) => Load(source, $"{Section}:previous:{i}"));
        return new KeyEncryption(current, [.. previous]);
    }

    /// <summary>Data Protection encrypts to a certificate with RSA (XML Encryption's key transport); other keys cannot serve.</summary>
    private static X509Certificate2 Load(CertificateSource source, string key)
    {
        if (!source.IsEnabled)
            throw CertificateSource.Invalid(key, $"{key} names no certificate (cert:path and key:path, pfx_path, or store_subject).");
        var certificate = source.Load(key);
        using var rsa = certificate.GetRSAPrivateKey();
        return rsa is not null ? certificate : throw CertificateSource.Invalid(key, $"The certificate of {key} must have an RSA key.");
    }
}

/// <summary>Key encryption on: new keys are encrypted to <see cref="Certificate"/>; it and <see cref="Previous"/> decrypt.</summary>
public sealed record KeyEncryption(X509Certificate2 Certificate, ImmutableArray<X509Certificate2> Previous)
{
    public X509Certificate2[] Decrypting => [Certificate, .. Previous];
}
