using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using OrleansSessions.Api.Credentials;
using OrleansSessions.Api.Tests.Infrastructure;
using static OrleansSessions.Api.Tests.Infrastructure.IdentityAdmin;

namespace OrleansSessions.Api.Tests;

/// <summary>
/// The admin identity API (Kratos's createIdentity, getIdentity, updateIdentity, patchIdentity,
/// deleteIdentity, listIdentities): status codes, bodies, conflicts, credential imports.
/// </summary>
public sealed partial class IdentityAdminApiTests(DevNodeFixture fixture) : IClassFixture<DevNodeFixture>
{
    private const string NoStore = "private, no-cache, no-store, must-revalidate";
    private readonly ServiceNode _node = fixture.Node;

    [GeneratedRegex(@"<([^>]+)>;\s*rel=""([a-z]+)""")]
    private static partial Regex LinkPart();

    private static Dictionary<string, string> Links(Answer answer)
    {
        var header = answer.Header("Link");
        Assert.False(header is null, $"no Link header: {answer}");
        return LinkPart().Matches(header!).ToDictionary(m => m.Groups[2].Value, m => m.Groups[1].Value);
    }

    private static Guid IdOf(JsonElement identity) => identity.GetProperty("id").GetGuid();

    // ---- create / get ---------------------------------------------------------------------

    [Fact]
    public async Task Create_is_201_with_location_and_a_body_valid_against_Kratos_identity_schema()
    {
        var email = NewEmail();
        var answer = await _node.PostIdentityAsync(Body(email, new JsonObject
        {
            ["metadata_public"] = new JsonObject { ["plan"] = "pro" },
            ["metadata_admin"] = new JsonObject { ["note"] = "vip" },
            ["external_id"] = $"ext-{Guid.NewGuid():N}",
        }));
        Assert.Equal(HttpStatusCode.Created, answer.Status);
        var identity = answer.Json;
        var id = IdOf(identity);
        Assert.Equal($"/admin/identities/{id}", answer.Header("Location"));
        Assert.Equal("application/json; charset=utf-8", answer.Header("Content-Type"));
        Assert.Equal("default", identity.GetProperty("schema_id").GetString());
        Assert.Equal("active", identity.GetProperty("state").GetString());
        Assert.Equal(email, identity.GetProperty("traits").GetProperty("email").GetString());
        Assert.Equal("pro", identity.GetProperty("metadata_public").GetProperty("plan").GetString());
        Assert.Equal("vip", identity.GetProperty("metadata_admin").GetProperty("note").GetString());
        var validation = KratosSchema.Validate("identity", identity);
        Assert.True(validation.IsValid, KratosSchema.Describe(validation));
        AssertNoCredentials(answer);
    }

    [Fact]
    public async Task Create_with_state_inactive_keeps_it()
    {
        var identity = await _node.CreateIdentityAsync(Body(NewEmail(), new JsonObject { ["state"] = "inactive" }));
        Assert.Equal("inactive", identity.GetProperty("state").GetString());
        Assert.Equal("inactive", (await _node.GetIdentityAsync(IdOf(identity))).Json.GetProperty("state").GetString());
    }

    [Fact]
    public async Task Get_is_200_with_no_store_then_404_for_unknown_and_400_for_a_bad_uuid()
    {
        var created = await _node.CreateIdentityAsync(Body(NewEmail()));
        var read = await _node.GetIdentityAsync(IdOf(created));
        Assert.Equal(HttpStatusCode.OK, read.Status);
        Assert.Equal(NoStore, read.Header("Cache-Control"));
        Assert.Equal(created.GetRawText(), read.Json.GetRawText());
        AssertNoCredentials(read);

        AssertError(await _node.GetIdentityAsync(Guid.NewGuid()), HttpStatusCode.NotFound);
        AssertError(await _node.SendForAnswerAsync(HttpMethod.Get, _node.Admin("/admin/identities/not-a-uuid")), HttpStatusCode.BadRequest);
    }

    // ---- update (PUT) ---------------------------------------------------------------------

    [Fact]
    public async Task Put_replaces_traits_state_and_metadata()
    {
        var created = await _node.CreateIdentityAsync(Body(NewEmail(), new JsonObject { ["metadata_public"] = new JsonObject { ["a"] = 1 } }));
        var id = IdOf(created);
        var newEmail = NewEmail("renamed");
        var answer = await _node.PutIdentityAsync(id, new JsonObject
        {
            ["schema_id"] = "default",
            ["traits"] = new JsonObject { ["email"] = newEmail },
            ["state"] = "inactive",
            ["metadata_admin"] = new JsonObject { ["b"] = 2 },
        });
        Assert.Equal(HttpStatusCode.OK, answer.Status);
        AssertNoCredentials(answer);
        var updated = answer.Json;
        Assert.Equal(id, IdOf(updated));
        Assert.Equal(newEmail, updated.GetProperty("traits").GetProperty("email").GetString());
        Assert.Equal("inactive", updated.GetProperty("state").GetString());
        // PUT replaces: metadata_public not sent is gone.
        Assert.Equal(JsonValueKind.Null, updated.GetProperty("metadata_public").ValueKind);
        Assert.Equal(2, updated.GetProperty("metadata_admin").GetProperty("b").GetInt32());
        Assert.Equal(created.GetProperty("created_at").GetString(), updated.GetProperty("created_at").GetString());
        Assert.Equal(updated.GetRawText(), (await _node.GetIdentityAsync(id)).Json.GetRawText());
        // The old email is no identifier any more; the new one is.
        Assert.Equal(0, (await ListAsync($"credentials_identifier={Uri.EscapeDataString(created.GetProperty("traits").GetProperty("email").GetString()!)}")).Json.GetArrayLength());
        Assert.Equal(id, IdOf((await ListAsync($"credentials_identifier={Uri.EscapeDataString(newEmail)}")).Json[0]));
    }

    [Theory]
    [InlineData("""{"traits":{"email":"a@example.com"},"state":"active"}""")]
    [InlineData("""{"schema_id":"default","state":"active"}""")]
    [InlineData("""{"schema_id":"default","traits":{"email":"a@example.com"}}""")]
    [InlineData("""{"schema_id":"default","traits":{"email":"a@example.com"},"state":"frozen"}""")]
    [InlineData("""{"schema_id":"default","traits":"a@example.com","state":"active"}""")]
    [InlineData("""[]""")]
    [InlineData("""{"schema_id":""")]
    public async Task Put_without_schema_id_traits_or_state_is_400_and_changes_nothing(string body)
    {
        var created = await _node.CreateIdentityAsync(Body(NewEmail()));
        var answer = await _node.SendForAnswerAsync(HttpMethod.Put, _node.Admin($"/admin/identities/{IdOf(created)}"), body);
        AssertError(answer, HttpStatusCode.BadRequest);
        Assert.Equal(created.GetRawText(), (await _node.GetIdentityAsync(IdOf(created))).Json.GetRawText());
    }

    [Fact]
    public async Task Put_on_an_unknown_identity_is_404_and_on_a_bad_uuid_400()
    {
        var body = Body(NewEmail(), new JsonObject { ["state"] = "active" });
        AssertError(await _node.PutIdentityAsync(Guid.NewGuid(), body), HttpStatusCode.NotFound);
        AssertError(await _node.SendForAnswerAsync(HttpMethod.Put, _node.Admin("/admin/identities/42"), body.ToJsonString()), HttpStatusCode.BadRequest);
    }

    // ---- patch ----------------------------------------------------------------------------

    private async Task<(Guid Id, string Email)> CreateForPatchAsync()
    {
        var email = NewEmail();
        var identity = await _node.CreateIdentityAsync(Body(email, new JsonObject
        {
            ["metadata_public"] = new JsonObject { ["plan"] = "free", ["tags"] = new JsonArray("a", "b") },
            ["metadata_admin"] = new JsonObject { ["note"] = "n" },
        }));
        return (IdOf(identity), email);
    }

    private async Task<JsonElement> PatchOkAsync(Guid id, string patch)
    {
        var answer = await _node.PatchIdentityAsync(id, patch);
        Assert.True(answer.Status == HttpStatusCode.OK, $"patch {patch}: {answer}");
        AssertNoCredentials(answer);
        Assert.Equal(answer.Json.GetRawText(), (await _node.GetIdentityAsync(id)).Json.GetRawText());
        return answer.Json;
    }

    [Fact]
    public async Task Patch_replace_and_add_change_traits_state_and_metadata()
    {
        var (id, _) = await CreateForPatchAsync();
        var email = NewEmail("patched");
        var patched = await PatchOkAsync(id, $$"""
            [{"op":"replace","path":"/traits/email","value":"{{email}}"},
             {"op":"replace","path":"/state","value":"inactive"},
             {"op":"add","path":"/metadata_public/tier","value":3},
             {"op":"add","path":"/metadata_public/tags/1","value":"x"},
             {"op":"add","path":"/metadata_public/tags/-","value":"z"},
             {"op":"add","path":"/external_id","value":"ext-{{id}}"}]
            """);
        Assert.Equal(email, patched.GetProperty("traits").GetProperty("email").GetString());
        Assert.Equal("inactive", patched.GetProperty("state").GetString());
        Assert.Equal(3, patched.GetProperty("metadata_public").GetProperty("tier").GetInt32());
        Assert.Equal("""["a","x","b","z"]""", patched.GetProperty("metadata_public").GetProperty("tags").GetRawText());
        Assert.Equal($"ext-{id}", patched.GetProperty("external_id").GetString());
    }

    [Fact]
    public async Task Patch_remove_move_copy_and_test_work_as_RFC_6902_says()
    {
        var (id, email) = await CreateForPatchAsync();
        var patched = await PatchOkAsync(id, $$"""
            [{"op":"test","path":"/traits/email","value":"{{email}}"},
             {"op":"test","path":"/id","value":"{{id}}"},
             {"op":"copy","from":"/traits/email","path":"/metadata_admin/contact"},
             {"op":"move","from":"/metadata_public/plan","path":"/metadata_admin/plan"},
             {"op":"remove","path":"/metadata_public/tags/0"},
             {"op":"copy","from":"/id","path":"/metadata_public/self"}]
            """);
        Assert.Equal(email, patched.GetProperty("metadata_admin").GetProperty("contact").GetString());
        Assert.Equal("free", patched.GetProperty("metadata_admin").GetProperty("plan").GetString());
        Assert.False(patched.GetProperty("metadata_public").TryGetProperty("plan", out _));
        Assert.Equal("""["b"]""", patched.GetProperty("metadata_public").GetProperty("tags").GetRawText());
        Assert.Equal(id.ToString(), patched.GetProperty("metadata_public").GetProperty("self").GetString());

        var removed = await PatchOkAsync(id, """[{"op":"remove","path":"/metadata_public"},{"op":"remove","path":"/metadata_admin"}]""");
        Assert.Equal(JsonValueKind.Null, removed.GetProperty("metadata_public").ValueKind);
        Assert.Equal(JsonValueKind.Null, removed.GetProperty("metadata_admin").ValueKind);
    }

    [Theory]
    [InlineData("""[{"op":"test","path":"/state","value":"inactive"},{"op":"replace","path":"/metadata_public","value":1}]""", "not the expected")]
    [InlineData("""[{"op":"replace","path":"/metadata_public","value":1},{"op":"remove","path":"/traits/nickname"}]""", "does not exist")]
    [InlineData("""[{"op":"add","path":"/metadata_public/a/b","value":1}]""", "parent")]
    [InlineData("""[{"op":"add","path":"/metadata_public/tags/7","value":1}]""", "index")]
    [InlineData("""[{"op":"move","from":"/metadata_public","path":"/metadata_public/inner"}]""", "own children")]
    [InlineData("""[{"op":"copy","from":"/nothing","path":"/metadata_public/x"}]""", "from path does not exist")]
    [InlineData("""[{"op":"replace","path":"/id","value":"00000000-0000-0000-0000-000000000001"}]""", "/id cannot be patched")]
    [InlineData("""[{"op":"replace","path":"/created_at","value":"2000-01-01T00:00:00Z"}]""", "/created_at cannot be patched")]
    [InlineData("""[{"op":"remove","path":"/credentials"}]""", "/credentials cannot be patched")]
    [InlineData("""[{"op":"move","from":"/id","path":"/metadata_public/id"}]""", "/id cannot be moved")]
    [InlineData("""[{"op":"remove","path":"/traits/email"}]""", "#/traits/email")]
    [InlineData("""[{"op":"replace","path":"/traits/email","value":"not-an-email"}]""", "#/traits/email")]
    [InlineData("""[{"op":"add","path":"/traits/nickname","value":"bob"}]""", "#/traits/nickname")]
    [InlineData("""[{"op":"replace","path":"/state","value":"sleeping"}]""", "state")]
    [InlineData("""[{"op":"remove","path":"/state"}]""", "state is required")]
    [InlineData("""[{"op":"replace","path":"/schema_id","value":"unknown"}]""", "unknown")]
    [InlineData("""[{"op":"replace","path":"/traits","value":[]}]""", "traits")]
    [InlineData("""[{"op":"jump","path":"/state"}]""", "op")]
    [InlineData("""[{"path":"/state","value":"active"}]""", "op")]
    [InlineData("""[{"op":"replace","value":"active"}]""", "path")]
    [InlineData("""[{"op":"replace","path":"state","value":"active"}]""", "JSON Pointer")]
    [InlineData("""[{"op":"replace","path":"/traits/~2","value":"x"}]""", "JSON Pointer")]
    [InlineData("""[{"op":"replace","path":"/state"}]""", "value")]
    [InlineData("""[{"op":"move","path":"/metadata_admin/x"}]""", "from")]
    [InlineData("""[1]""", "JSON object")]
    [InlineData("""{"op":"replace","path":"/state","value":"inactive"}""", "array")]
    [InlineData("""[{"op":"replace","path":"/state","value":"inactive"}""", "JSON")]
    [InlineData("""[{"op":"add","path":"/credentials/password/config/password","value":""}]""", "1 to 1000")]
    [InlineData("""[{"op":"add","path":"/credentials/password/config/hashed_password","value":"md5:abc"}]""", "hashed_password")]
    public async Task Patch_that_fails_or_yields_an_invalid_identity_is_400_and_changes_nothing(string patch, string reasonPart)
    {
        var (id, _) = await CreateForPatchAsync();
        var before = (await _node.GetIdentityAsync(id)).Json.GetRawText();
        var reason = AssertError(await _node.PatchIdentityAsync(id, patch), HttpStatusCode.BadRequest);
        Assert.Contains(reasonPart, reason);
        Assert.Equal(before, (await _node.GetIdentityAsync(id)).Json.GetRawText());
    }

    [Fact]
    public async Task Patch_on_an_unknown_identity_is_404_and_on_a_bad_uuid_400()
    {
        const string patch = """[{"op":"replace","path":"/state","value":"inactive"}]""";
        AssertError(await _node.PatchIdentityAsync(Guid.NewGuid(), patch), HttpStatusCode.NotFound);
        AssertError(await _node.SendForAnswerAsync(HttpMethod.Patch, _node.Admin("/admin/identities/xyz"), patch), HttpStatusCode.BadRequest);
    }

    [Fact]
    public async Task Patch_sets_a_password_that_is_stored_hashed_and_never_shown()
    {
        var (id, _) = await CreateForPatchAsync();
        Assert.Null((await _node.CredentialsAsync(id))!.PasswordHash);
        const string password = "correct horse battery staple";
        var patched = await _node.PatchIdentityAsync(id, $$"""[{"op":"add","path":"/credentials/password/config/password","value":"{{password}}"}]""");
        AssertNoCredentials(patched, password);
        var hash = (await _node.CredentialsAsync(id))!.PasswordHash;
        Assert.NotNull(hash);
        Assert.StartsWith("$argon2id$", hash);
        var hasher = _node.Service<PasswordHasher>();
        Assert.True(hasher.Verify(password, hash!).Matches);
        Assert.False(hasher.Verify("wrong", hash!).Matches);
        AssertNoCredentials(await _node.GetIdentityAsync(id), password, hash);
    }

    // ---- delete ---------------------------------------------------------------------------

    [Fact]
    public async Task Delete_is_204_then_the_identity_is_gone_404_and_its_identifier_free_again()
    {
        var email = NewEmail();
        var identity = await _node.CreateIdentityAsync(Body(email));
        var deleted = await _node.DeleteIdentityAsync(IdOf(identity));
        Assert.Equal(HttpStatusCode.NoContent, deleted.Status);
        Assert.Equal("", deleted.Body);
        AssertError(await _node.GetIdentityAsync(IdOf(identity)), HttpStatusCode.NotFound);
        AssertError(await _node.DeleteIdentityAsync(IdOf(identity)), HttpStatusCode.NotFound);
        Assert.Equal(0, (await ListAsync($"credentials_identifier={Uri.EscapeDataString(email)}")).Json.GetArrayLength());
        await _node.CreateIdentityAsync(Body(email));
    }

    [Fact]
    public async Task Delete_of_a_bad_uuid_is_400()
    {
        AssertError(await _node.SendForAnswerAsync(HttpMethod.Delete, _node.Admin("/admin/identities/nope")), HttpStatusCode.BadRequest);
    }

    // ---- list -----------------------------------------------------------------------------

    private Task<Answer> ListAsync(string query = "") =>
        _node.SendForAnswerAsync(HttpMethod.Get, _node.Admin("/admin/identities" + (query.Length > 0 ? "?" + query : "")));

    [Fact]
    public async Task List_walks_every_page_through_the_Link_header_without_skips_or_repeats()
    {
        for (var i = 0; i < 7; i++)
            await _node.CreateIdentityAsync(Body(NewEmail("page")));
        var all = await ListAsync("page_size=1000");
        Assert.Equal(HttpStatusCode.OK, all.Status);
        var expected = all.Json.EnumerateArray().Select(IdOf).ToList();
        Assert.True(expected.Count >= 7);
        Assert.Equal(expected.OrderBy(g => g.ToString(), StringComparer.Ordinal), expected);
        Assert.False(Links(all).ContainsKey("next"), "a page holding everything has no next page");

        var walked = new List<Guid>();
        var next = "/admin/identities?page_size=3";
        var pages = 0;
        string? first = null;
        while (next is not null)
        {
            Assert.True(++pages <= expected.Count, "the walk does not end");
            var page = await _node.SendForAnswerAsync(HttpMethod.Get, new Uri(_node.AdminUrl, next));
            Assert.Equal(HttpStatusCode.OK, page.Status);
            Assert.Equal(NoStore, page.Header("Cache-Control"));
            var items = page.Json.EnumerateArray().Select(IdOf).ToList();
            Assert.InRange(items.Count, 1, 3);
            walked.AddRange(items);
            AssertNoCredentials(page);
            var links = Links(page);
            first ??= links["first"];
            Assert.Equal(first, links["first"]);
            next = links.GetValueOrDefault("next");
            if (next is not null)
                Assert.Equal(3, items.Count);
        }
        Assert.Equal(expected, walked);
        Assert.Equal((expected.Count + 2) / 3, pages);

        var again = await _node.SendForAnswerAsync(HttpMethod.Get, new Uri(_node.AdminUrl, first!));
        Assert.Equal(expected.Take(3), again.Json.EnumerateArray().Select(IdOf));
    }

    [Fact]
    public async Task List_defaults_to_pages_of_250_and_caps_page_size_at_1000()
    {
        await _node.CreateIdentityAsync(Body(NewEmail()));
        Assert.Contains("page_size=250>", (await ListAsync()).Header("Link"));
        Assert.Contains("page_size=1000>", (await ListAsync("page_size=5000")).Header("Link"));
        Assert.Contains("page_size=1000>", (await ListAsync("page_size=99999999999999999999")).Header("Link"));
        Assert.Contains("page_size=7>", (await ListAsync("per_page=7")).Header("Link"));
    }

    [Theory]
    [InlineData("page_size=abc")]
    [InlineData("page_size=0")]
    [InlineData("page_size=-5")]
    [InlineData("page_size=1.5")]
    [InlineData("page_token=not*base64")]
    [InlineData("page_token=bm90LWEtdXVpZA")]
    [InlineData("ids=not-a-uuid")]
    [InlineData("ids=00000000-0000-0000-0000-000000000001&credentials_identifier=a@example.com")]
    public async Task List_with_a_malformed_parameter_is_400(string query)
    {
        AssertError(await ListAsync(query), HttpStatusCode.BadRequest);
    }

    [Fact]
    public async Task List_filters_by_credentials_identifier_normalised_and_by_ids()
    {
        var email = NewEmail("Filter");
        var identity = await _node.CreateIdentityAsync(Body(email));
        var other = await _node.CreateIdentityAsync(Body(NewEmail()));
        var byIdentifier = await ListAsync($"credentials_identifier={Uri.EscapeDataString("  " + email.ToUpperInvariant() + " ")}");
        Assert.Equal(HttpStatusCode.OK, byIdentifier.Status);
        Assert.Equal([IdOf(identity)], byIdentifier.Json.EnumerateArray().Select(IdOf));
        AssertNoCredentials(byIdentifier);
        Assert.Equal("[]", (await ListAsync("credentials_identifier=nobody%40example.com")).Json.GetRawText());

        var byIds = await ListAsync($"ids={IdOf(identity)}&ids={IdOf(other)}&ids={Guid.NewGuid()}");
        Assert.Equal(new[] { IdOf(identity), IdOf(other) }.Order(), byIds.Json.EnumerateArray().Select(IdOf).Order());
    }

    // ---- conflicts ------------------------------------------------------------------------

    [Fact]
    public async Task Create_with_a_taken_identifier_is_409_whatever_its_case()
    {
        var email = NewEmail();
        await _node.CreateIdentityAsync(Body(email));
        var reason = AssertError(await _node.PostIdentityAsync(Body(email.ToUpperInvariant())), HttpStatusCode.Conflict);
        Assert.Equal("An account with the same identifier (email, phone, username, ...) exists already.", reason);
    }

    [Fact]
    public async Task Update_or_patch_to_a_taken_identifier_is_409_and_changes_nothing()
    {
        var taken = NewEmail();
        await _node.CreateIdentityAsync(Body(taken));
        var mine = await _node.CreateIdentityAsync(Body(NewEmail()));
        var id = IdOf(mine);
        var put = await _node.PutIdentityAsync(id, UpdateBodyOf(mine, b => b["traits"] = new JsonObject { ["email"] = taken }));
        Assert.Contains("same identifier", AssertError(put, HttpStatusCode.Conflict));
        var patch = await _node.PatchIdentityAsync(id, $$"""[{"op":"replace","path":"/traits/email","value":"{{taken}}"}]""");
        Assert.Contains("same identifier", AssertError(patch, HttpStatusCode.Conflict));
        Assert.Equal(mine.GetRawText(), (await _node.GetIdentityAsync(id)).Json.GetRawText());
    }

    [Fact]
    public async Task A_taken_external_id_is_409_on_create_update_and_patch()
    {
        var externalId = $"ext-{Guid.NewGuid():N}";
        await _node.CreateIdentityAsync(Body(NewEmail(), new JsonObject { ["external_id"] = externalId }));
        Assert.Contains("external_id", AssertError(await _node.PostIdentityAsync(Body(NewEmail(), new JsonObject { ["external_id"] = externalId })), HttpStatusCode.Conflict));
        var mine = await _node.CreateIdentityAsync(Body(NewEmail()));
        Assert.Contains("external_id", AssertError(await _node.PutIdentityAsync(IdOf(mine), UpdateBodyOf(mine, b => b["external_id"] = externalId)), HttpStatusCode.Conflict));
        Assert.Contains("external_id", AssertError(await _node.PatchIdentityAsync(IdOf(mine), $$"""[{"op":"add","path":"/external_id","value":"{{externalId}}"}]"""), HttpStatusCode.Conflict));
    }

    // ---- credentials ----------------------------------------------------------------------

    [Fact]
    public async Task A_clear_text_password_is_stored_as_an_argon2id_hash_and_never_shown()
    {
        const string password = "s3cret-Passw0rd";
        var answer = await _node.PostIdentityAsync(Body(NewEmail(), new JsonObject
        {
            ["credentials"] = new JsonObject { ["password"] = new JsonObject { ["config"] = new JsonObject { ["password"] = password } } },
        }));
        Assert.Equal(HttpStatusCode.Created, answer.Status);
        AssertNoCredentials(answer, password);
        var id = IdOf(answer.Json);
        var hash = (await _node.CredentialsAsync(id))!.PasswordHash!;
        Assert.StartsWith("$argon2id$", hash);
        Assert.True(_node.Service<PasswordHasher>().Verify(password, hash).Matches);
        AssertNoCredentials(await _node.GetIdentityAsync(id), password, hash);
        AssertNoCredentials(await ListAsync($"ids={id}"), password, hash);
    }

    [Fact]
    public async Task A_bcrypt_hash_is_imported_as_is_and_verifies()
    {
        const string password = "imported-from-elsewhere";
        var bcrypt = BCrypt.Net.BCrypt.HashPassword(password, workFactor: 4);
        var answer = await _node.PostIdentityAsync(Body(NewEmail(), new JsonObject
        {
            ["credentials"] = new JsonObject { ["password"] = new JsonObject { ["config"] = new JsonObject { ["hashed_password"] = bcrypt } } },
        }));
        Assert.Equal(HttpStatusCode.Created, answer.Status);
        AssertNoCredentials(answer, bcrypt);
        var stored = (await _node.CredentialsAsync(IdOf(answer.Json)))!.PasswordHash;
        Assert.Equal(bcrypt, stored);
        Assert.True(_node.Service<PasswordHasher>().Verify(password, stored!).Matches);
    }

    [Fact]
    public async Task An_argon2id_hash_is_imported_as_is_on_update_and_verifies()
    {
        const string password = "argon-imported";
        var hash = _node.Service<PasswordHasher>().Hash(password);
        var identity = await _node.CreateIdentityAsync(Body(NewEmail()));
        var answer = await _node.PutIdentityAsync(IdOf(identity), UpdateBodyOf(identity, b =>
            b["credentials"] = new JsonObject { ["password"] = new JsonObject { ["config"] = new JsonObject { ["hashed_password"] = hash } } }));
        Assert.Equal(HttpStatusCode.OK, answer.Status);
        AssertNoCredentials(answer, hash);
        Assert.Equal(hash, (await _node.CredentialsAsync(IdOf(identity)))!.PasswordHash);

        // A later PUT without credentials keeps the password.
        Assert.Equal(HttpStatusCode.OK, (await _node.PutIdentityAsync(IdOf(identity), UpdateBodyOf(identity))).Status);
        Assert.Equal(hash, (await _node.CredentialsAsync(IdOf(identity)))!.PasswordHash);
    }

    [Theory]
    [InlineData("""{"password":{"config":{"hashed_password":"not a hash"}}}""", "hashed_password")]
    [InlineData("""{"password":{"config":{"hashed_password":"$2a$10$short"}}}""", "hashed_password")]
    [InlineData("""{"password":{"config":{"hashed_password":"$argon2id$v=19$m=1,t=1,p=1$c2FsdHNhbHQ$aGFzaA"}}}""", "hashed_password")]
    [InlineData("""{"password":{"config":{"hashed_password":"$pbkdf2-sha256$i=1000,l=32$c2FsdA$aGFzaA"}}}""", "hashed_password")]
    [InlineData("""{"password":{"config":{"password":""}}}""", "1 to 1000")]
    [InlineData("""{"password":{"config":{"password":5}}}""", "password must be a string")]
    [InlineData("""{"password":{"config":{}}}""", "password or a hashed_password")]
    [InlineData("""{"password":{"config":{"password":"x","use_password_migration_hook":true}}}""", "migration hook")]
    [InlineData("""{"password":{"hashed_password":"x"}}""", "config")]
    [InlineData("""{"password":"x"}""", "config")]
    [InlineData("""{"oidc":{"config":{"providers":[{"provider":"github","subject":"1"}]}}}""", "oidc")]
    [InlineData("""{"totp":{"config":{"totp_url":"https://example.com"}}}""", "totp_url")]
    [InlineData("""{"totp":{"config":{"totp_url":"otpauth://totp/x?secret=JBSWY3DPEHPK3PXP&digits=8"}}}""", "totp_url")]
    [InlineData("""[]""", "credentials must be a JSON object")]
    public async Task Malformed_credentials_are_400_and_nothing_is_created(string credentials, string reasonPart)
    {
        var email = NewEmail();
        var body = Body(email);
        body["credentials"] = JsonNode.Parse(credentials);
        Assert.Contains(reasonPart, AssertError(await _node.PostIdentityAsync(body), HttpStatusCode.BadRequest));
        Assert.Equal("[]", (await ListAsync($"credentials_identifier={Uri.EscapeDataString(email)}")).Json.GetRawText());
    }

    [Fact]
    public async Task Password_length_is_1_to_1000_characters()
    {
        JsonObject WithPassword(string password) => Body(NewEmail(), new JsonObject
        {
            ["credentials"] = new JsonObject { ["password"] = new JsonObject { ["config"] = new JsonObject { ["password"] = password } } },
        });
        Assert.Equal(HttpStatusCode.Created, (await _node.PostIdentityAsync(WithPassword(new string('p', 1000)))).Status);
        Assert.Equal(HttpStatusCode.Created, (await _node.PostIdentityAsync(WithPassword("p"))).Status);
        Assert.Contains("1 to 1000", AssertError(await _node.PostIdentityAsync(WithPassword(new string('p', 1001))), HttpStatusCode.BadRequest));
    }

    [Fact]
    public async Task A_totp_url_imported_on_create_is_stored_and_never_shown()
    {
        var secret = TotpCodes.NewSecret();
        var answer = await _node.PostIdentityAsync(Body(NewEmail(), new JsonObject
        {
            ["credentials"] = new JsonObject { ["totp"] = new JsonObject { ["config"] = new JsonObject { ["totp_url"] = $"otpauth://totp/Acme:a?secret={secret}&issuer=Acme" } } },
        }));
        Assert.Equal(HttpStatusCode.Created, answer.Status);
        AssertNoCredentials(answer, secret);
        var id = IdOf(answer.Json);
        Assert.Equal(secret, (await _node.CredentialsAsync(id))!.TotpSecret);
        Assert.Equal("aal2", (await _node.RecordAsync(id))!.AvailableAal);
        AssertNoCredentials(await _node.GetIdentityAsync(id), secret);
    }

    [Fact]
    public async Task Organization_ids_are_refused_and_null_ones_accepted()
    {
        Assert.Equal(HttpStatusCode.Created, (await _node.PostIdentityAsync(Body(NewEmail(), new JsonObject { ["organization_id"] = null }))).Status);
        AssertError(await _node.PostIdentityAsync(Body(NewEmail(), new JsonObject { ["organization_id"] = Guid.NewGuid().ToString() })), HttpStatusCode.BadRequest);
    }

    [Fact]
    public async Task Traits_with_a_lone_surrogate_are_400_not_500()
    {
        var body = """{"schema_id":"default","traits":{"email":"a\ud800@example.com"}}""";
        AssertError(await _node.PostIdentityAsync(body), HttpStatusCode.BadRequest);
        var identity = await _node.CreateIdentityAsync(Body(NewEmail()));
        AssertError(await _node.PatchIdentityAsync(IdOf(identity), """[{"op":"add","path":"/traits/email","value":"b\udc00@example.com"}]"""), HttpStatusCode.BadRequest);
        // Metadata is kept as raw JSON (an escaped lone surrogate is valid JSON): accepted or refused, never a 5xx.
        var metadata = await _node.PatchIdentityAsync(IdOf(identity), """[{"op":"add","path":"/metadata_public","value":"\udc00"}]""");
        Assert.True(metadata.Code is 200 or 400, $"{metadata}");
    }

    [Fact]
    public async Task Patch_that_copies_a_value_deeper_than_64_levels_is_400_not_500()
    {
        var identity = await _node.CreateIdentityAsync(Body(NewEmail()));
        // The body itself is within the 64 levels a request may nest; the copy makes the identity deeper.
        var deep = string.Concat(Enumerable.Repeat("[", 58)) + string.Concat(Enumerable.Repeat("]", 58));
        const string nest = """{"a":{"b":{"c":{"d":{"e":{"f":{}}}}}}}""";
        var patch = $$$"""
            [{"op":"add","path":"/metadata_public","value":{{{deep}}}},
             {"op":"add","path":"/metadata_admin","value":{{{nest}}}},
             {"op":"copy","from":"/metadata_public","path":"/metadata_admin/a/b/c/d/e/f/g"}]
            """;
        AssertError(await _node.PatchIdentityAsync(IdOf(identity), patch), HttpStatusCode.BadRequest);
        Assert.Equal(JsonValueKind.Null, (await _node.GetIdentityAsync(IdOf(identity))).Json.GetProperty("metadata_admin").ValueKind);
    }
}
