using System.Net;
using System.Text.RegularExpressions;
using OrleansSessions.Api.Pages;

namespace OrleansSessions.Api.Tests.Infrastructure;

/// <summary>Requests to the pages as a browser without script sends them, and the anti-forgery token of a page's forms.</summary>
public static partial class PageRequests
{
    public const string Chrome = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";

    public static Task<Answer> GetPageAsync(this ServiceNode node, Uri url, string? cookies = null) =>
        node.SendAsync(HttpMethod.Get, url, null, Browser(cookies));

    public static Task<Answer> PostFormAsync(this ServiceNode node, Uri url, string? cookies, params (string Name, string Value)[] fields) =>
        node.SendAsync(HttpMethod.Post, url, LoginHelpers.Form(fields), Browser(cookies));

    private static (string, string)[] Browser(string? cookies) =>
        cookies is null
            ? [("Accept", "text/html"), ("User-Agent", Chrome)]
            : [("Accept", "text/html"), ("User-Agent", Chrome), ("Cookie", cookies)];

    /// <summary>The anti-forgery cookie a page set and the token its forms carry.</summary>
    public static (string Cookie, string Token) FormToken(Answer page)
    {
        var cookie = LoginHelpers.CookiePair(Assert.Single(page.SetCookies(), c => c.StartsWith(PageServices.AntiforgeryCookie + "=", StringComparison.Ordinal)));
        var token = TokenField().Match(page.Body);
        Assert.True(token.Success, "the page has no form with an anti-forgery token");
        return (cookie, WebUtility.HtmlDecode(token.Groups[1].Value));
    }

    [GeneratedRegex("name=\"anti_forgery_token\" value=\"([^\"]+)\"")]
    private static partial Regex TokenField();
}
