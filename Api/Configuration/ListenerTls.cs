using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.Configuration;

namespace OrleansSessions.Api.Configuration;

/// <summary>
/// <c>serve:public:tls</c> / <c>serve:admin:tls</c>: the listener's certificate, from PEM files (Kratos's
/// <c>tls.cert.path</c> and <c>tls.key.path</c>), a PKCS#12 file, or the machine's certificate store. None set: plain HTTP.
/// </summary>
public sealed class ListenerTls
{
    public TlsFile Cert { get; set; } = new();

    public TlsFile Key { get; set; } = new();

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

    /// <summary>Loads the certificate with its private key; a missing file or key stops start-up with the key's name.</summary>
    public X509Certificate2 Load(string section)
    {
        X509Certificate2 certificate;
        if (Cert.Path is { Length: > 0 } certPath)
        {
            if (Key.Path is not { Length: > 0 } keyPath)
                throw Invalid(section, $"{section}:tls:cert:path needs {section}:tls:key:path.");
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
                ?? throw Invalid(section, $"No certificate with a private key and subject '{StoreSubject}' in {StoreLocation}/{StoreName} ({section}:tls:store_subject).");
        }
        if (!certificate.HasPrivateKey)
            throw Invalid(section, $"The certificate of {section}:tls has no private key.");
        return certificate;
    }

    private static OptionsValidationException Invalid(string section, string message) =>
        new(section + ":tls", typeof(ListenerTls), [message]);
}

/// <summary>The certificates of the two listeners, loaded once at start-up (null: plain HTTP).</summary>
public sealed record ListenerCertificates(System.Security.Cryptography.X509Certificates.X509Certificate2? Public,
    System.Security.Cryptography.X509Certificates.X509Certificate2? Admin)
{
    public static readonly ListenerCertificates None = new(null, null);

    /// <summary>Loads what <paramref name="serve"/> configures; a missing file or key stops start-up with the key's name.</summary>
    public static ListenerCertificates Load(ServeOptions serve) => new(
        serve.Public.Tls.IsEnabled ? serve.Public.Tls.Load("serve:public") : null,
        serve.Admin.Tls.IsEnabled ? serve.Admin.Tls.Load("serve:admin") : null);
}

public sealed class TlsFile
{
    public string? Path { get; set; }
}
