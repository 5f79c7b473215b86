using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Options;
using OrleansSessions.Api.Credentials;
using OrleansSessions.Api.Tests.Infrastructure;
using OrleansSessions.Json;
using static OrleansSessions.Api.Tests.Infrastructure.IdentityAdmin;

namespace OrleansSessions.Api.Tests;

/// <summary>
/// Identity changes made through the admin API reach the identity's live sessions before the call
/// returns: disabled or deleted → the next whoami is 401; enabled again → 200; traits show at once;
/// a TOTP credential makes an aal1 session 403 <c>session_aal2_required</c>.
/// </summary>
public sealed class IdentityLifecycleHttpTests(DevNodeFixture fixture) : IClassFixture<DevNodeFixture>
{
    private readonly ServiceNode _node = fixture.Node;

    private sealed record Sessions(IssuedSession Api, IssuedSession Other, IssuedSession Browser)
    {
        public IEnumerable<(string Name, (string, string) Header)> Carriers =>
        [
            ("api token", Api.TokenHeader), ("api bearer", Api.BearerHeader), ("other api token", Other.TokenHeader), ("browser cookie", Browser.CookieHeader),
        ];
    }

    private async Task<(JsonElement Identity, Sessions Sessions)> IdentityWithSessionsAsync()
    {
        var identity = await _node.CreateIdentityAsync(Body(NewEmail(), new JsonObject { ["metadata_public"] = new JsonObject { ["plan"] = "free" } }));
        var id = identity.GetProperty("id").GetGuid();
        var sessions = new Sessions(await _node.IssueApiSessionAsync(id), await _node.IssueApiSessionAsync(id), await _node.IssueBrowserSessionAsync(id));
        // The first two are looked up (held in memory); the second api session never is before the change.
        Assert.Equal(HttpStatusCode.OK, (await _node.WhoamiAsync(sessions.Api.TokenHeader)).Status);
        Assert.Equal(HttpStatusCode.OK, (await _node.WhoamiAsync(sessions.Browser.CookieHeader)).Status);
        return (identity, sessions);
    }

    private async Task AssertEveryCarrierAsync(Sessions sessions, HttpStatusCode expected, string when)
    {
        foreach (var (name, header) in sessions.Carriers)
        {
            var answer = await _node.WhoamiAsync(header);
            Assert.True(answer.Status == expected, $"{when}: whoami with the {name} answered {answer}");
            if (expected == HttpStatusCode.Unauthorized)
                Assert.Equal("No valid session credentials found in the request.", answer.Json.GetProperty("error").GetProperty("reason").GetString());
        }
    }

    [Fact]
    public async Task Put_inactive_makes_every_session_401_at_once_and_active_again_brings_them_back()
    {
        var (identity, sessions) = await IdentityWithSessionsAsync();
        var id = identity.GetProperty("id").GetGuid();
        Assert.Equal(HttpStatusCode.OK, (await _node.PutIdentityAsync(id, UpdateBodyOf(identity, b => b["state"] = "inactive"))).Status);
        await AssertEveryCarrierAsync(sessions, HttpStatusCode.Unauthorized, "after PUT state=inactive");
        Assert.Equal(HttpStatusCode.OK, (await _node.PutIdentityAsync(id, UpdateBodyOf(identity, b => b["state"] = "active"))).Status);
        await AssertEveryCarrierAsync(sessions, HttpStatusCode.OK, "after PUT state=active");
    }

    [Fact]
    public async Task Patch_inactive_makes_every_session_401_at_once_and_active_again_brings_them_back()
    {
        var (identity, sessions) = await IdentityWithSessionsAsync();
        var id = identity.GetProperty("id").GetGuid();
        Assert.Equal(HttpStatusCode.OK, (await _node.PatchIdentityAsync(id, """[{"op":"replace","path":"/state","value":"inactive"}]""")).Status);
        await AssertEveryCarrierAsync(sessions, HttpStatusCode.Unauthorized, "after PATCH /state inactive");
        Assert.Equal(HttpStatusCode.OK, (await _node.PatchIdentityAsync(id, """[{"op":"replace","path":"/state","value":"active"}]""")).Status);
        await AssertEveryCarrierAsync(sessions, HttpStatusCode.OK, "after PATCH /state active");
    }

    [Fact]
    public async Task Deleting_the_identity_makes_every_session_401_for_good()
    {
        var (identity, sessions) = await IdentityWithSessionsAsync();
        var id = identity.GetProperty("id").GetGuid();
        Assert.Equal(HttpStatusCode.NoContent, (await _node.DeleteIdentityAsync(id)).Status);
        await AssertEveryCarrierAsync(sessions, HttpStatusCode.Unauthorized, "after DELETE");
        await AssertEveryCarrierAsync(sessions, HttpStatusCode.Unauthorized, "after DELETE, asked again");
        var issue = await _node.SendForAnswerAsync(HttpMethod.Post, _node.Admin($"/admin/identities/{id}/sessions"), """{"channel":"api"}""");
        AssertError(issue, HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task A_traits_or_metadata_change_shows_in_the_next_whoami()
    {
        var (identity, sessions) = await IdentityWithSessionsAsync();
        var id = identity.GetProperty("id").GetGuid();
        var email = NewEmail("changed");
        Assert.Equal(HttpStatusCode.OK, (await _node.PutIdentityAsync(id, UpdateBodyOf(identity, b => b["traits"] = new JsonObject { ["email"] = email }))).Status);
        foreach (var (name, header) in sessions.Carriers)
        {
            var whoami = await _node.WhoamiAsync(header);
            Assert.True(whoami.Status == HttpStatusCode.OK, $"{name}: {whoami}");
            Assert.Equal(email, whoami.Json.GetProperty("identity").GetProperty("traits").GetProperty("email").GetString());
        }

        var patched = NewEmail("patched");
        Assert.Equal(HttpStatusCode.OK, (await _node.PatchIdentityAsync(id, $$$"""
            [{"op":"replace","path":"/traits/email","value":"{{{patched}}}"},
             {"op":"replace","path":"/metadata_public/plan","value":"pro"},
             {"op":"add","path":"/metadata_admin","value":{"hidden":"from sessions"}}]
            """)).Status);
        var after = await _node.WhoamiAsync(sessions.Browser.CookieHeader);
        Assert.Equal(patched, after.Json.GetProperty("identity").GetProperty("traits").GetProperty("email").GetString());
        Assert.Equal("pro", after.Json.GetProperty("identity").GetProperty("metadata_public").GetProperty("plan").GetString());
        Assert.DoesNotContain("from sessions", after.Body);
    }

    // ---- TOTP -----------------------------------------------------------------------------

    private string ExpectedAal2Body()
    {
        var baseUrl = _node.Service<IOptions<JsonRenderingOptions>>().Value.PublicBaseUrl;
        var redirect = $"{baseUrl}self-service/login/browser?aal=aal2";
        return new JsonObject
        {
            ["error"] = new JsonObject
            {
                ["id"] = "session_aal2_required",
                ["code"] = 403,
                ["status"] = "Forbidden",
                ["reason"] = "An active session was found but it does not fulfill the requested Authenticator Assurance Level. Please verify yourself with a second factor to resolve this issue.",
                ["details"] = new JsonObject { ["redirect_browser_to"] = redirect },
                ["message"] = "Session does not fulfill the requested Authenticator Assurance Level",
            },
            ["redirect_browser_to"] = redirect,
        }.ToJsonString();
    }

    private void AssertAal2Required(Answer answer, string what)
    {
        Assert.True(answer.Status == HttpStatusCode.Forbidden, $"{what}: {answer}");
        Assert.Equal("session_aal2_required", answer.Header("Ory-Error-Id"));
        // Same members, same order, same values as Kratos's body.
        Assert.Equal(ExpectedAal2Body(), JsonNode.Parse(answer.Body)!.ToJsonString());
    }

    [Fact]
    public async Task Totp_enrolment_makes_aal1_sessions_403_aal2_required_and_deleting_it_brings_them_back()
    {
        var (identity, sessions) = await IdentityWithSessionsAsync();
        var id = identity.GetProperty("id").GetGuid();
        var aal2 = await _node.IssueApiSessionAsync(id, new JsonObject { ["aal"] = "aal2" });

        var enrolled = await _node.EnrolTotpAsync(id);
        Assert.Equal(HttpStatusCode.OK, enrolled.Status);
        foreach (var (name, header) in sessions.Carriers)
            AssertAal2Required(await _node.WhoamiAsync(header), name);
        var stillFine = await _node.WhoamiAsync(aal2.TokenHeader);
        Assert.True(stillFine.Status == HttpStatusCode.OK, $"aal2 session: {stillFine}");

        var deleted = await _node.DeleteCredentialsAsync(id);
        Assert.Equal(HttpStatusCode.NoContent, deleted.Status);
        await AssertEveryCarrierAsync(sessions, HttpStatusCode.OK, "after deleting the TOTP credential");
        AssertError(await _node.DeleteCredentialsAsync(id), HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task Totp_imported_by_put_makes_aal1_sessions_403_too()
    {
        var (identity, sessions) = await IdentityWithSessionsAsync();
        var secret = TotpCodes.NewSecret();
        var put = await _node.PutIdentityAsync(identity.GetProperty("id").GetGuid(), UpdateBodyOf(identity, b =>
            b["credentials"] = new JsonObject { ["totp"] = new JsonObject { ["config"] = new JsonObject { ["totp_url"] = $"otpauth://totp/x:y?secret={secret}" } } }));
        Assert.Equal(HttpStatusCode.OK, put.Status);
        AssertNoCredentials(put, secret);
        AssertAal2Required(await _node.WhoamiAsync(sessions.Api.TokenHeader), "api token");
        AssertAal2Required(await _node.WhoamiAsync(sessions.Browser.CookieHeader), "browser cookie");
    }

    [Fact]
    public async Task Totp_enrolment_answers_a_new_secret_each_time_and_imports_a_given_one()
    {
        var email = NewEmail();
        var id = (await _node.CreateIdentityAsync(Body(email))).GetProperty("id").GetGuid();
        var first = await _node.EnrolTotpAsync(id);
        Assert.Equal(HttpStatusCode.OK, first.Status);
        Assert.Equal("application/json; charset=utf-8", first.Header("Content-Type"));
        var url = first.Json.GetProperty("totp_url").GetString()!;
        Assert.StartsWith("otpauth://totp/", url);
        Assert.Contains(Uri.EscapeDataString(email), url);
        var secret = TotpCodes.SecretOf(url);
        Assert.NotNull(secret);
        Assert.Equal(secret, (await _node.CredentialsAsync(id))!.TotpSecret);
        Assert.Equal("aal2", (await _node.RecordAsync(id))!.AvailableAal);

        var second = TotpCodes.SecretOf((await _node.EnrolTotpAsync(id, "{}")).Json.GetProperty("totp_url").GetString()!);
        Assert.NotEqual(secret, second);
        Assert.Equal(second, (await _node.CredentialsAsync(id))!.TotpSecret);

        var imported = TotpCodes.NewSecret();
        var answer = await _node.EnrolTotpAsync(id, $$"""{"totp_url":"otpauth://totp/Old:{{email}}?secret={{imported}}&issuer=Old"}""");
        Assert.Equal(HttpStatusCode.OK, answer.Status);
        Assert.Equal(imported, TotpCodes.SecretOf(answer.Json.GetProperty("totp_url").GetString()!));
        Assert.Equal(imported, (await _node.CredentialsAsync(id))!.TotpSecret);
        // The secret is shown by enrolment only, never by the identity.
        AssertNoCredentials(await _node.GetIdentityAsync(id), imported, secret, second);
    }

    [Theory]
    [InlineData("""{"totp_url":"otpauth://hotp/x?secret=JBSWY3DPEHPK3PXP"}""")]
    [InlineData("""{"totp_url":"otpauth://totp/x?secret=short"}""")]
    [InlineData("""{"totp_url":"otpauth://totp/x?secret=JBSWY3DPEHPK3PXPJBSWY3DP&algorithm=SHA256"}""")]
    [InlineData("""{"totp_url":5}""")]
    [InlineData("""[]""")]
    [InlineData("""not json""")]
    public async Task Totp_enrolment_with_a_bad_body_is_400_and_changes_nothing(string body)
    {
        var id = (await _node.CreateIdentityAsync(Body(NewEmail()))).GetProperty("id").GetGuid();
        AssertError(await _node.EnrolTotpAsync(id, body), HttpStatusCode.BadRequest);
        Assert.Null((await _node.CredentialsAsync(id))!.TotpSecret);
        Assert.Equal("aal1", (await _node.RecordAsync(id))!.AvailableAal);
    }

    [Fact]
    public async Task Totp_enrolment_for_an_unknown_identity_is_404_and_for_a_bad_uuid_400()
    {
        AssertError(await _node.EnrolTotpAsync(Guid.NewGuid()), HttpStatusCode.NotFound);
        AssertError(await _node.SendForAnswerAsync(HttpMethod.Put, _node.Admin("/admin/identities/abc/credentials/totp"), "{}"), HttpStatusCode.BadRequest);
    }

    [Theory]
    [InlineData("password", HttpStatusCode.BadRequest)]
    [InlineData("oidc", HttpStatusCode.NotFound)]
    [InlineData("webauthn", HttpStatusCode.NotFound)]
    [InlineData("totp", HttpStatusCode.NotFound)]
    [InlineData("carrier_pigeon", HttpStatusCode.BadRequest)]
    public async Task Deleting_credentials_the_identity_does_not_have_or_we_do_not_delete_is_a_4xx(string type, HttpStatusCode expected)
    {
        var id = (await _node.CreateIdentityAsync(Body(NewEmail(), new JsonObject
        {
            ["credentials"] = new JsonObject { ["password"] = new JsonObject { ["config"] = new JsonObject { ["password"] = "kept-password" } } },
        }))).GetProperty("id").GetGuid();
        AssertError(await _node.DeleteCredentialsAsync(id, type), expected);
        Assert.NotNull((await _node.CredentialsAsync(id))!.PasswordHash);
    }

    [Fact]
    public async Task Deleting_credentials_of_an_unknown_identity_is_404_and_of_a_bad_uuid_400()
    {
        AssertError(await _node.DeleteCredentialsAsync(Guid.NewGuid()), HttpStatusCode.NotFound);
        AssertError(await _node.SendForAnswerAsync(HttpMethod.Delete, _node.Admin("/admin/identities/abc/credentials/totp")), HttpStatusCode.BadRequest);
    }
}
