using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using OrleansSessions.Api.Tests.Infrastructure;

namespace OrleansSessions.Api.Tests;

/// <summary>
/// The admin session API: <c>GET /admin/sessions</c>, <c>GET /admin/sessions/{id}</c>,
/// <c>PATCH /admin/sessions/{id}/extend</c>, <c>GET</c> and <c>DELETE /admin/identities/{id}/sessions</c>.
/// </summary>
public sealed class AdminSessionsApiTests(DevNodeFixture fixture) : IClassFixture<DevNodeFixture>
{
    private const string NoStore = "private, no-cache, no-store, must-revalidate";

    private readonly ServiceNode _node = fixture.Node;

    /// <summary>Every session the admin listing shows with this query, walking every page.</summary>
    private async Task<Dictionary<Guid, JsonElement>> AllListedAsync(string query = "")
    {
        var first = await _node.ListSessionsAsync($"?{query}{(query.Length == 0 ? "" : "&")}page_size=1000");
        var pages = await SessionLists.WalkAsync(first, link => _node.SendForAnswerAsync(HttpMethod.Get, _node.Admin(link)));
        var all = new Dictionary<Guid, JsonElement>();
        foreach (var session in pages.SelectMany(SessionLists.Array))
            Assert.True(all.TryAdd(session.GetProperty("id").GetGuid(), session), "a session listed twice");
        return all;
    }

    private static string BadRequestMessage(Answer answer)
    {
        Assert.True(answer.Status == HttpStatusCode.BadRequest, $"expected 400, got {answer}");
        return answer.Json.GetProperty("error").GetProperty("message").GetString()!;
    }

    private Task<Answer> RevokeAsync(Guid sessionId) => _node.SendForAnswerAsync(HttpMethod.Delete, _node.Admin($"/admin/sessions/{sessionId}"));

    private static string Token(string text) => Convert.ToBase64String(Encoding.UTF8.GetBytes(text)).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    // ---- GET /admin/sessions --------------------------------------------------------------------

    [Fact]
    public async Task Listing_without_expand_has_null_identity_and_devices()
    {
        var issued = await _node.IssueApiSessionAsync(extra: new JsonObject { ["device"] = new JsonObject { ["user_agent"] = "Lynx" } });
        var answer = await _node.ListSessionsAsync();
        Assert.Equal(NoStore, answer.Header("Cache-Control"));
        Assert.Equal("application/json; charset=utf-8", answer.Header("Content-Type"));
        Assert.Null(answer.Header("X-Total-Count"));
        var session = (await AllListedAsync())[issued.SessionId];
        Assert.Equal(JsonValueKind.Null, session.GetProperty("identity").ValueKind);
        Assert.Equal(JsonValueKind.Null, session.GetProperty("devices").ValueKind);
        Assert.True(session.GetProperty("active").GetBoolean());
    }

    [Theory]
    [InlineData("?expand=identity", true, false)]
    [InlineData("?expand=devices", false, true)]
    [InlineData("?expand=Identity&expand=DEVICES", true, true)]
    [InlineData("?expand=devices&expand=devices", false, true)]
    public async Task Listing_expands_identity_and_devices_on_request(string query, bool identity, bool devices)
    {
        var issued = await _node.IssueApiSessionAsync(extra: new JsonObject { ["device"] = new JsonObject { ["user_agent"] = "Lynx" } });
        var session = (await AllListedAsync(query.TrimStart('?')))[issued.SessionId];
        if (identity)
        {
            Assert.Equal(issued.IdentityId, session.GetProperty("identity").GetProperty("id").GetGuid());
            Assert.False(session.GetProperty("identity").TryGetProperty("credentials", out _));
        }
        else
        {
            Assert.Equal(JsonValueKind.Null, session.GetProperty("identity").ValueKind);
        }
        if (devices)
            Assert.Equal("Lynx", Assert.Single(session.GetProperty("devices").EnumerateArray()).GetProperty("user_agent").GetString());
        else
            Assert.Equal(JsonValueKind.Null, session.GetProperty("devices").ValueKind);
        // Kratos's published schema has no null identity or devices, though Kratos writes them: only the full shape validates.
        if (identity && devices)
            LoginHelpers.AssertValid("session", session);
    }

    [Fact]
    public async Task Listing_is_newest_first()
    {
        var sessions = new List<Guid>();
        for (var i = 0; i < 3; i++)
        {
            _node.Clock.Advance(TimeSpan.FromSeconds(1));
            sessions.Add((await _node.IssueApiSessionAsync()).SessionId);
        }
        var ids = SessionLists.Ids(await _node.ListSessionsAsync("?page_size=3"));
        Assert.Equal([sessions[2], sessions[1], sessions[0]], ids);
    }

    [Fact]
    public async Task Active_filter_and_computed_active_follow_revocation_expiry_and_identity_state()
    {
        var live = await _node.IssueApiSessionAsync();
        var revoked = await _node.IssueApiSessionAsync();
        var expiring = await _node.IssueApiSessionAsync(extra: new JsonObject { ["lifespan"] = "1m" });
        var disabledIdentity = await _node.CreateIdentityAsync();
        var ofDisabled = await _node.IssueApiSessionAsync(disabledIdentity);
        Assert.Equal(HttpStatusCode.NoContent, (await RevokeAsync(revoked.SessionId)).Status);
        Assert.Equal(HttpStatusCode.OK, (await _node.PatchIdentityAsync(disabledIdentity, """[{"op":"replace","path":"/state","value":"inactive"}]""")).Status);
        _node.Clock.Advance(TimeSpan.FromMinutes(2));

        var all = await AllListedAsync();
        Assert.True(all[live.SessionId].GetProperty("active").GetBoolean());
        Assert.False(all[revoked.SessionId].GetProperty("active").GetBoolean());
        Assert.False(all[expiring.SessionId].GetProperty("active").GetBoolean());
        Assert.False(all[ofDisabled.SessionId].GetProperty("active").GetBoolean(), "a disabled identity's session is not active");

        foreach (var truthy in new[] { "1", "t", "T", "TRUE", "true", "True" })
        {
            var active = await AllListedAsync($"active={truthy}");
            Assert.Contains(live.SessionId, active.Keys);
            Assert.DoesNotContain(revoked.SessionId, active.Keys);
            Assert.DoesNotContain(expiring.SessionId, active.Keys);
        }
        foreach (var falsy in new[] { "0", "f", "F", "FALSE", "false", "False" })
        {
            var inactive = await AllListedAsync($"active={falsy}");
            Assert.DoesNotContain(live.SessionId, inactive.Keys);
            Assert.Contains(revoked.SessionId, inactive.Keys);
            Assert.Contains(expiring.SessionId, inactive.Keys);
        }
        var everything = await AllListedAsync("active=");
        Assert.Contains(live.SessionId, everything.Keys);
        Assert.Contains(revoked.SessionId, everything.Keys);
    }

    [Theory]
    [InlineData("?active=yes", "could not parse parameter active")]
    [InlineData("?active=TrUe", "could not parse parameter active")]
    [InlineData("?page_size=0", "could not parse parameter page_size")]
    [InlineData("?page_size=1001", "could not parse parameter page_size")]
    [InlineData("?page_size=-5", "could not parse parameter page_size")]
    [InlineData("?page_size=ten", "could not parse parameter page_size")]
    public async Task Listing_refuses_bad_parameters_with_kratos_messages(string query, string message)
    {
        Assert.Equal(message, BadRequestMessage(await _node.ListSessionsAsync(query)));
    }

    [Theory]
    [InlineData("?expand=identities", "Could not parse expand option: identities")]
    [InlineData("?expand=identity&expand=", "Could not parse expand option: ")]
    public async Task Listing_refuses_unknown_expand_options(string query, string reason)
    {
        var answer = await _node.ListSessionsAsync(query);
        Assert.Equal(reason, IdentityAdmin.AssertError(answer, HttpStatusCode.BadRequest));
    }

    public static TheoryData<string> CraftedTokens => new()
    {
        "not base64 at all!",
        Token("hello"),
        Token($"id={Guid.NewGuid()}"),
        Token("created_at=2024-01-01 00:00:00"),
        Token($"id=not-a-uuid/created_at=2024-01-01 00:00:00"),
        Token($"id={Guid.NewGuid()}/created_at=yesterday"),
        Token($"id={Guid.NewGuid()}/created_at=2024-01-01 00:00:00/extra=1"),
        Token($"id={Guid.NewGuid()}/id={Guid.NewGuid()}/created_at=2024-01-01 00:00:00"),
        Token($"id={Guid.NewGuid()}/created_at=2024-01-01T00:00:00Z"),
        Token("{\"offset\":\"250\",\"v\":2}"),
        new string('A', 400),
    };

    [Theory]
    [MemberData(nameof(CraftedTokens))]
    public async Task Listing_refuses_crafted_page_tokens(string token)
    {
        var answer = await _node.ListSessionsAsync($"?page_token={Uri.EscapeDataString(token)}");
        Assert.Equal("The page token is invalid, do not craft your own page tokens", IdentityAdmin.AssertError(answer, HttpStatusCode.BadRequest));
    }

    [Fact]
    public async Task Listing_accepts_a_well_formed_token_in_either_field_order()
    {
        var id = Guid.NewGuid();
        var reordered = Token($"created_at=2024-01-01 00:00:00.5/id={id}");
        Assert.Equal(HttpStatusCode.OK, (await _node.ListSessionsAsync($"?page_token={reordered}")).Status);
    }

    [Fact]
    public async Task Link_has_first_always_and_next_only_when_there_is_more()
    {
        for (var i = 0; i < 3; i++)
            await _node.IssueApiSessionAsync();
        var total = (await AllListedAsync()).Count;

        var firstPage = await _node.ListSessionsAsync("?page_size=2&active=true");
        var links = SessionLists.Links(firstPage);
        Assert.Equal(["first", "next"], links.Keys.Order());
        Assert.StartsWith("/admin/sessions?active=true&page_size=2&page_token=", links["first"]);
        Assert.StartsWith("/admin/sessions?active=true&page_size=2&page_token=", links["next"]);
        // rel=first leads to the first page.
        Assert.Equal(SessionLists.Ids(firstPage), SessionLists.Ids(await _node.SendForAnswerAsync(HttpMethod.Get, _node.Admin(links["first"]))));

        var onePage = await _node.ListSessionsAsync($"?page_size={total}");
        Assert.Equal(total, SessionLists.Array(onePage).Length);
        Assert.Equal(["first"], SessionLists.Links(onePage).Keys);
    }

    [Fact]
    public async Task The_unprefixed_admin_path_lists_too()
    {
        var issued = await _node.IssueApiSessionAsync();
        var answer = await _node.SendForAnswerAsync(HttpMethod.Get, _node.Admin("/sessions?page_size=1000"));
        Assert.Contains(issued.SessionId, SessionLists.Ids(answer));
        Assert.StartsWith("/admin/sessions?", SessionLists.Links(answer)["first"]);
    }

    // ---- GET /admin/sessions/{id} ----------------------------------------------------------------

    [Fact]
    public async Task Getting_a_session_without_expand_has_null_identity_and_empty_devices()
    {
        var issued = await _node.IssueApiSessionAsync(extra: new JsonObject { ["device"] = new JsonObject { ["ip_address"] = "203.0.113.5" } });
        var answer = await _node.GetSessionAsync(issued.SessionId);
        Assert.Equal(HttpStatusCode.OK, answer.Status);
        Assert.Equal(NoStore, answer.Header("Cache-Control"));
        Assert.Equal(issued.SessionId, answer.Json.GetProperty("id").GetGuid());
        Assert.Equal(JsonValueKind.Null, answer.Json.GetProperty("identity").ValueKind);
        Assert.Equal("[]", answer.Json.GetProperty("devices").GetRawText());
        Assert.Equal(issued.Session.GetProperty("expires_at").GetString(), answer.Json.GetProperty("expires_at").GetString());
    }

    [Fact]
    public async Task Getting_a_session_with_expand_shows_identity_and_devices()
    {
        var issued = await _node.IssueApiSessionAsync(extra: new JsonObject { ["device"] = new JsonObject { ["ip_address"] = "203.0.113.5" } });
        var answer = await _node.GetSessionAsync(issued.SessionId, "?expand=identity&expand=Devices");
        Assert.Equal(issued.IdentityId, answer.Json.GetProperty("identity").GetProperty("id").GetGuid());
        Assert.False(answer.Json.GetProperty("identity").TryGetProperty("metadata_admin", out _));
        Assert.Equal("203.0.113.5", Assert.Single(answer.Json.GetProperty("devices").EnumerateArray()).GetProperty("ip_address").GetString());

        var devicesOnly = await _node.GetSessionAsync(issued.SessionId, "?expand=devices");
        Assert.Equal(JsonValueKind.Null, devicesOnly.Json.GetProperty("identity").ValueKind);
        Assert.Single(devicesOnly.Json.GetProperty("devices").EnumerateArray());
    }

    [Fact]
    public async Task Getting_shows_a_revoked_session_as_inactive()
    {
        var issued = await _node.IssueApiSessionAsync();
        Assert.Equal(HttpStatusCode.NoContent, (await RevokeAsync(issued.SessionId)).Status);
        Assert.False((await _node.GetSessionAsync(issued.SessionId)).Json.GetProperty("active").GetBoolean());
    }

    [Fact]
    public async Task Getting_an_unknown_session_is_404_a_bad_id_400_a_bad_expand_400()
    {
        IdentityAdmin.AssertError(await _node.GetSessionAsync(Guid.NewGuid()), HttpStatusCode.NotFound);
        Assert.Equal("uuid: incorrect UUID length 5 in string \"nope!\"",
            BadRequestMessage(await _node.SendForAnswerAsync(HttpMethod.Get, _node.Admin("/admin/sessions/nope!"))));
        var issued = await _node.IssueApiSessionAsync();
        Assert.Equal("Could not parse expand option: everything",
            IdentityAdmin.AssertError(await _node.GetSessionAsync(issued.SessionId, "?expand=everything"), HttpStatusCode.BadRequest));
    }

    [Fact]
    public async Task A_braced_or_urn_id_is_the_same_session()
    {
        var issued = await _node.IssueApiSessionAsync();
        foreach (var form in new[] { $"{{{issued.SessionId}}}", $"urn:uuid:{issued.SessionId}", issued.SessionId.ToString("N").ToUpperInvariant() })
        {
            var answer = await _node.SendForAnswerAsync(HttpMethod.Get, _node.Admin($"/admin/sessions/{Uri.EscapeDataString(form)}"));
            Assert.True(answer.Status == HttpStatusCode.OK, $"{form}: {answer}");
            Assert.Equal(issued.SessionId, answer.Json.GetProperty("id").GetGuid());
        }
    }

    // ---- DELETE /admin/sessions/{id} --------------------------------------------------------------

    [Fact]
    public async Task Disabling_with_a_malformed_id_is_400_with_the_uuid_message()
    {
        Assert.Equal("uuid: incorrect UUID length 10 in string \"not-a-uuid\"",
            BadRequestMessage(await _node.SendForAnswerAsync(HttpMethod.Delete, _node.Admin("/admin/sessions/not-a-uuid"))));
    }

    // ---- PATCH /admin/sessions/{id}/extend --------------------------------------------------------

    [Fact]
    public async Task Extending_renews_expiry_to_now_plus_lifespan_and_answers_the_session_with_identity()
    {
        var issued = await _node.IssueApiSessionAsync(extra: new JsonObject { ["lifespan"] = "1h" });
        _node.Clock.Advance(TimeSpan.FromMinutes(30));

        var answer = await _node.ExtendSessionAsync(issued.SessionId.ToString());

        Assert.Equal(HttpStatusCode.OK, answer.Status);
        Assert.Equal("application/json; charset=utf-8", answer.Header("Content-Type"));
        Assert.Equal(issued.SessionId, answer.Json.GetProperty("id").GetGuid());
        Assert.Equal(issued.IdentityId, answer.Json.GetProperty("identity").GetProperty("id").GetGuid());
        LoginHelpers.AssertValid("session", answer.Json);
        var expected = _node.Clock.GetUtcNow() + TimeSpan.FromHours(24);
        var expiresAt = DateTimeOffset.Parse(answer.Json.GetProperty("expires_at").GetString()!, System.Globalization.CultureInfo.InvariantCulture);
        Assert.True((expiresAt - expected).Duration() < TimeSpan.FromMilliseconds(1), $"expires_at {expiresAt:O}, expected {expected:O}");
        Assert.Equal(answer.Json.GetProperty("expires_at").GetString(), (await _node.WhoamiAsync(issued.TokenHeader)).Json.GetProperty("expires_at").GetString());
    }

    [Fact]
    public async Task Extending_revives_an_expired_session_that_was_not_revoked_as_kratos()
    {
        var issued = await _node.IssueApiSessionAsync(extra: new JsonObject { ["lifespan"] = "1m" });
        _node.Clock.Advance(TimeSpan.FromMinutes(2));
        Assert.Equal(HttpStatusCode.Unauthorized, (await _node.WhoamiAsync(issued.TokenHeader)).Status);

        var answer = await _node.ExtendSessionAsync(issued.SessionId.ToString());
        Assert.Equal(HttpStatusCode.OK, answer.Status);
        Assert.True(answer.Json.GetProperty("active").GetBoolean());
        Assert.Equal(HttpStatusCode.OK, (await _node.WhoamiAsync(issued.TokenHeader)).Status);
    }

    [Fact]
    public async Task Extending_an_unknown_session_is_404_and_a_bad_id_400()
    {
        IdentityAdmin.AssertError(await _node.ExtendSessionAsync(Guid.NewGuid().ToString()), HttpStatusCode.NotFound);
        Assert.Equal("uuid: incorrect UUID length 1 in string \"x\"", BadRequestMessage(await _node.ExtendSessionAsync("x")));
    }

    // ---- GET /admin/identities/{id}/sessions -----------------------------------------------------

    [Fact]
    public async Task Listing_an_identitys_sessions_shows_them_newest_first_with_identity_and_devices()
    {
        var identityId = await _node.CreateIdentityAsync();
        var sessions = new List<IssuedSession>();
        for (var i = 0; i < 3; i++)
        {
            _node.Clock.Advance(TimeSpan.FromSeconds(1));
            sessions.Add(await _node.IssueApiSessionAsync(identityId, new JsonObject { ["device"] = new JsonObject { ["user_agent"] = $"agent {i}" } }));
        }
        var stranger = await _node.IssueApiSessionAsync();
        Assert.Equal(HttpStatusCode.NoContent, (await RevokeAsync(sessions[1].SessionId)).Status);

        var answer = await _node.ListIdentitySessionsAsync(identityId);
        Assert.Equal(NoStore, answer.Header("Cache-Control"));
        Assert.Equal([sessions[2].SessionId, sessions[1].SessionId, sessions[0].SessionId], SessionLists.Ids(answer));
        Assert.Equal("3", answer.Header("X-Total-Count"));
        Assert.DoesNotContain(stranger.SessionId, SessionLists.Ids(answer));
        var listed = SessionLists.Array(answer);
        Assert.False(listed[1].GetProperty("active").GetBoolean());
        Assert.Equal("agent 2", listed[0].GetProperty("devices")[0].GetProperty("user_agent").GetString());
        Assert.All(listed, s => Assert.Equal(identityId, s.GetProperty("identity").GetProperty("id").GetGuid()));
        Assert.All(listed, s => LoginHelpers.AssertValid("session", s));

        Assert.Equal([sessions[2].SessionId, sessions[0].SessionId], SessionLists.Ids(await _node.ListIdentitySessionsAsync(identityId, "?active=true")));
        Assert.Equal([sessions[1].SessionId], SessionLists.Ids(await _node.ListIdentitySessionsAsync(identityId, "?active=false")));
        Assert.Equal("1", (await _node.ListIdentitySessionsAsync(identityId, "?active=false")).Header("X-Total-Count"));
    }

    [Fact]
    public async Task Listing_an_unknown_identitys_sessions_is_an_empty_200()
    {
        var answer = await _node.ListIdentitySessionsAsync(Guid.NewGuid());
        Assert.Equal(HttpStatusCode.OK, answer.Status);
        Assert.Equal("[]", answer.Body);
        Assert.Equal("0", answer.Header("X-Total-Count"));
    }

    [Fact]
    public async Task Listing_an_identitys_sessions_refuses_a_bad_id_or_active()
    {
        Assert.Equal("uuid: incorrect UUID length 3 in string \"abc\"",
            BadRequestMessage(await _node.SendForAnswerAsync(HttpMethod.Get, _node.Admin("/admin/identities/abc/sessions"))));
        Assert.Equal("could not parse parameter active", BadRequestMessage(await _node.ListIdentitySessionsAsync(Guid.NewGuid(), "?active=maybe")));
    }

    // ---- DELETE /admin/identities/{id}/sessions ---------------------------------------------------

    [Fact]
    public async Task Deleting_an_identitys_sessions_ends_all_of_them_and_no_other()
    {
        var identityId = await _node.CreateIdentityAsync();
        var api = await _node.IssueApiSessionAsync(identityId);
        var browser = await _node.IssueBrowserSessionAsync(identityId);
        var revoked = await _node.IssueApiSessionAsync(identityId);
        Assert.Equal(HttpStatusCode.NoContent, (await RevokeAsync(revoked.SessionId)).Status);
        var stranger = await _node.IssueApiSessionAsync();
        Assert.Equal(HttpStatusCode.OK, (await _node.WhoamiAsync(api.TokenHeader)).Status);

        var answer = await _node.DeleteIdentitySessionsAsync(identityId.ToString());

        Assert.Equal(HttpStatusCode.NoContent, answer.Status);
        Assert.Equal("", answer.Body);
        Assert.Equal(HttpStatusCode.Unauthorized, (await _node.WhoamiAsync(api.TokenHeader)).Status);
        Assert.Equal(HttpStatusCode.Unauthorized, (await _node.WhoamiAsync(browser.CookieHeader)).Status);
        Assert.Equal(HttpStatusCode.OK, (await _node.WhoamiAsync(stranger.TokenHeader)).Status);
        // Deleted, not revoked: the rows are gone.
        Assert.Equal("[]", (await _node.ListIdentitySessionsAsync(identityId)).Body);
        IdentityAdmin.AssertError(await _node.GetSessionAsync(revoked.SessionId), HttpStatusCode.NotFound);
        // The identity itself stays.
        Assert.Equal(HttpStatusCode.OK, (await _node.GetIdentityAsync(identityId)).Status);
        // Nothing left: 404, as Kratos.
        IdentityAdmin.AssertError(await _node.DeleteIdentitySessionsAsync(identityId.ToString()), HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task Deleting_sessions_of_an_unknown_identity_is_404_and_a_bad_id_400()
    {
        IdentityAdmin.AssertError(await _node.DeleteIdentitySessionsAsync(Guid.NewGuid().ToString()), HttpStatusCode.NotFound);
        Assert.Equal("uuid: incorrect UUID length 4 in string \"1234\"", BadRequestMessage(await _node.DeleteIdentitySessionsAsync("1234")));
    }

    [Fact]
    public async Task The_admin_session_routes_do_not_exist_on_the_public_port()
    {
        var issued = await _node.IssueApiSessionAsync();
        foreach (var (method, path) in new[]
                 {
                     (HttpMethod.Get, "/admin/sessions"), (HttpMethod.Get, $"/admin/sessions/{issued.SessionId}"),
                     (HttpMethod.Patch, $"/admin/sessions/{issued.SessionId}/extend"), (HttpMethod.Get, $"/admin/identities/{issued.IdentityId}/sessions"),
                     (HttpMethod.Delete, $"/admin/identities/{issued.IdentityId}/sessions"),
                 })
            IdentityAdmin.AssertError(await _node.SendForAnswerAsync(method, _node.Public(path)), HttpStatusCode.NotFound);
        Assert.Equal(HttpStatusCode.OK, (await _node.WhoamiAsync(issued.TokenHeader)).Status);
    }
}

/// <summary>A node with <c>session.earliest_possible_extend</c> shorter than the lifespan.</summary>
public sealed class EarliestExtendNodeFixture : DevNodeFixture
{
    protected override NodeOptions Options => new() { Dev = true, ExtraArgs = ["--session:lifespan=24h", "--session:earliest_possible_extend=1h"] };
}

/// <summary><c>session.earliest_possible_extend</c>: extend is a no-op until the session is that close to expiring.</summary>
public sealed class EarliestPossibleExtendTests(EarliestExtendNodeFixture fixture) : IClassFixture<EarliestExtendNodeFixture>
{
    private readonly ServiceNode _node = fixture.Node;

    private static DateTimeOffset ExpiresAt(Answer answer) =>
        DateTimeOffset.Parse(answer.Json.GetProperty("expires_at").GetString()!, System.Globalization.CultureInfo.InvariantCulture);

    [Fact]
    public async Task Extend_changes_nothing_until_expiry_is_within_earliest_possible_extend()
    {
        var issued = await _node.IssueApiSessionAsync();
        var issuedExpiry = DateTimeOffset.Parse(issued.Session.GetProperty("expires_at").GetString()!, System.Globalization.CultureInfo.InvariantCulture);

        _node.Clock.Advance(TimeSpan.FromHours(22));
        var early = await _node.ExtendSessionAsync(issued.SessionId.ToString());
        Assert.Equal(HttpStatusCode.OK, early.Status);
        Assert.Equal(issuedExpiry, ExpiresAt(early));

        _node.Clock.Advance(TimeSpan.FromHours(1) + TimeSpan.FromSeconds(1));
        var late = await _node.ExtendSessionAsync(issued.SessionId.ToString());
        Assert.Equal(HttpStatusCode.OK, late.Status);
        var expected = _node.Clock.GetUtcNow() + TimeSpan.FromHours(24);
        Assert.True((ExpiresAt(late) - expected).Duration() < TimeSpan.FromMilliseconds(1), $"expires_at {ExpiresAt(late):O}, expected {expected:O}");
    }
}
