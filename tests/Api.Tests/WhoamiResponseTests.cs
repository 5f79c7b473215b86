using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using OrleansSessions.Api.Tests.Infrastructure;

namespace OrleansSessions.Api.Tests;

/// <summary>What whoami writes: the 200 (headers, body, Kratos's session schema) and the 401 envelope.</summary>
public sealed partial class WhoamiResponseTests(DevNodeFixture fixture) : IClassFixture<DevNodeFixture>
{
    private const string NoStore = "private, no-cache, no-store, must-revalidate";
    private const string Unauthorized401 =
        """{"error":{"code":401,"status":"Unauthorized","reason":"No valid session credentials found in the request.","message":"The request could not be authorized"}}""";

    private readonly ServiceNode _node = fixture.Node;

    [GeneratedRegex(@"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?Z$")]
    private static partial Regex Rfc3339Utc();

    private static void AssertTimestamp(JsonElement value, string what)
    {
        var text = value.GetString();
        Assert.True(text is not null && Rfc3339Utc().IsMatch(text), $"{what} is not RFC 3339 UTC with Z: {text}");
        Assert.Equal(TimeSpan.Zero, DateTimeOffset.Parse(text!, System.Globalization.CultureInfo.InvariantCulture).Offset);
    }

    // ---- 200 ----------------------------------------------------------------------------------

    [Fact]
    public async Task Success_carries_the_identity_header_no_store_and_json_content_type()
    {
        var api = await _node.IssueApiSessionAsync();
        var answer = await _node.WhoamiAsync(api.TokenHeader);
        Assert.Equal(HttpStatusCode.OK, answer.Status);
        Assert.Equal(api.IdentityId.ToString(), answer.Header("X-Kratos-Authenticated-Identity-Id"));
        Assert.Equal(NoStore, answer.Header("Cache-Control"));
        Assert.Equal("application/json; charset=utf-8", answer.Header("Content-Type"));
    }

    [Fact]
    public async Task Success_body_embeds_the_identity_without_credentials_or_admin_metadata()
    {
        var identityId = await _node.CreateIdentityAsync();
        var api = await _node.IssueApiSessionAsync(identityId);
        var body = (await _node.WhoamiAsync(api.TokenHeader)).Json;

        Assert.Equal(api.SessionId, body.GetProperty("id").GetGuid());
        Assert.True(body.GetProperty("active").GetBoolean());
        var identity = body.GetProperty("identity");
        Assert.Equal(identityId, identity.GetProperty("id").GetGuid());
        Assert.Equal("default", identity.GetProperty("schema_id").GetString());
        Assert.Equal("active", identity.GetProperty("state").GetString());
        Assert.Equal(JsonValueKind.Object, identity.GetProperty("traits").ValueKind);
        Assert.Equal("free", identity.GetProperty("metadata_public").GetProperty("plan").GetString());
        Assert.False(identity.TryGetProperty("credentials", out _), "identity.credentials must never be in a session");
        Assert.False(identity.TryGetProperty("metadata_admin", out _), "identity.metadata_admin must never be in whoami");
        Assert.DoesNotContain("admins only", body.GetRawText());
        Assert.False(body.TryGetProperty("token", out _));
        Assert.DoesNotContain(api.Token, body.GetRawText());
        Assert.Equal(JsonValueKind.Array, body.GetProperty("devices").ValueKind);
    }

    [Fact]
    public async Task Success_body_timestamps_are_RFC3339_in_UTC_ending_in_Z()
    {
        var api = await _node.IssueApiSessionAsync();
        var body = (await _node.WhoamiAsync(api.TokenHeader)).Json;
        foreach (var name in new[] { "expires_at", "authenticated_at", "issued_at" })
            AssertTimestamp(body.GetProperty(name), name);
        foreach (var method in body.GetProperty("authentication_methods").EnumerateArray())
            AssertTimestamp(method.GetProperty("completed_at"), "authentication_methods[].completed_at");
        var identity = body.GetProperty("identity");
        foreach (var name in new[] { "created_at", "updated_at", "state_changed_at" })
            AssertTimestamp(identity.GetProperty(name), "identity." + name);
    }

    [Fact]
    public async Task Success_body_is_the_same_session_that_issuance_returned()
    {
        var api = await _node.IssueApiSessionAsync(extra: new JsonObject
        {
            ["device"] = new JsonObject { ["ip_address"] = "203.0.113.7", ["user_agent"] = "tests/1.0", ["location"] = "Berlin, DE" },
        });
        var body = (await _node.WhoamiAsync(api.TokenHeader)).Json;
        Assert.Equal(api.Session.GetRawText(), body.GetRawText());
        var device = Assert.Single(body.GetProperty("devices").EnumerateArray().ToList());
        Assert.Equal("203.0.113.7", device.GetProperty("ip_address").GetString());
        Assert.Equal("tests/1.0", device.GetProperty("user_agent").GetString());
        Assert.Equal("Berlin, DE", device.GetProperty("location").GetString());
    }

    public static TheoryData<string> Methods => ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];

    [Theory]
    [MemberData(nameof(Methods))]
    public async Task Whoami_answers_every_method_with_the_session(string method)
    {
        var api = await _node.IssueApiSessionAsync();
        var answer = await _node.WhoamiAsync(new HttpMethod(method), api.TokenHeader);
        Assert.True(answer.Status == HttpStatusCode.OK, $"{method}: {answer}");
        Assert.Equal(api.SessionId, answer.Json.GetProperty("id").GetGuid());
        Assert.Equal(api.IdentityId.ToString(), answer.Header("X-Kratos-Authenticated-Identity-Id"));
    }

    [Fact]
    public async Task Whoami_answers_HEAD_with_headers_and_no_body()
    {
        var api = await _node.IssueApiSessionAsync();
        var answer = await _node.WhoamiAsync(HttpMethod.Head, api.TokenHeader);
        Assert.Equal(HttpStatusCode.OK, answer.Status);
        Assert.Equal(api.IdentityId.ToString(), answer.Header("X-Kratos-Authenticated-Identity-Id"));
        Assert.Equal(NoStore, answer.Header("Cache-Control"));
        Assert.Equal("", answer.Body);
        // The length is that of the body a GET gets.
        var get = await _node.WhoamiAsync(api.TokenHeader);
        Assert.Equal(get.Body.Length.ToString(), answer.Header("Content-Length"));
    }

    [Fact]
    public async Task Whoami_answers_HEAD_without_credentials_with_401_and_no_body()
    {
        var answer = await _node.WhoamiAsync(HttpMethod.Head);
        Assert.Equal(HttpStatusCode.Unauthorized, answer.Status);
        Assert.Equal("", answer.Body);
    }

    // ---- schema -------------------------------------------------------------------------------

    [Fact]
    public async Task Api_session_body_validates_against_Kratos_session_schema()
    {
        var api = await _node.IssueApiSessionAsync();
        var body = (await _node.WhoamiAsync(api.TokenHeader)).Json;
        var result = KratosSchema.Validate("session", body);
        Assert.True(result.IsValid, KratosSchema.Describe(result));
    }

    [Fact]
    public async Task Browser_aal2_session_body_with_device_validates_against_Kratos_session_schema()
    {
        var browser = await _node.IssueBrowserSessionAsync(extra: new JsonObject
        {
            ["aal"] = "aal2",
            ["device"] = new JsonObject { ["ip_address"] = "2001:db8::1", ["user_agent"] = "Mozilla/5.0" },
        });
        var answer = await _node.WhoamiAsync(browser.CookieHeader);
        Assert.Equal(HttpStatusCode.OK, answer.Status);
        Assert.Equal("aal2", answer.Json.GetProperty("authenticator_assurance_level").GetString());
        var result = KratosSchema.Validate("session", answer.Json);
        Assert.True(result.IsValid, KratosSchema.Describe(result));
    }

    [Theory]
    [InlineData("active", "\"yes\"")]
    [InlineData("expires_at", "\"tomorrow\"")]
    [InlineData("authenticator_assurance_level", "\"aal9\"")]
    [InlineData("id", "\"not-a-uuid\"")]
    [InlineData("devices", "{}")]
    public async Task Schema_validator_rejects_a_body_with_a_wrong_member(string member, string json)
    {
        var api = await _node.IssueApiSessionAsync();
        var body = JsonNode.Parse((await _node.WhoamiAsync(api.TokenHeader)).Body)!.AsObject();
        Assert.True(KratosSchema.Validate("session", JsonSerializer.SerializeToElement(body)).IsValid);
        body[member] = JsonNode.Parse(json);
        var result = KratosSchema.Validate("session", JsonSerializer.SerializeToElement(body));
        Assert.False(result.IsValid, $"a session with {member}={json} passed the schema");
    }

    [Fact]
    public void Schema_validator_rejects_a_body_without_the_required_id()
    {
        var result = KratosSchema.Validate("session", JsonDocument.Parse("""{"active":true}""").RootElement);
        Assert.False(result.IsValid);
    }

    [Fact]
    public void Schema_translation_accepts_null_where_OpenAPI_says_nullable()
    {
        // identity.organization_id is NullUUID (nullable: true): null is valid, a number is not.
        var withNull = JsonDocument.Parse("""{"id":"5b0f8a0e-8f0e-4a7e-9d3e-1f2a3b4c5d6e","schema_id":"d","schema_url":"http://x/","traits":{},"organization_id":null}""");
        Assert.True(KratosSchema.Validate("identity", withNull.RootElement).IsValid);
        var withNumber = JsonDocument.Parse("""{"id":"5b0f8a0e-8f0e-4a7e-9d3e-1f2a3b4c5d6e","schema_id":"d","schema_url":"http://x/","traits":{},"organization_id":5}""");
        Assert.False(KratosSchema.Validate("identity", withNumber.RootElement).IsValid);
    }

    // ---- 401 ----------------------------------------------------------------------------------

    [Fact]
    public async Task Unauthorized_body_is_Kratos_envelope_exactly()
    {
        var answer = await _node.WhoamiAsync();
        Assert.Equal(HttpStatusCode.Unauthorized, answer.Status);
        Assert.Equal(Unauthorized401, answer.Body);
        Assert.Equal("application/json", answer.Header("Content-Type"));
        Assert.Equal(NoStore, answer.Header("Cache-Control"));
        Assert.Null(answer.Header("X-Kratos-Authenticated-Identity-Id"));
    }

    [Fact]
    public async Task Unauthorized_carries_an_empty_Ory_Error_Id_header()
    {
        var answer = await _node.WhoamiAsync(("X-Session-Token", "ory_st_" + new string('x', 32)));
        Assert.Equal(HttpStatusCode.Unauthorized, answer.Status);
        Assert.True(answer.Headers.TryGetValue("Ory-Error-Id", out var values), "Ory-Error-Id header missing");
        Assert.Equal("", string.Concat(values));
    }

    [Fact]
    public async Task Unauthorized_echoes_X_Request_ID_as_request_between_status_and_reason()
    {
        var answer = await _node.WhoamiAsync(("X-Request-ID", "abc"));
        Assert.Equal(HttpStatusCode.Unauthorized, answer.Status);
        Assert.Equal(
            """{"error":{"code":401,"status":"Unauthorized","request":"abc","reason":"No valid session credentials found in the request.","message":"The request could not be authorized"}}""",
            answer.Body);
    }

    [Fact]
    public async Task Unauthorized_for_an_unknown_token_is_the_same_envelope_as_for_none()
    {
        var unknown = await _node.WhoamiAsync(("X-Session-Token", "ory_st_" + new string('u', 32)));
        var garbageCookie = await _node.WhoamiAsync(("Cookie", $"{ServiceNode.CookieName}=abc"));
        Assert.Equal(Unauthorized401, unknown.Body);
        Assert.Equal(Unauthorized401, garbageCookie.Body);
    }
}
