using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using OrleansSessions.Api.Tests.Infrastructure;
using static OrleansSessions.Api.Tests.Infrastructure.LoginHelpers;

namespace OrleansSessions.Api.Tests;

/// <summary>Native (API) login flows: creation, reading, password and TOTP submissions, re-authentication, expiry.</summary>
public sealed class LoginFlowApiTests(LoginNodeFixture fixture) : IClassFixture<LoginNodeFixture>
{
    private const string InvalidCredentialsText =
        "The provided credentials are invalid, check for spelling mistakes in your password or username, email address, or phone number.";

    private ServiceNode Node => fixture.Node;

    // ---- creating and reading ------------------------------------------------------------------

    [Fact]
    public async Task Native_flow_has_the_shape_of_Kratos_loginFlow()
    {
        var answer = await Node.CreateNativeFlowAsync();

        Assert.Equal(HttpStatusCode.OK, answer.Status);
        Assert.Equal("private, no-cache, no-store, must-revalidate", answer.Header("Cache-Control"));
        var flow = answer.Json;
        AssertValid("loginFlow", flow);
        var id = FlowId(flow);
        Assert.Equal("api", flow.GetProperty("type").GetString());
        Assert.Equal("aal1", flow.GetProperty("requested_aal").GetString());
        Assert.False(flow.GetProperty("refresh").GetBoolean());
        Assert.Equal("choose_method", flow.GetProperty("state").GetString());
        Assert.Equal(Node.PublicBase() + "self-service/login/api", flow.GetProperty("request_url").GetString());
        Assert.Equal(TimeSpan.FromHours(1),
            flow.GetProperty("expires_at").GetDateTimeOffset() - flow.GetProperty("issued_at").GetDateTimeOffset());
        var ui = flow.GetProperty("ui");
        Assert.Equal(Node.PublicBase() + $"self-service/login?flow={id}", ui.GetProperty("action").GetString());
        Assert.Equal("POST", ui.GetProperty("method").GetString());
        Assert.Equal(["identifier", "password", "method"], NodeNames(flow));
        Assert.Equal("password", UiNode(flow, "method").GetProperty("attributes").GetProperty("value").GetString());
        Assert.Equal("password", UiNode(flow, "password").GetProperty("attributes").GetProperty("type").GetString());
        Assert.Empty(MessageIds(flow));
    }

    [Fact]
    public async Task Get_flow_returns_the_flow_and_404_for_unknown_ids()
    {
        var flow = await Node.NewNativeFlowAsync();

        var found = await Node.GetFlowAsync(FlowId(flow));
        Assert.Equal(HttpStatusCode.OK, found.Status);
        Assert.Equal(FlowId(flow), FlowId(found.Json));
        AssertValid("loginFlow", found.Json);

        IdentityAdmin.AssertError(await Node.GetFlowAsync(Guid.NewGuid()), HttpStatusCode.NotFound);
        var garbage = await Node.SendAsync(HttpMethod.Get, Node.Public("/self-service/login/flows?id=not-a-uuid"));
        IdentityAdmin.AssertError(garbage, HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task Aal2_without_a_session_is_401_session_aal1_required()
    {
        var answer = await Node.CreateNativeFlowAsync("?aal=aal2");

        IdentityAdmin.AssertError(answer, HttpStatusCode.Unauthorized);
        Assert.Equal("session_aal1_required", ErrorId(answer));
        Assert.Equal("session_aal1_required", answer.Header("Ory-Error-Id"));
    }

    [Fact]
    public async Task An_unknown_aal_is_400()
    {
        var answer = await Node.CreateNativeFlowAsync("?aal=aal9");

        Assert.Contains("aal9", IdentityAdmin.AssertError(answer, HttpStatusCode.BadRequest));
    }

    [Fact]
    public async Task A_signed_in_client_gets_400_session_already_available()
    {
        var login = await Node.LoginNativeAsync(await Node.CreatePasswordIdentityAsync());

        var answer = await Node.CreateNativeFlowAsync("", login.TokenHeader);

        IdentityAdmin.AssertError(answer, HttpStatusCode.BadRequest);
        Assert.Equal("session_already_available", ErrorId(answer));
    }

    [Fact]
    public async Task A_flow_created_before_signing_in_cannot_be_submitted_with_the_session()
    {
        var identity = await Node.CreatePasswordIdentityAsync();
        var flow = await Node.NewNativeFlowAsync();
        var login = await Node.LoginNativeAsync(identity);

        var answer = await Node.SubmitAsync(FlowId(flow), AsJson(PasswordBody(identity.Email, identity.Password)), login.TokenHeader);

        IdentityAdmin.AssertError(answer, HttpStatusCode.BadRequest);
        Assert.Equal("session_already_available", ErrorId(answer));
    }

    // ---- password ------------------------------------------------------------------------------

    [Fact]
    public async Task Password_login_answers_a_token_and_a_session_that_whoami_accepts()
    {
        var identity = await Node.CreatePasswordIdentityAsync();
        var flow = await Node.NewNativeFlowAsync();

        var answer = await Node.SubmitAsync(FlowId(flow), AsJson(PasswordBody(identity.Email, identity.Password)));

        Assert.Equal(HttpStatusCode.OK, answer.Status);
        Assert.DoesNotContain(answer.SetCookies(), c => c.StartsWith(ServiceNode.CookieName, StringComparison.Ordinal));
        AssertValid("successfulNativeLogin", answer.Json);
        var login = new NativeLogin(answer.Json);
        Assert.Matches("^ory_st_[A-Za-z0-9]{32}$", login.Token);
        Assert.Equal(identity.Id, login.Session.GetProperty("identity").GetProperty("id").GetGuid());
        Assert.Equal("aal1", login.Session.GetProperty("authenticator_assurance_level").GetString());
        var method = Assert.Single(login.Session.GetProperty("authentication_methods").EnumerateArray());
        Assert.Equal("password", method.GetProperty("method").GetString());
        Assert.Equal("127.0.0.1", Assert.Single(login.Session.GetProperty("devices").EnumerateArray()).GetProperty("ip_address").GetString());

        var whoami = await Node.WhoamiAsync(login.TokenHeader);
        Assert.Equal(HttpStatusCode.OK, whoami.Status);
        Assert.Equal(login.SessionId, whoami.Json.GetProperty("id").GetGuid());
        // A token session is not a cookie session.
        Assert.Equal(HttpStatusCode.Unauthorized, (await Node.WhoamiAsync(("Cookie", $"{ServiceNode.CookieName}={login.Token}"))).Status);
    }

    [Fact]
    public async Task Identifier_is_matched_trimmed_and_case_insensitively()
    {
        var identity = await Node.CreatePasswordIdentityAsync();

        var login = await Node.LoginNativeAsync($"  {identity.Email.ToUpperInvariant()} ", identity.Password);

        Assert.Equal(identity.Id, login.Session.GetProperty("identity").GetProperty("id").GetGuid());
    }

    [Fact]
    public async Task Form_bodies_are_accepted_for_API_flows_too()
    {
        var identity = await Node.CreatePasswordIdentityAsync();
        var flow = await Node.NewNativeFlowAsync();

        var answer = await Node.SubmitAsync(FlowId(flow),
            Form(("method", "password"), ("identifier", identity.Email), ("password", identity.Password)));

        Assert.Equal(HttpStatusCode.OK, answer.Status);
        Assert.Matches("^ory_st_", answer.Json.GetProperty("session_token").GetString());
    }

    [Fact]
    public async Task Wrong_password_and_unknown_identifier_answer_the_same_400_flow()
    {
        var identity = await Node.CreatePasswordIdentityAsync();
        var wrongFlow = await Node.NewNativeFlowAsync();
        var unknownFlow = await Node.NewNativeFlowAsync();
        var unknownEmail = IdentityAdmin.NewEmail("nobody");

        var wrong = await Node.SubmitAsync(FlowId(wrongFlow), AsJson(PasswordBody(identity.Email, "not the password")));
        var unknown = await Node.SubmitAsync(FlowId(unknownFlow), AsJson(PasswordBody(unknownEmail, identity.Password)));

        foreach (var answer in new[] { wrong, unknown })
        {
            Assert.Equal(HttpStatusCode.BadRequest, answer.Status);
            AssertValid("loginFlow", answer.Json);
            var message = Assert.Single(answer.Json.GetProperty("ui").GetProperty("messages").EnumerateArray());
            Assert.Equal(4000006, message.GetProperty("id").GetInt64());
            Assert.Equal(InvalidCredentialsText, message.GetProperty("text").GetString());
            Assert.Equal("error", message.GetProperty("type").GetString());
            Assert.Equal("password", answer.Json.GetProperty("active").GetString());
        }
        Assert.Equal(identity.Email, UiNode(wrong.Json, "identifier").GetProperty("attributes").GetProperty("value").GetString());
        Assert.Equal(unknownEmail, UiNode(unknown.Json, "identifier").GetProperty("attributes").GetProperty("value").GetString());
        // Apart from what differs by construction (ids, times, the identifier typed), the bodies are equal.
        Assert.Equal(Comparable(wrong.Json, identity.Email), Comparable(unknown.Json, unknownEmail));

        // The flow keeps the failure: reading it shows the same message.
        var again = await Node.GetFlowAsync(FlowId(wrongFlow));
        Assert.Equal([4000006L], MessageIds(again.Json));
    }

    private static string Comparable(JsonElement flow, string identifier)
    {
        var text = flow.GetRawText().Replace(identifier, "<identifier>", StringComparison.Ordinal)
            .Replace(FlowId(flow).ToString(), "<id>", StringComparison.Ordinal);
        var node = JsonNode.Parse(text)!.AsObject();
        foreach (var time in new[] { "expires_at", "issued_at", "created_at", "updated_at" })
            node.Remove(time);
        return node.ToJsonString();
    }

    [Fact]
    public async Task Missing_identifier_and_password_are_reported_on_their_nodes()
    {
        var flow = await Node.NewNativeFlowAsync();

        var answer = await Node.SubmitAsync(FlowId(flow), AsJson(new JsonObject { ["method"] = "password" }));

        Assert.Equal(HttpStatusCode.BadRequest, answer.Status);
        AssertValid("loginFlow", answer.Json);
        foreach (var name in new[] { "identifier", "password" })
        {
            var message = Assert.Single(UiNode(answer.Json, name).GetProperty("messages").EnumerateArray());
            Assert.Equal(4000002, message.GetProperty("id").GetInt64());
            Assert.Equal($"Property {name} is missing.", message.GetProperty("text").GetString());
        }
    }

    [Theory]
    [InlineData("""{"method":"webauthn"}""")]
    [InlineData("""{"identifier":"a@example.com","password":"x"}""")]
    [InlineData("""{"method":"totp","totp_code":"123456"}""")]
    public async Task A_method_the_flow_does_not_offer_is_400_with_no_strategy_message(string body)
    {
        var flow = await Node.NewNativeFlowAsync();

        var answer = await Node.SubmitAsync(FlowId(flow), new StringContent(body, System.Text.Encoding.UTF8, "application/json"));

        Assert.Equal(HttpStatusCode.BadRequest, answer.Status);
        Assert.Equal([4010002L], MessageIds(answer.Json));
    }

    [Fact]
    public async Task Malformed_submissions_are_400_and_unknown_flows_404()
    {
        var flow = await Node.NewNativeFlowAsync();

        IdentityAdmin.AssertError(await Node.SubmitAsync(FlowId(flow), new StringContent("{nope", System.Text.Encoding.UTF8, "application/json")),
            HttpStatusCode.BadRequest);
        IdentityAdmin.AssertError(await Node.SubmitAsync(FlowId(flow), new StringContent("[1]", System.Text.Encoding.UTF8, "application/json")),
            HttpStatusCode.BadRequest);
        IdentityAdmin.AssertError(await Node.SubmitAsync(FlowId(flow), new StringContent("""{"method":"password","identifier":7}""",
            System.Text.Encoding.UTF8, "application/json")), HttpStatusCode.BadRequest);
        IdentityAdmin.AssertError(await Node.SubmitAsync(FlowId(flow), new StringContent("x", System.Text.Encoding.UTF8, "text/plain")),
            HttpStatusCode.BadRequest);
        IdentityAdmin.AssertError(await Node.SendAsync(HttpMethod.Post, Node.Public("/self-service/login"), AsJson(PasswordBody("a", "b"))),
            HttpStatusCode.BadRequest);
        IdentityAdmin.AssertError(await Node.SubmitAsync(Guid.NewGuid(), AsJson(PasswordBody("a", "b"))), HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task A_disabled_identity_with_the_right_password_is_400_identity_disabled()
    {
        var identity = await Node.CreatePasswordIdentityAsync(state: "inactive");

        var right = await Node.SubmitAsync(FlowId(await Node.NewNativeFlowAsync()), AsJson(PasswordBody(identity.Email, identity.Password)));
        var wrong = await Node.SubmitAsync(FlowId(await Node.NewNativeFlowAsync()), AsJson(PasswordBody(identity.Email, "wrong")));

        IdentityAdmin.AssertError(right, HttpStatusCode.BadRequest);
        Assert.Equal("identity_disabled", ErrorId(right));
        // Without the password nobody learns that the account is disabled.
        Assert.Equal(HttpStatusCode.BadRequest, wrong.Status);
        Assert.Equal([4000006L], MessageIds(wrong.Json));
    }

    [Fact]
    public async Task A_login_with_an_outdated_hash_rehashes_the_password()
    {
        const string password = "imported from an old system";
        var bcrypt = BCrypt.Net.BCrypt.HashPassword(password, workFactor: 4);
        var identity = await Node.CreatePasswordIdentityAsync(password,
            passwordConfig: new JsonObject { ["hashed_password"] = bcrypt });
        Assert.Equal(bcrypt, (await Node.CredentialsAsync(identity.Id))!.PasswordHash);

        await Node.LoginNativeAsync(identity);

        var rehashed = (await Node.CredentialsAsync(identity.Id))!.PasswordHash!;
        Assert.StartsWith("$argon2id$", rehashed);
        // The new hash is of the same password.
        await Node.LoginNativeAsync(identity);
        Assert.Equal(rehashed, (await Node.CredentialsAsync(identity.Id))!.PasswordHash);
    }

    [Fact]
    public async Task A_completed_flow_cannot_log_in_again()
    {
        var identity = await Node.CreatePasswordIdentityAsync();
        var flow = await Node.NewNativeFlowAsync();
        var first = await Node.SubmitAsync(FlowId(flow), AsJson(PasswordBody(identity.Email, identity.Password)));
        Assert.Equal(HttpStatusCode.OK, first.Status);

        var replay = await Node.SubmitAsync(FlowId(flow), AsJson(PasswordBody(identity.Email, identity.Password)));

        Assert.Equal(HttpStatusCode.BadRequest, replay.Status);
        Assert.Equal([4010002L], MessageIds(replay.Json));
        Assert.Equal("passed_challenge", replay.Json.GetProperty("state").GetString());
    }

    // ---- browser requests on API flows ---------------------------------------------------------

    [Fact]
    public async Task An_API_flow_submission_with_Origin_is_400()
    {
        var identity = await Node.CreatePasswordIdentityAsync();
        var flow = await Node.NewNativeFlowAsync();

        var answer = await Node.SubmitAsync(FlowId(flow), AsJson(PasswordBody(identity.Email, identity.Password)), ("Origin", "https://evil.example"));

        Assert.StartsWith("The HTTP Request Header included the \"Origin\" key", IdentityAdmin.AssertError(answer, HttpStatusCode.BadRequest));
    }

    [Fact]
    public async Task An_API_flow_submission_with_a_cookie_is_400_but_Cloudflare_cookies_are_ignored()
    {
        var identity = await Node.CreatePasswordIdentityAsync();
        var flow = await Node.NewNativeFlowAsync();

        var withCookie = await Node.SubmitAsync(FlowId(flow), AsJson(PasswordBody(identity.Email, identity.Password)),
            ("Cookie", "__cf_bm=x; theme=dark"));
        Assert.StartsWith("The HTTP Request Header included the \"Cookie\" key", IdentityAdmin.AssertError(withCookie, HttpStatusCode.BadRequest));

        var cloudflare = await Node.SubmitAsync(FlowId(flow), AsJson(PasswordBody(identity.Email, identity.Password)),
            ("Cookie", "__cf_bm=a; _cfuvid=b; cf_clearance=c"));
        Assert.Equal(HttpStatusCode.OK, cloudflare.Status);
    }

    // ---- re-authentication ---------------------------------------------------------------------

    [Fact]
    public async Task Refresh_re_authenticates_the_same_session()
    {
        var identity = await Node.CreatePasswordIdentityAsync();
        var login = await Node.LoginNativeAsync(identity);
        var before = login.Session;
        Node.Clock.Advance(TimeSpan.FromMinutes(5));

        var flow = await Node.NewNativeFlowAsync("?refresh=true", login.TokenHeader);
        Assert.True(flow.GetProperty("refresh").GetBoolean());
        Assert.Equal([1010003L], MessageIds(flow));
        var identifier = UiNode(flow, "identifier").GetProperty("attributes");
        Assert.Equal("hidden", identifier.GetProperty("type").GetString());
        Assert.Equal(identity.Email, identifier.GetProperty("value").GetString());

        var answer = await Node.SubmitAsync(FlowId(flow), AsJson(PasswordBody(identity.Email, identity.Password)), login.TokenHeader);

        Assert.Equal(HttpStatusCode.OK, answer.Status);
        var again = new NativeLogin(answer.Json);
        Assert.Equal(login.Token, again.Token);
        Assert.Equal(login.SessionId, again.SessionId);
        Assert.True(again.Session.GetProperty("authenticated_at").GetDateTimeOffset()
            >= before.GetProperty("authenticated_at").GetDateTimeOffset().AddMinutes(5));
        Assert.True(again.Session.GetProperty("expires_at").GetDateTimeOffset()
            >= before.GetProperty("expires_at").GetDateTimeOffset().AddMinutes(5));
        Assert.Equal(before.GetProperty("issued_at").GetString(), again.Session.GetProperty("issued_at").GetString());
        Assert.Equal(["password", "password"],
            again.Session.GetProperty("authentication_methods").EnumerateArray().Select(m => m.GetProperty("method").GetString()));

        var whoami = await Node.WhoamiAsync(login.TokenHeader);
        Assert.Equal(again.Session.GetProperty("expires_at").GetString(), whoami.Json.GetProperty("expires_at").GetString());
    }

    [Fact]
    public async Task Refresh_with_another_identity_starts_a_new_session()
    {
        var first = await Node.CreatePasswordIdentityAsync();
        var second = await Node.CreatePasswordIdentityAsync();
        var login = await Node.LoginNativeAsync(first);
        var flow = await Node.NewNativeFlowAsync("?refresh=true", login.TokenHeader);

        var answer = await Node.SubmitAsync(FlowId(flow), AsJson(PasswordBody(second.Email, second.Password)), login.TokenHeader);

        Assert.Equal(HttpStatusCode.OK, answer.Status);
        var other = new NativeLogin(answer.Json);
        Assert.NotEqual(login.SessionId, other.SessionId);
        Assert.NotEqual(login.Token, other.Token);
        Assert.Equal(second.Id, other.Session.GetProperty("identity").GetProperty("id").GetGuid());
        Assert.Equal(first.Id, (await Node.WhoamiAsync(login.TokenHeader)).Json.GetProperty("identity").GetProperty("id").GetGuid());
    }

    // ---- second factor -------------------------------------------------------------------------

    [Fact]
    public async Task With_TOTP_the_password_login_hides_the_identity_until_the_second_factor()
    {
        var identity = await Node.CreatePasswordIdentityAsync();
        var secret = await Node.EnableTotpAsync(identity.Id);

        var login = await Node.LoginNativeAsync(identity);

        Assert.Equal(JsonValueKind.Null, login.Session.GetProperty("identity").ValueKind);
        Assert.Equal("aal1", login.Session.GetProperty("authenticator_assurance_level").GetString());
        var whoami = await Node.WhoamiAsync(login.TokenHeader);
        Assert.Equal(HttpStatusCode.Forbidden, whoami.Status);
        Assert.Equal("session_aal2_required", ErrorId(whoami));

        var flow = await Node.NewNativeFlowAsync("?aal=aal2", login.TokenHeader);
        Assert.Equal("aal2", flow.GetProperty("requested_aal").GetString());
        Assert.Equal(["totp_code", "method"], NodeNames(flow));
        Assert.Equal([1010004L], MessageIds(flow));
        AssertValid("loginFlow", flow);

        var wrongCode = (int.Parse(Node.TotpCodeNow(secret)) + 1) % 1_000_000;
        var wrong = await Node.SubmitAsync(FlowId(flow), AsJson(TotpBody(wrongCode.ToString("D6"))), login.TokenHeader);
        Assert.Equal(HttpStatusCode.BadRequest, wrong.Status);
        var message = Assert.Single(UiNode(wrong.Json, "totp_code").GetProperty("messages").EnumerateArray());
        Assert.Equal(4000008, message.GetProperty("id").GetInt64());
        Assert.Equal("The provided authentication code is invalid, please try again.", message.GetProperty("text").GetString());

        var right = await Node.SubmitAsync(FlowId(flow), AsJson(TotpBody(Node.TotpCodeNow(secret))), login.TokenHeader);
        Assert.Equal(HttpStatusCode.OK, right.Status);
        var upgraded = new NativeLogin(right.Json);
        Assert.Equal(login.SessionId, upgraded.SessionId);
        Assert.Equal(login.Token, upgraded.Token);
        Assert.Equal("aal2", upgraded.Session.GetProperty("authenticator_assurance_level").GetString());
        Assert.Equal(identity.Id, upgraded.Session.GetProperty("identity").GetProperty("id").GetGuid());
        Assert.Equal(["password", "totp"],
            upgraded.Session.GetProperty("authentication_methods").EnumerateArray().Select(m => m.GetProperty("method").GetString()));

        var after = await Node.WhoamiAsync(login.TokenHeader);
        Assert.Equal(HttpStatusCode.OK, after.Status);
        Assert.Equal("aal2", after.Json.GetProperty("authenticator_assurance_level").GetString());

        // aal2 is reached: asking for it again is "already signed in".
        var more = await Node.CreateNativeFlowAsync("?aal=aal2", login.TokenHeader);
        Assert.Equal("session_already_available", ErrorId(more));
    }

    [Fact]
    public async Task A_second_factor_for_an_identity_without_TOTP_is_refused()
    {
        var login = await Node.LoginNativeAsync(await Node.CreatePasswordIdentityAsync());
        var flow = await Node.NewNativeFlowAsync("?aal=aal2", login.TokenHeader);

        var answer = await Node.SubmitAsync(FlowId(flow), AsJson(TotpBody("123456")), login.TokenHeader);

        Assert.Equal(HttpStatusCode.BadRequest, answer.Status);
        Assert.Equal([4000011L], MessageIds(answer.Json));
        Assert.Equal("aal1", (await Node.WhoamiAsync(login.TokenHeader)).Json.GetProperty("authenticator_assurance_level").GetString());
    }

    [Fact]
    public async Task An_aal2_flow_submitted_without_the_session_is_401()
    {
        var identity = await Node.CreatePasswordIdentityAsync();
        var secret = await Node.EnableTotpAsync(identity.Id);
        var login = await Node.LoginNativeAsync(identity);
        var flow = await Node.NewNativeFlowAsync("?aal=aal2", login.TokenHeader);

        var answer = await Node.SubmitAsync(FlowId(flow), AsJson(TotpBody(Node.TotpCodeNow(secret))));

        IdentityAdmin.AssertError(answer, HttpStatusCode.Unauthorized);
        Assert.Equal("session_aal1_required", ErrorId(answer));
    }

    // ---- expiry --------------------------------------------------------------------------------

    [Fact]
    public async Task An_expired_flow_is_410_and_its_submission_answers_a_replacement()
    {
        var identity = await Node.CreatePasswordIdentityAsync();
        var flow = await Node.NewNativeFlowAsync();
        Node.Clock.Advance(TimeSpan.FromMinutes(61));

        var read = await Node.GetFlowAsync(FlowId(flow));
        IdentityAdmin.AssertError(read, HttpStatusCode.Gone);
        Assert.Equal("self_service_flow_expired", ErrorId(read));
        Assert.Equal(Node.PublicBase() + "self-service/login/api",
            read.Json.GetProperty("error").GetProperty("details").GetProperty("api").GetString());

        var submitted = await Node.SubmitAsync(FlowId(flow), AsJson(PasswordBody(identity.Email, identity.Password)));
        IdentityAdmin.AssertError(submitted, HttpStatusCode.Gone);
        Assert.Equal("self_service_flow_expired", ErrorId(submitted));
        AssertValid("selfServiceFlowExpiredError", submitted.Json);
        Assert.Equal(flow.GetProperty("expires_at").GetDateTimeOffset(), submitted.Json.GetProperty("expired_at").GetDateTimeOffset());
        Assert.Equal(TimeSpan.FromMinutes(1).Ticks * 100, submitted.Json.GetProperty("since").GetInt64());
        var replacementId = submitted.Json.GetProperty("use_flow_id").GetGuid();
        Assert.NotEqual(FlowId(flow), replacementId);

        var replacement = await Node.GetFlowAsync(replacementId);
        Assert.Equal(HttpStatusCode.OK, replacement.Status);
        Assert.Equal([4010001L], MessageIds(replacement.Json));
        var login = await Node.SubmitAsync(replacementId, AsJson(PasswordBody(identity.Email, identity.Password)));
        Assert.Equal(HttpStatusCode.OK, login.Status);
    }
}
