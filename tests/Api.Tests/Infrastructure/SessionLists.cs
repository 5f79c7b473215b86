using System.Net;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace OrleansSessions.Api.Tests.Infrastructure;

/// <summary>Calls of the session listing endpoints and reads of their <c>Link</c> headers.</summary>
public static partial class SessionLists
{
    public static Task<Answer> ListMySessionsAsync(this ServiceNode node, string query, params (string, string)[] credentials) =>
        node.SendAsync(HttpMethod.Get, node.Public("/sessions" + query), null, credentials);

    public static Task<Answer> ListSessionsAsync(this ServiceNode node, string query = "") =>
        node.SendForAnswerAsync(HttpMethod.Get, node.Admin("/admin/sessions" + query));

    public static Task<Answer> GetSessionAsync(this ServiceNode node, Guid sessionId, string query = "") =>
        node.SendForAnswerAsync(HttpMethod.Get, node.Admin($"/admin/sessions/{sessionId}{query}"));

    public static Task<Answer> ExtendSessionAsync(this ServiceNode node, string sessionId) =>
        node.SendForAnswerAsync(HttpMethod.Patch, node.Admin($"/admin/sessions/{sessionId}/extend"));

    public static Task<Answer> ListIdentitySessionsAsync(this ServiceNode node, Guid identityId, string query = "") =>
        node.SendForAnswerAsync(HttpMethod.Get, node.Admin($"/admin/identities/{identityId}/sessions{query}"));

    public static Task<Answer> DeleteIdentitySessionsAsync(this ServiceNode node, string identityId) =>
        node.SendForAnswerAsync(HttpMethod.Delete, node.Admin($"/admin/identities/{identityId}/sessions"));

    /// <summary>Asserts 200 with a JSON array; returns the array's elements.</summary>
    public static JsonElement[] Array(Answer answer)
    {
        Assert.True(answer.Status == HttpStatusCode.OK, $"expected 200, got {answer}");
        Assert.Equal(JsonValueKind.Array, answer.Json.ValueKind);
        return [.. answer.Json.EnumerateArray()];
    }

    public static Guid[] Ids(Answer answer) => [.. Array(answer).Select(s => s.GetProperty("id").GetGuid())];

    /// <summary>The links of a <c>Link</c> header by relation, as path and query.</summary>
    public static Dictionary<string, string> Links(Answer answer)
    {
        var header = answer.Header("Link");
        Assert.False(string.IsNullOrEmpty(header), $"no Link header: {answer}");
        var links = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var part in header.Split(','))
        {
            var match = LinkPattern().Match(part.Trim());
            Assert.True(match.Success, $"not a link: '{part}' in '{header}'");
            Assert.True(links.TryAdd(match.Groups["rel"].Value, match.Groups["target"].Value), $"rel twice in '{header}'");
        }
        return links;
    }

    /// <summary>
    /// Follows <c>rel="next"</c> from the first answer until there is none; returns every page in order.
    /// A walk that does not end within <paramref name="maxPages"/> fails.
    /// </summary>
    public static async Task<List<Answer>> WalkAsync(Answer first, Func<string, Task<Answer>> get, int maxPages = 1000)
    {
        var pages = new List<Answer> { first };
        while (Links(pages[^1]).TryGetValue("next", out var next))
        {
            Assert.True(pages.Count < maxPages, $"more than {maxPages} pages");
            pages.Add(await get(next));
        }
        return pages;
    }

    [GeneratedRegex("""^<(?<target>[^>]*)>; rel="(?<rel>[a-z]+)"$""")]
    private static partial Regex LinkPattern();
}
