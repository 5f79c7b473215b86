using System.Text.Json.Nodes;
using OrleansSessions.Api.Tests.Infrastructure;

namespace OrleansSessions.Api.Tests;

/// <summary>A session cookie named with the <c>__Host-</c> prefix: always Secure, on Path=/, without Domain.</summary>
public sealed class HostPrefixCookieTests
{
    [Fact]
    public async Task A_Host_prefixed_cookie_is_Secure_on_the_root_without_a_domain_and_opens()
    {
        // Dev mode, where a cookie is otherwise not Secure: the prefix wins.
        await using var node = await ServiceNode.StartAsync(new NodeOptions { Dev = true, ExtraArgs = ["--session:cookie:name=__Host-ory_session"] });
        var identity = await node.CreateIdentityAsync();
        var issued = await node.IssueAsync(identity, "browser");
        var header = Assert.Single(issued.SetCookies, c => c.StartsWith("__Host-ory_session=", StringComparison.Ordinal));
        var cookie = SetCookie.Parse(header);
        Assert.True(cookie.Attributes.ContainsKey("secure"), $"not Secure: {header}");
        Assert.Equal("/", cookie.Attributes["path"]);
        Assert.False(cookie.Attributes.ContainsKey("domain"));
        var answer = await node.WhoamiAsync(("Cookie", $"__Host-ory_session={cookie.Value}"));
        Assert.Equal(System.Net.HttpStatusCode.OK, answer.Status);
    }

    [Theory]
    [InlineData("--session:cookie:domain=example.com")]
    [InlineData("--session:cookie:path=/app")]
    [InlineData("--session:cookie:secure=false")]
    public async Task A_Host_prefixed_cookie_with_a_domain_a_path_or_without_Secure_does_not_start(string setting)
    {
        var directory = ServiceNode.NewDataDirectory();
        try
        {
            var failure = await Assert.ThrowsAsync<Microsoft.Extensions.Options.OptionsValidationException>(async () =>
                await ServiceNode.StartAsync(new NodeOptions { DataDirectory = directory, ExtraArgs = ["--session:cookie:name=__Host-s", setting] }));
            Assert.Contains("__Host-", failure.Message, StringComparison.Ordinal);
        }
        finally
        {
            ServiceNode.DeleteDirectory(directory);
        }
    }
}
