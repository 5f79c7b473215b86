namespace OrleansSessions.Tests.Unit;

public sealed class SessionJsonTests
{
    private const string BaseUrl = "https://sessions.example.test/";
    private static readonly DateTimeOffset T0 = new(2030, 6, 7, 8, 9, 10, TimeSpan.Zero);

    private static readonly IdentityRecord Identity = new()
    {
        Id = Guid.Parse("7f8f4d6a-1b2c-4d3e-8f90-a1b2c3d4e5f6"),
        SchemaId = "default",
        State = IdentityRecord.StateActive,
        StateChangedAt = T0,
        Traits = """{"email":"ada@example.test"}""",
        MetadataPublic = """{"plan":"pro"}""",
        MetadataAdmin = """{"credentials":"must never leak","note":"admins only"}""",
        ExternalId = "crm-7",
        CreatedAt = T0,
        UpdatedAt = T0.AddTicks(5_000_000),
    };

    private static readonly SessionRecord Session = new()
    {
        Id = Guid.Parse("0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"),
        IdentityId = Identity.Id,
        Channel = SessionChannel.Browser,
        Revoked = false,
        Aal = AuthenticatorAssurance.Aal2,
        AuthenticationMethods =
        [
            new AuthenticationMethod { Method = "password", Aal = AuthenticatorAssurance.Aal1, CompletedAt = T0 },
            new AuthenticationMethod { Method = "totp", Aal = AuthenticatorAssurance.Aal2, CompletedAt = T0.AddTicks(1_500_000) },
        ],
        Devices =
        [
            new SessionDevice { Id = Guid.Parse("11111111-2222-4333-8444-555555555555"), IpAddress = "203.0.113.9", UserAgent = "UA/1", Location = "Paris, FR" },
            new SessionDevice { Id = Guid.Parse("66666666-7777-4888-9999-aaaaaaaaaaaa") },
        ],
        IssuedAt = T0.AddTicks(10),
        AuthenticatedAt = T0.AddTicks(20),
        ExpiresAt = T0.AddDays(1),
        CreatedAt = T0,
        UpdatedAt = T0,
    };

    private static JsonDocument Render(bool active = true) =>
        JsonDocument.Parse(SessionJson.Render(Session, Identity, active, BaseUrl));

    private static string[] Names(JsonElement obj) => obj.EnumerateObject().Select(p => p.Name).ToArray();

    /// <summary>The session's members are Kratos's, in Kratos's order.</summary>
    [Fact]
    public void Session_members_are_in_order()
    {
        using var doc = Render();

        Assert.Equal(
            ["id", "active", "expires_at", "authenticated_at", "authenticator_assurance_level", "authentication_methods",
             "issued_at", "identity", "devices"],
            Names(doc.RootElement));
    }

    [Fact]
    public void Session_values_are_written_as_Kratos_writes_them()
    {
        using var doc = Render();
        var root = doc.RootElement;

        Assert.Equal("0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d", root.GetProperty("id").GetString());
        Assert.True(root.GetProperty("active").GetBoolean());
        Assert.Equal("2030-06-08T08:09:10Z", root.GetProperty("expires_at").GetString());
        Assert.Equal("2030-06-07T08:09:10.000002Z", root.GetProperty("authenticated_at").GetString());
        Assert.Equal("aal2", root.GetProperty("authenticator_assurance_level").GetString());
        Assert.Equal("2030-06-07T08:09:10.000001Z", root.GetProperty("issued_at").GetString());

        var methods = root.GetProperty("authentication_methods").EnumerateArray().ToArray();
        Assert.Equal(2, methods.Length);
        Assert.All(methods, m => Assert.Equal(["method", "aal", "completed_at"], Names(m)));
        Assert.Equal("password", methods[0].GetProperty("method").GetString());
        Assert.Equal("aal1", methods[0].GetProperty("aal").GetString());
        Assert.Equal("2030-06-07T08:09:10Z", methods[0].GetProperty("completed_at").GetString());
        Assert.Equal("totp", methods[1].GetProperty("method").GetString());
        Assert.Equal("2030-06-07T08:09:10.15Z", methods[1].GetProperty("completed_at").GetString());
    }

    [Fact]
    public void Active_false_is_written_as_false()
    {
        using var doc = Render(active: false);

        Assert.False(doc.RootElement.GetProperty("active").GetBoolean());
    }

    /// <summary>Devices: id always; ip_address, user_agent and location only when known.</summary>
    [Fact]
    public void Devices_leave_out_unknown_fields()
    {
        using var doc = Render();
        var devices = doc.RootElement.GetProperty("devices").EnumerateArray().ToArray();

        Assert.Equal(2, devices.Length);
        Assert.Equal(["id", "ip_address", "user_agent", "location"], Names(devices[0]));
        Assert.Equal("11111111-2222-4333-8444-555555555555", devices[0].GetProperty("id").GetString());
        Assert.Equal("203.0.113.9", devices[0].GetProperty("ip_address").GetString());
        Assert.Equal("UA/1", devices[0].GetProperty("user_agent").GetString());
        Assert.Equal("Paris, FR", devices[0].GetProperty("location").GetString());
        Assert.Equal(["id"], Names(devices[1]));
    }

    /// <summary>The embedded identity has Kratos's members in order, and never metadata_admin or credentials.</summary>
    [Fact]
    public void Identity_is_embedded_without_admin_metadata_or_credentials()
    {
        using var doc = Render();
        var identity = doc.RootElement.GetProperty("identity");

        Assert.Equal(
            ["id", "external_id", "schema_id", "schema_url", "state", "state_changed_at", "traits", "metadata_public",
             "created_at", "updated_at", "organization_id"],
            Names(identity));
        Assert.False(identity.TryGetProperty("metadata_admin", out _));
        Assert.False(identity.TryGetProperty("credentials", out _));
        var raw = System.Text.Encoding.UTF8.GetString(SessionJson.Render(Session, Identity, true, BaseUrl));
        Assert.DoesNotContain("metadata_admin", raw, StringComparison.Ordinal);
        Assert.DoesNotContain("admins only", raw, StringComparison.Ordinal);
        Assert.DoesNotContain("credentials", raw, StringComparison.Ordinal);
    }

    [Fact]
    public void Identity_values_are_written_as_Kratos_writes_them()
    {
        using var doc = Render();
        var identity = doc.RootElement.GetProperty("identity");

        Assert.Equal("7f8f4d6a-1b2c-4d3e-8f90-a1b2c3d4e5f6", identity.GetProperty("id").GetString());
        Assert.Equal("crm-7", identity.GetProperty("external_id").GetString());
        Assert.Equal("default", identity.GetProperty("schema_id").GetString());
        // base64url("default") = ZGVmYXVsdA, under the public base URL without a doubled slash.
        Assert.Equal("https://sessions.example.test/schemas/ZGVmYXVsdA", identity.GetProperty("schema_url").GetString());
        Assert.Equal("active", identity.GetProperty("state").GetString());
        Assert.Equal("2030-06-07T08:09:10Z", identity.GetProperty("state_changed_at").GetString());
        Assert.Equal("ada@example.test", identity.GetProperty("traits").GetProperty("email").GetString());
        Assert.Equal("pro", identity.GetProperty("metadata_public").GetProperty("plan").GetString());
        Assert.Equal("2030-06-07T08:09:10.5Z", identity.GetProperty("updated_at").GetString());
        Assert.Equal(JsonValueKind.Null, identity.GetProperty("organization_id").ValueKind);
    }

    /// <summary>Optional identity members: external_id and state_changed_at are left out when unset; metadata_public is null.</summary>
    [Fact]
    public void Identity_without_optional_values()
    {
        var bare = Identity with { ExternalId = null, StateChangedAt = null, MetadataPublic = null, MetadataAdmin = null };
        using var doc = JsonDocument.Parse(SessionJson.Render(Session, bare, true, BaseUrl));
        var identity = doc.RootElement.GetProperty("identity");

        Assert.False(identity.TryGetProperty("external_id", out _));
        Assert.False(identity.TryGetProperty("state_changed_at", out _));
        Assert.Equal(JsonValueKind.Null, identity.GetProperty("metadata_public").ValueKind);
        Assert.False(identity.TryGetProperty("metadata_admin", out _));
    }

    /// <summary>The admin audience is the one place metadata_admin appears.</summary>
    [Fact]
    public void Admin_identity_adds_metadata_admin()
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>();
        using (var w = new Utf8JsonWriter(buffer))
            IdentityJson.Write(w, Identity, IdentityAudience.Admin, BaseUrl);
        using var doc = JsonDocument.Parse(buffer.WrittenMemory);

        Assert.Equal("admins only", doc.RootElement.GetProperty("metadata_admin").GetProperty("note").GetString());
    }

    /// <summary>Without the identity or devices in the shape (admin listings), both are written as null.</summary>
    [Fact]
    public void Shape_without_identity_and_devices_writes_nulls()
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>();
        using (var w = new Utf8JsonWriter(buffer))
            SessionJson.Write(w, Session, Identity, true, new SessionJsonShape(Identity: false, Devices: false), BaseUrl);
        using var doc = JsonDocument.Parse(buffer.WrittenMemory);

        Assert.Equal(JsonValueKind.Null, doc.RootElement.GetProperty("identity").ValueKind);
        Assert.Equal(JsonValueKind.Null, doc.RootElement.GetProperty("devices").ValueKind);
        Assert.Equal(
            ["id", "active", "expires_at", "authenticated_at", "authenticator_assurance_level", "authentication_methods",
             "issued_at", "identity", "devices"],
            Names(doc.RootElement));
    }

    /// <summary>
    /// A whoami body written from the held session is byte for byte the whole rendering, its identity piece is the
    /// array given, and it crosses to another process as pieces that write the same bytes.
    /// </summary>
    [Fact]
    public void The_body_written_from_the_session_is_the_whole_rendering()
    {
        var identityJson = SessionJson.RenderIdentity(Identity, BaseUrl);

        var body = WhoamiBody.Of(Session, identityJson);

        var whole = SessionJson.Render(Session, Identity, active: true, BaseUrl);
        Assert.Equal(whole, body.Written().ToArray());
        Assert.Equal(whole, body.ToArray());
        Assert.Same(identityJson, body.Identity);
        Assert.Same(Session, body.Session);
        var pieces = new WhoamiBodyConverter().ConvertToSurrogate(body);
        Assert.Same(identityJson, pieces.Identity);
        var received = new WhoamiBodyConverter().ConvertFromSurrogate(pieces);
        Assert.Null(received.Session);
        Assert.Equal(whole, received.ToArray());
        Assert.Equal(whole, (byte[])[.. pieces.Head, .. pieces.Identity, .. pieces.Tail]);
    }

    /// <summary>The thread's buffer is reused: a body written after another has its own bytes, not the first's tail.</summary>
    [Fact]
    public void Bodies_written_one_after_the_other_each_have_their_own_bytes()
    {
        var identityJson = SessionJson.RenderIdentity(Identity, BaseUrl);
        var longer = WhoamiBody.Of(Session, identityJson);
        var shorter = WhoamiBody.Of(Session with { Devices = [] }, identityJson);

        var first = longer.Written().ToArray();
        var second = shorter.Written().ToArray();

        Assert.Equal(SessionJson.Render(Session with { Devices = [] }, Identity, active: true, BaseUrl), second);
        Assert.True(first.Length > second.Length);
        Assert.Equal(first, longer.Written().ToArray());
    }

    /// <summary>A tokenized body ends with the token as its last member, the rest unchanged.</summary>
    [Fact]
    public void A_tokenized_body_adds_the_token_last()
    {
        var body = WhoamiBody.Of(Session, SessionJson.RenderIdentity(Identity, BaseUrl));

        var tokenized = OrleansSessions.Tokenizer.SessionTokenizer.WithToken(body, "a.b.c");

        using var doc = JsonDocument.Parse(tokenized.ToArray());
        Assert.Equal("tokenized", Names(doc.RootElement)[^1]);
        Assert.Equal("a.b.c", doc.RootElement.GetProperty("tokenized").GetString());
        var whole = body.ToArray();
        Assert.Equal(whole[..^1], tokenized.ToArray()[..(whole.Length - 1)]);
    }
}
