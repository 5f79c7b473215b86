using Microsoft.Extensions.Logging;
using OrleansSessions.Api.Tests.Infrastructure;

namespace OrleansSessions.Api.Tests;

/// <summary>
/// Kestrel rejects a malformed request before any of our code sees it, and at Debug it logs why, quoting the
/// offending line: a broken session-token or cookie header would put the credential in the log. The node keeps
/// Kestrel's bad-request category above Debug whatever the configured levels, so not even Debug logging writes it.
/// </summary>
public sealed class BadRequestLogTests
{
    [Fact]
    public async Task A_malformed_credential_header_is_refused_and_never_logged_even_at_debug()
    {
        var log = new LogCapture();
        await using var node = await ServiceNode.StartAsync(new NodeOptions
        {
            ConfigureServices = log.AddTo,
            ExtraArgs =
            [
                "--Logging:LogLevel:Default=Debug", "--Logging:LogLevel:Microsoft=Debug", "--Logging:LogLevel:Microsoft.AspNetCore=Debug",
                "--Logging:LogLevel:Microsoft.AspNetCore.Server.Kestrel.BadRequests=Debug", "--Logging:LogLevel:Orleans=Warning",
            ],
        });
        const string token = "ory_st_NeverInALogNeverInALogNeverInALog";
        const string cookie = "ory_kratos_session=NeverInALogEitherNeverInALogEither";
        var Close = RawHttp.Ascii("Connection: close");
        byte[][] requests =
        [
            // No colon: an invalid header line.
            RawHttp.Request("GET /sessions/whoami HTTP/1.1", [RawHttp.Ascii("Host: localhost"), RawHttp.Ascii($"X-Session-Token {token}"), Close]),
            // A NUL inside the value.
            RawHttp.Request("GET /sessions/whoami HTTP/1.1", [RawHttp.Ascii("Host: localhost"), RawHttp.Ascii($"Cookie: {cookie}\0x"), Close]),
            // A broken request line carrying the token in its query.
            RawHttp.Request($"GET /sessions/whoami?token={token} HTTP/1.1 extra", [RawHttp.Ascii("Host: localhost"), Close]),
        ];
        foreach (var request in requests)
            Assert.Equal(400, (await RawHttp.SendAsync(node.PublicUrl, request)).Status);

        // Kestrel's Debug is on (it logged its connections at Debug meanwhile), and none of it names either credential.
        Assert.Contains(log.Entries, e => e.Level == LogLevel.Debug && e.Category.StartsWith("Microsoft.AspNetCore.Server.Kestrel", StringComparison.Ordinal));
        Assert.DoesNotContain(log.Entries, e => e.Category.StartsWith("Microsoft.AspNetCore.Server.Kestrel.BadRequests", StringComparison.Ordinal)
            && e.Level < LogLevel.Information);
        foreach (var secret in new[] { "NeverInALog", token, cookie })
            Assert.DoesNotContain(log.Entries, e => e.Message.Contains(secret, StringComparison.Ordinal) || (e.Exception?.ToString().Contains(secret, StringComparison.Ordinal) ?? false));
    }
}
