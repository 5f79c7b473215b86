using System.Net;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using OrleansSessions.Api.Configuration;
using OrleansSessions.Api.Sessions;
using OrleansSessions.Api.Tests.Infrastructure;
using OrleansSessions.Sessions;

namespace OrleansSessions.Api.Tests;

/// <summary>
/// Opened cookie values are kept so that a browser's next whoami skips the decryption: only values that opened,
/// each for at most <see cref="OpenedCookies.MaxAge"/>, at most <c>session:cookie:opened_cache_size</c> of them; a
/// kept value never outlives its session (revocation still answers 401).
/// </summary>
public sealed class OpenedCookiesTests
{
    [Fact]
    public async Task A_cookie_is_opened_once_garbage_is_never_kept_and_a_revoked_session_still_answers_401()
    {
        await using var node = await ServiceNode.StartAsync(new NodeOptions { ExtraArgs = ["--session:cookie:opened_cache_size=2"] });
        var opened = node.Service<OpenedCookies>();
        var first = await node.IssueBrowserSessionAsync();

        Assert.Equal(HttpStatusCode.OK, (await node.WhoamiAsync(first.CookieHeader)).Status);
        Assert.Equal(1, opened.Count);
        Assert.Equal(HttpStatusCode.OK, (await node.WhoamiAsync(first.CookieHeader)).Status);
        Assert.Equal(1, opened.Count);

        Assert.Equal(HttpStatusCode.Unauthorized, (await node.WhoamiAsync(("Cookie", $"{ServiceNode.CookieName}=not-a-sealed-value"))).Status);
        Assert.Equal(1, opened.Count);

        // Past its age the value is opened again (and still answers).
        node.Clock.Advance(OpenedCookies.MaxAge);
        Assert.Equal(HttpStatusCode.OK, (await node.WhoamiAsync(first.CookieHeader)).Status);
        Assert.Equal(1, opened.Count);

        // Full: it starts over.
        var second = await node.IssueBrowserSessionAsync();
        Assert.Equal(HttpStatusCode.OK, (await node.WhoamiAsync(second.CookieHeader)).Status);
        Assert.Equal(2, opened.Count);
        var third = await node.IssueBrowserSessionAsync();
        Assert.Equal(HttpStatusCode.OK, (await node.WhoamiAsync(third.CookieHeader)).Status);
        Assert.Equal(1, opened.Count);
        Assert.Equal(HttpStatusCode.OK, (await node.WhoamiAsync(first.CookieHeader)).Status);

        // Kept or not, the session grain decides: a revoked session's cookie answers 401.
        Assert.Equal(HttpStatusCode.NoContent, (await node.SendForAnswerAsync(HttpMethod.Delete, node.Admin($"/admin/sessions/{first.SessionId}"))).Status);
        Assert.Equal(HttpStatusCode.Unauthorized, (await node.WhoamiAsync(first.CookieHeader)).Status);
    }

    [Fact]
    public void An_entry_is_found_until_its_age_reaches_the_limit()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var opened = new OpenedCookies(Options.Create(new SessionSettings()), clock);
        var credential = new PresentedCredential("key", SessionChannel.Browser, "token", clock.GetUtcNow().AddHours(1));
        opened.Add("value", credential);

        clock.Advance(OpenedCookies.MaxAge - TimeSpan.FromMilliseconds(1));
        Assert.True(opened.TryGet("value", out var found));
        Assert.Equal(credential, found);
        Assert.False(opened.TryGet("other value", out _));

        clock.Advance(TimeSpan.FromMilliseconds(1));
        Assert.False(opened.TryGet("value", out _));
    }

    [Fact]
    public void A_size_of_zero_keeps_nothing()
    {
        var settings = new SessionSettings();
        settings.Cookie.OpenedCacheSize = 0;
        var opened = new OpenedCookies(Options.Create(settings), TimeProvider.System);
        opened.Add("value", new PresentedCredential("key", SessionChannel.Browser, "token", DateTimeOffset.UtcNow));
        Assert.False(opened.TryGet("value", out _));
        Assert.Equal(0, opened.Count);
    }
}
