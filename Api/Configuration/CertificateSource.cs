using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.Configuration;

namespace OrleansSessions.Api.Configuration;

/// <summary>
/// Where a certificate with its private key comes from: PEM files (Kratos's <c>cert.path</c> and <c>key.path</c>), a
/// PKCS#12 file, or the machine's certificate store. One shape for every setting that needs one (the listeners'
/// <c>serve:*:tls</c>, the key encryption of <c>secrets:key_encryption</c>), so an operator configures them alike.
/// </summary>
public sealed class CertificateSource
{
    public PemFile Cert { get; set; } = new();

    public PemFile Key { get; set; } = new();

    /// <summary>A PKCS#12 (.pfx) file holding certificate and key, and its password.</summary>
    [ConfigurationKeyName("pfx_path")]
    public string? PfxPath { get; set; }

    [ConfigurationKeyName("pfx_password")]
    public string? PfxPassword { get; set; }

    /// <summary>The subject name of a certificate in the store (<see cref="StoreName"/> of <see cref="StoreLocation"/>).</summary>
    [ConfigurationKeyName("store_subject")]
    public string? StoreSubject { get; set; }

    [ConfigurationKeyName("store_name")]
    public StoreName StoreName { get; set; } = StoreName.My;

    [ConfigurationKeyName("store_location")]
    public StoreLocation StoreLocation { get; set; } = StoreLocation.CurrentUser;

    public bool IsEnabled => Cert.Path is { Length: > 0 } || PfxPath is { Length: > 0 } || StoreSubject is { Length: > 0 };

    /// <summary>
    /// Loads the certificate with its private key; a missing file or key stops start-up naming <paramref name="key"/>,
    /// the configuration path of this source (<c>serve:public:tls</c>, say).
    /// </summary>
    public X509Certificate2 Load(string key)
    {
        X509Certificate2 certificate;
        if (Cert.Path is { Length: > 0 } certPath)
        {
            if (Key.Path is not { Length: > 0 } keyPath)
                throw Invalid(key, $"{key}:cert:path needs {key}:key:path.");
            certificate = X509Certificate2.CreateFromPemFile(certPath, keyPath);
        }
        else if (PfxPath is { Length: > 0 } pfx)
        {
            certificate = X509CertificateLoader.LoadPkcs12FromFile(pfx, PfxPassword);
        }
        else
        {
            using var store = new X509Store(StoreName, StoreLocation);
            store.Open(OpenFlags.ReadOnly);
            certificate = store.Certificates.Find(X509FindType.FindBySubjectName, StoreSubject!, validOnly: false)
                .OfType<X509Certificate2>().Where(c => c.HasPrivateKey).OrderByDescending(c => c.NotAfter).FirstOrDefault()
                ?? throw Invalid(key, $"No certificate with a private key and subject '{StoreSubject}' in {StoreLocation}/{StoreName} ({key}:store_subject).");
        }
        if (!certificate.HasPrivateKey)
            throw Invalid(key, $"The certificate of {key} has no private key.");
        return certificate;
    }

    public static OptionsValidationException Invalid(string key, string message) => new(key, typeof(CertificateSource), [message]);
}

public sealed class PemFile
{
    public string? Path { get; set; }
}
