using System.Collections.Concurrent;
using System.Net;
using Microsoft.AspNetCore.Http;
using OrleansSessions.Api.Sessions;
using OrleansSessions.Api.Tests.Infrastructure;
using OrleansSessions.Sessions;

namespace OrleansSessions.Api.Tests;

/// <summary>
/// Kratos's two paginations as the session listings speak them: the offset ("migration") pagination of
/// <c>GET /sessions</c> and <c>GET /admin/identities/{id}/sessions</c>, and the keyset pagination of
/// <c>GET /admin/sessions</c>, walked through their <c>Link</c> headers.
/// </summary>
public sealed class SessionPaginationTests(DevNodeFixture fixture) : IClassFixture<DevNodeFixture>
{
    private readonly ServiceNode _node = fixture.Node;

    private const string Token0 = "eyJvZmZzZXQiOiIwIiwidiI6Mn0";
    private const string Token50 = "eyJvZmZzZXQiOiI1MCIsInYiOjJ9";
    private const string Token100 = "eyJvZmZzZXQiOiIxMDAiLCJ2IjoyfQ";
    private const string Token200 = "eyJvZmZzZXQiOiIyMDAiLCJ2IjoyfQ";
    private const string Token250 = "eyJvZmZzZXQiOiIyNTAiLCJ2IjoyfQ";
    private const string TokenMinus50 = "eyJvZmZzZXQiOiItNTAiLCJ2IjoyfQ";

    private static string Link(string rel, int page, int size, string token, string path = "/sessions", string before = "") =>
        $"<{path}?{before}page={page}&page_size={size}&page_token={token}&per_page={size}>; rel=\"{rel}\"";

    private static DefaultHttpContext Request(string path, string query)
    {
        var context = new DefaultHttpContext();
        context.Request.Path = path;
        context.Request.QueryString = new QueryString(query);
        return context;
    }

    // ---- offset pagination: the headers, as ory/x writes them ----------------------------------------

    public static TheoryData<long, int, int, string> OffsetHeaderCases => new()
    {
        // At the end: first and prev.
        { 120, 2, 50, Link("first", 0, 50, Token0) + "," + Link("prev", 1, 50, Token50) },
        // At the start: next and last.
        { 120, 0, 50, Link("next", 1, 50, Token50) + "," + Link("last", 2, 50, Token100) },
        // In the middle: all four.
        { 300, 3, 50, Link("first", 0, 50, Token0) + "," + Link("next", 4, 50, Token200) + "," + Link("prev", 2, 50, Token100) + "," + Link("last", 5, 50, Token250) },
        // Everything on one page: a single first link sized to the total.
        { 5, 0, 50, Link("first", 0, 5, Token0) },
        { 50, 0, 50, Link("first", 0, 50, Token0) },
        // Nothing at all: ory/x's quirk, a next and a negative prev.
        { 0, 0, 50, Link("first", 0, 50, Token0) + "," + Link("next", 1, 50, Token50) + "," + Link("prev", -1, 50, TokenMinus50) },
    };

    [Theory]
    [MemberData(nameof(OffsetHeaderCases))]
    public void Offset_headers_match_ory_x(long total, int page, int perPage, string link)
    {
        var context = Request("/sessions", "");
        new OffsetPage(page, perPage).WriteHeaders(context, total);
        Assert.Equal(link, context.Response.Headers["Link"].ToString());
        Assert.Equal(total.ToString(System.Globalization.CultureInfo.InvariantCulture), context.Response.Headers["X-Total-Count"].ToString());
    }

    [Fact]
    public void Offset_links_keep_the_other_query_parameters_sorted_and_escaped()
    {
        var context = Request("/admin/identities/x/sessions", "?per_page=50&page=0&zeta=a b&active=true&alpha=%C3%A9%2C");
        new OffsetPage(0, 50).WriteHeaders(context, 120);
        Assert.Equal(
            "</admin/identities/x/sessions?active=true&alpha=%C3%A9%2C&page=1&page_size=50&page_token=" + Token50 + "&per_page=50&zeta=a+b>; rel=\"next\","
            + "</admin/identities/x/sessions?active=true&alpha=%C3%A9%2C&page=2&page_size=50&page_token=" + Token100 + "&per_page=50&zeta=a+b>; rel=\"last\"",
            context.Response.Headers["Link"].ToString());
    }

    public static TheoryData<string, int, int> OffsetParseCases => new()
    {
        { "", 0, 250 },
        { "?page_size=10&page_token=" + OffsetPage.EncodeToken(100), 10, 10 },
        { "?page_size=10&page_token=" + OffsetPage.EncodeToken(25), 2, 10 },
        { "?page_token=" + OffsetPage.EncodeToken(500), 2, 250 },
        { "?page_size=2000", 0, 1000 },
        { "?page_size=-1&page_token=" + OffsetPage.EncodeToken(-1), 0, 1 },
        { "?page_size=a&page=3", 0, 250 },
        { "?page_token=garbage&page=3&per_page=5", 0, 250 },
        { "?per_page=10&page=10", 10, 10 },
        { "?per_page=2000", 0, 1000 },
        { "?per_page=-1&page=-1", 0, 1 },
        { "?per_page=a&page=b", 0, 250 },
        // Go's ParseInt takes a sign but no space ("+" in a query is a space).
        { "?per_page=%207&page=%2B2", 2, 250 },
        { "?per_page=+7&page=+2", 0, 250 },
    };

    [Theory]
    [MemberData(nameof(OffsetParseCases))]
    public void Offset_parameters_fall_back_and_clamp_as_ory_x(string query, int page, int perPage)
    {
        Assert.Equal(new OffsetPage(page, perPage), OffsetPage.Parse(Request("/sessions", query).Request.Query));
    }

    // ---- keyset tokens -----------------------------------------------------------------------------

    [Fact]
    public void Keyset_tokens_round_trip_with_full_precision()
    {
        var cursor = new SessionCursor { Id = Guid.NewGuid(), CreatedAt = new DateTimeOffset(2025, 3, 4, 5, 6, 7, TimeSpan.Zero).AddTicks(1234560) };
        var query = Request("/admin/sessions", "?page_token=" + KeysetPage.Encode(cursor)).Request.Query;
        Assert.True(KeysetPage.TryParse(query, out var size, out var after, out var error), error?.ToString());
        Assert.Equal(KeysetPage.DefaultSize, size);
        Assert.Equal(cursor, after);
    }

    [Fact]
    public void The_first_page_token_is_kratos_sentinel_and_means_no_cursor()
    {
        Assert.Equal("aWQ9MDAwMDAwMDAtMDAwMC0wMDAwLTAwMDAtMDAwMDAwMDAwMDAwL2NyZWF0ZWRfYXQ9MjIwMC0xMi0zMSAyMzo1OTo1OQ", KeysetPage.Encode(KeysetPage.First));
        var query = Request("/admin/sessions", "?page_size=1000&page_token=" + KeysetPage.Encode(KeysetPage.First)).Request.Query;
        Assert.True(KeysetPage.TryParse(query, out var size, out var after, out _));
        Assert.Equal(1000, size);
        Assert.Null(after);
    }

    // ---- walking GET /sessions -----------------------------------------------------------------------

    /// <summary>An identity with the current session and <paramref name="others"/> more, a second apart; the others newest first.</summary>
    private async Task<(IssuedSession Current, List<Guid> OthersNewestFirst)> IdentityWithSessionsAsync(int others)
    {
        var identityId = await _node.CreateIdentityAsync();
        var current = await _node.IssueApiSessionAsync(identityId);
        var ids = new List<Guid>();
        for (var i = 0; i < others; i++)
        {
            _node.Clock.Advance(TimeSpan.FromSeconds(1));
            ids.Add((await _node.IssueApiSessionAsync(identityId)).SessionId);
        }
        ids.Reverse();
        return (current, ids);
    }

    private static void AssertRels(IReadOnlyList<Answer> pages)
    {
        for (var i = 0; i < pages.Count; i++)
        {
            string[] expected = i == 0 ? ["last", "next"] : i == pages.Count - 1 ? ["first", "prev"] : ["first", "last", "next", "prev"];
            Assert.Equal(expected, SessionLists.Links(pages[i]).Keys.Order(StringComparer.Ordinal));
        }
    }

    [Theory]
    [InlineData("?per_page=3")]
    [InlineData("?page=0&per_page=3")]
    [InlineData("?page_size=3")]
    [InlineData("?page_size=3&page_token=eyJvZmZzZXQiOiIwIiwidiI6Mn0")]
    public async Task My_sessions_walk_through_every_page_by_link_in_either_style(string firstQuery)
    {
        var (current, expected) = await IdentityWithSessionsAsync(10);

        var first = await _node.ListMySessionsAsync(firstQuery, current.TokenHeader);
        var pages = await SessionLists.WalkAsync(first, link => _node.SendAsync(HttpMethod.Get, _node.Public(link), null, current.TokenHeader));

        Assert.Equal(4, pages.Count);
        Assert.Equal(expected, pages.SelectMany(SessionLists.Ids));
        Assert.All(pages, p => Assert.Equal("10", p.Header("X-Total-Count")));
        Assert.Equal([3, 3, 3, 1], pages.Select(p => SessionLists.Array(p).Length));
        AssertRels(pages);
        Assert.All(pages.SelectMany(p => SessionLists.Links(p).Values), link => Assert.StartsWith("/sessions?", link));
    }

    [Fact]
    public async Task My_sessions_legacy_page_numbers_select_pages_directly()
    {
        var (current, expected) = await IdentityWithSessionsAsync(7);
        Assert.Equal(expected[3..6], SessionLists.Ids(await _node.ListMySessionsAsync("?page=1&per_page=3", current.TokenHeader)));
        Assert.Equal(expected[6..], SessionLists.Ids(await _node.ListMySessionsAsync("?page=2&per_page=3", current.TokenHeader)));
        Assert.Empty(SessionLists.Ids(await _node.ListMySessionsAsync("?page=9&per_page=3", current.TokenHeader)));
        // A token's offset is rounded down to a whole page, as ory/x does.
        Assert.Equal(expected[3..6], SessionLists.Ids(await _node.ListMySessionsAsync($"?page_size=3&page_token={OffsetPage.EncodeToken(3)}", current.TokenHeader)));
        Assert.Equal(expected[3..6], SessionLists.Ids(await _node.ListMySessionsAsync($"?page_size=3&page_token={OffsetPage.EncodeToken(5)}", current.TokenHeader)));
    }

    // ---- walking GET /admin/identities/{id}/sessions ---------------------------------------------

    [Theory]
    [InlineData("?per_page=4")]
    [InlineData("?page_size=4")]
    public async Task An_identitys_sessions_walk_through_every_page_by_link_in_either_style(string firstQuery)
    {
        var (current, others) = await IdentityWithSessionsAsync(10);
        var expected = others.Append(current.SessionId).ToList();

        var first = await _node.ListIdentitySessionsAsync(current.IdentityId, firstQuery + "&active=true");
        var pages = await SessionLists.WalkAsync(first, link => _node.SendForAnswerAsync(HttpMethod.Get, _node.Admin(link)));

        Assert.Equal(expected, pages.SelectMany(SessionLists.Ids));
        Assert.Equal([4, 4, 3], pages.Select(p => SessionLists.Array(p).Length));
        Assert.All(pages, p => Assert.Equal("11", p.Header("X-Total-Count")));
        AssertRels(pages);
        Assert.All(pages.SelectMany(p => SessionLists.Links(p).Values),
            link => Assert.StartsWith($"/admin/identities/{current.IdentityId}/sessions?active=true&", link));
    }

    // ---- walking GET /admin/sessions ----------------------------------------------------------------

    private async Task<List<Guid>> WalkAdminAsync(string firstQuery, Func<Task>? betweenPages = null)
    {
        var seen = new List<Guid>();
        var answer = await _node.ListSessionsAsync(firstQuery);
        for (var pages = 0; ; pages++)
        {
            Assert.True(pages < 10_000, "the walk does not end");
            seen.AddRange(SessionLists.Ids(answer));
            Assert.Null(answer.Header("X-Total-Count"));
            if (!SessionLists.Links(answer).TryGetValue("next", out var next))
                return seen;
            if (betweenPages is not null)
                await betweenPages();
            answer = await _node.SendForAnswerAsync(HttpMethod.Get, _node.Admin(next));
        }
    }

    [Fact]
    public async Task All_sessions_walk_page_by_page_in_the_same_order_as_one_big_page()
    {
        var identityId = await _node.CreateIdentityAsync();
        for (var i = 0; i < 23; i++)
        {
            // Several sessions per instant: the order within one created_at is by id.
            if (i % 4 == 0)
                _node.Clock.Advance(TimeSpan.FromMilliseconds(1));
            await _node.IssueApiSessionAsync(identityId);
        }
        var oneBigPage = SessionLists.Ids(await _node.ListSessionsAsync("?page_size=1000"));
        Assert.True(oneBigPage.Length >= 23);

        var walked = await WalkAdminAsync("?page_size=5");

        Assert.Equal(oneBigPage, walked);
    }

    [Fact]
    public async Task A_walk_never_skips_or_repeats_a_session_while_new_ones_are_created()
    {
        var identityId = await _node.CreateIdentityAsync();
        for (var i = 0; i < 60; i++)
        {
            if (i % 6 == 0)
                _node.Clock.Advance(TimeSpan.FromMilliseconds(1));
            await _node.IssueApiSessionAsync(identityId);
        }
        var existing = await WalkAdminAsync("?page_size=1000");

        using var stop = new CancellationTokenSource();
        var created = new ConcurrentQueue<Guid>();
        using var progress = new SemaphoreSlim(0);
        var creator = Task.Run(async () =>
        {
            for (var i = 0; !stop.IsCancellationRequested; i++)
            {
                // Mostly at the instant the walk is in (so new ids fall between the cursor and the end), sometimes later.
                if (i % 5 == 4)
                    _node.Clock.Advance(TimeSpan.FromMilliseconds(1));
                created.Enqueue((await _node.IssueApiSessionAsync(identityId)).SessionId);
                progress.Release();
            }
        });

        var transitions = 0;
        var walked = await WalkAdminAsync("?page_size=7", async () =>
        {
            // At least one session is created between any two pages; a failed creator fails the test.
            transitions++;
            if (await Task.WhenAny(progress.WaitAsync(), creator) == creator)
                await creator;
        });
        await stop.CancelAsync();
        await creator;

        Assert.True(transitions >= 8, $"only {transitions + 1} pages");
        Assert.True(created.Count >= transitions, $"only {created.Count} sessions were created during a walk of {transitions + 1} pages");
        var duplicates = walked.GroupBy(id => id).Where(g => g.Count() > 1).Select(g => g.Key).ToList();
        Assert.True(duplicates.Count == 0, $"listed twice: {string.Join(", ", duplicates)}");
        var missing = existing.Except(walked).ToList();
        Assert.True(missing.Count == 0, $"{missing.Count} of {existing.Count} sessions that existed before the walk were never listed");
        // The sessions that existed come in the order they had before the walk.
        Assert.Equal(existing, walked.Where(existing.ToHashSet().Contains));
    }

    [Fact]
    public async Task An_unknown_page_token_is_refused_but_the_walk_tokens_are_not()
    {
        var identityId = await _node.CreateIdentityAsync();
        await _node.IssueApiSessionAsync(identityId);
        await _node.IssueApiSessionAsync(identityId);
        var answer = await _node.ListSessionsAsync("?page_size=1");
        var next = SessionLists.Links(answer)["next"];
        Assert.Equal(HttpStatusCode.OK, (await _node.SendForAnswerAsync(HttpMethod.Get, _node.Admin(next))).Status);
        var tampered = next.Replace("page_token=", "page_token=x", StringComparison.Ordinal);
        IdentityAdmin.AssertError(await _node.SendForAnswerAsync(HttpMethod.Get, _node.Admin(tampered)), HttpStatusCode.BadRequest);
    }
}
