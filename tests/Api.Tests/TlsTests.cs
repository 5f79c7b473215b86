using System.Net;
using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using OrleansSessions.Api.Tests.Infrastructure;

namespace OrleansSessions.Api.Tests;

/// <summary>HTTPS on both listeners from a configured certificate (here a self-signed one, as PEM files).</summary>
public sealed class TlsTests
{
    [Fact]
    public async Task Both_listeners_serve_https_with_the_configured_certificate()
    {
        var certificate = await TestCertificate.WriteAsync(ServiceNode.NewDataDirectory());
        var thumbprint = certificate.Sha256;

        await using var node = await ServiceNode.StartAsync(new NodeOptions
        {
            Dev = false,
            ExtraArgs = [.. certificate.Args("serve:public:tls"), .. certificate.Args("serve:admin:tls")],
        });
        Assert.Equal("https", node.PublicUrl.Scheme);
        Assert.Equal("https", node.AdminUrl.Scheme);

        // A client that trusts exactly this certificate.
        X509Certificate? presented = null;
        using var https = new HttpClient(new SocketsHttpHandler
        {
            SslOptions =
            {
                RemoteCertificateValidationCallback = (_, cert, _, _) =>
                {
                    presented = cert;
                    return cert is not null && cert.GetCertHash(HashAlgorithmName.SHA256).AsSpan().SequenceEqual(thumbprint);
                },
            },
        });
        https.DefaultRequestHeaders.Authorization = new("Bearer", node.AdminKey);

        Assert.Equal(HttpStatusCode.OK, (await https.GetAsync(new Uri(node.PublicUrl, "/health/ready"))).StatusCode);
        Assert.NotNull(presented);
        var identity = await https.PostAsync(new Uri(node.AdminUrl, "/admin/identities"),
            new StringContent("""{"schema_id":"default","traits":{"email":"tls@example.com"}}""", Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.Created, identity.StatusCode);
        var id = System.Text.Json.JsonDocument.Parse(await identity.Content.ReadAsStringAsync()).RootElement.GetProperty("id").GetGuid();
        var issued = await https.PostAsync(new Uri(node.AdminUrl, $"/admin/identities/{id}/sessions"),
            new StringContent("""{"channel":"api"}""", Encoding.UTF8, "application/json"));
        var token = System.Text.Json.JsonDocument.Parse(await issued.Content.ReadAsStringAsync()).RootElement.GetProperty("session_token").GetString();
        using var whoami = new HttpRequestMessage(HttpMethod.Get, new Uri(node.PublicUrl, "/sessions/whoami"));
        whoami.Headers.Add("X-Session-Token", token);
        Assert.Equal(HttpStatusCode.OK, (await https.SendAsync(whoami)).StatusCode);

        // The admin page calls its own admin API over HTTPS, trusting its own (self-signed) certificate only.
        using var page = new HttpRequestMessage(HttpMethod.Get, new Uri(node.AdminUrl, "/admin/ui?q=tls%40example.com"));
        page.Headers.Authorization = new("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes("support:" + node.AdminKey)));
        var found = await https.SendAsync(page);
        Assert.Equal(HttpStatusCode.OK, found.StatusCode);
        Assert.Contains($"/admin/ui/identities/{id}", await found.Content.ReadAsStringAsync());

        // Plain HTTP on the HTTPS port gets no answer of the API.
        using var plain = new HttpClient();
        var http = new UriBuilder(node.PublicUrl) { Scheme = "http" }.Uri;
        var failure = await Record.ExceptionAsync(async () =>
        {
            using var answer = await plain.GetAsync(new Uri(http, "/health/ready"));
            Assert.NotEqual(HttpStatusCode.OK, answer.StatusCode);
        });
        Assert.True(failure is null or HttpRequestException, $"plain HTTP: {failure}");
    }
}
