using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace OrleansSessions.Api.Tests.Infrastructure;

/// <summary>A self-signed RSA certificate for 127.0.0.1, written to a folder as PEM files (certificate and private key).</summary>
public sealed record TestCertificate(string CertPath, string KeyPath, byte[] Sha256)
{
    public static async Task<TestCertificate> WriteAsync(string directory, string name = "tls")
    {
        Directory.CreateDirectory(directory);
        using var rsa = RSA.Create(2048);
        var request = new CertificateRequest($"CN=orleans-sessions-test-{name}", rsa, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        var names = new SubjectAlternativeNameBuilder();
        names.AddIpAddress(IPAddress.Loopback);
        request.CertificateExtensions.Add(names.Build());
        using var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1));
        var written = new TestCertificate(Path.Combine(directory, $"{name}.crt"), Path.Combine(directory, $"{name}.key"),
            certificate.GetCertHash(HashAlgorithmName.SHA256));
        await File.WriteAllTextAsync(written.CertPath, certificate.ExportCertificatePem());
        await File.WriteAllTextAsync(written.KeyPath, rsa.ExportPkcs8PrivateKeyPem());
        return written;
    }

    /// <summary>The arguments that configure this certificate as the source under <paramref name="key"/> (<c>serve:public:tls</c>, say).</summary>
    public string[] Args(string key) => [$"--{key}:cert:path={CertPath}", $"--{key}:key:path={KeyPath}"];
}
