using System.Security.Cryptography.X509Certificates;

namespace OrleansSessions.Api.Configuration;

/// <summary>The certificates of the two listeners (<c>serve:public:tls</c>, <c>serve:admin:tls</c>), loaded once at start-up (null: plain HTTP).</summary>
public sealed record ListenerCertificates(X509Certificate2? Public, X509Certificate2? Admin)
{
    public static readonly ListenerCertificates None = new(null, null);

    /// <summary>Loads what <paramref name="serve"/> configures; a missing file or key stops start-up with the key's name.</summary>
    public static ListenerCertificates Load(ServeOptions serve) => new(
        serve.Public.Tls.IsEnabled ? serve.Public.Tls.Load("serve:public:tls") : null,
        serve.Admin.Tls.IsEnabled ? serve.Admin.Tls.Load("serve:admin:tls") : null);
}
