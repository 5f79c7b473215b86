using System.Buffers.Text;
using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using OrleansSessions.Api.Identities;
using OrleansSessions.Api.Tests.Infrastructure;
using static OrleansSessions.Api.Tests.Infrastructure.IdentityAdmin;

namespace OrleansSessions.Api.Tests;

/// <summary>The built-in identity schema: served, enforced on traits, and the source of login identifiers.</summary>
public sealed class IdentitySchemaTests(DevNodeFixture fixture) : IClassFixture<DevNodeFixture>
{
    private readonly ServiceNode _node = fixture.Node;

    private static string Base64UrlOf(string id) => Base64Url.EncodeToString(Encoding.UTF8.GetBytes(id));

    [Fact]
    public async Task Schemas_are_listed_on_the_public_port_with_the_built_in_default()
    {
        var answer = await _node.SendForAnswerAsync(HttpMethod.Get, _node.Public("/schemas"));
        Assert.Equal(HttpStatusCode.OK, answer.Status);
        Assert.Equal("private, no-cache, no-store, must-revalidate", answer.Header("Cache-Control"));
        var validation = KratosSchema.Validate("identitySchemas", answer.Json);
        Assert.True(validation.IsValid, KratosSchema.Describe(validation));
        var schemas = answer.Json.EnumerateArray().ToList();
        Assert.Equal(["default"], schemas.Select(s => s.GetProperty("id").GetString()));
        var email = schemas[0].GetProperty("schema").GetProperty("properties").GetProperty("traits").GetProperty("properties").GetProperty("email");
        Assert.Equal("email", email.GetProperty("format").GetString());
        Assert.True(email.GetProperty("ory.sh/kratos").GetProperty("credentials").GetProperty("password").GetProperty("identifier").GetBoolean());
    }

    [Theory]
    [InlineData("public", "default")]
    [InlineData("public", "ZGVmYXVsdA")]
    [InlineData("admin", "ZGVmYXVsdA")]
    [InlineData("admin", "/admin/schemas/default")]
    public async Task A_schema_is_served_by_its_id_or_its_base64url_id(string port, string idOrPath)
    {
        var path = idOrPath.StartsWith('/') ? idOrPath : "/schemas/" + idOrPath;
        var answer = await _node.SendForAnswerAsync(HttpMethod.Get, port == "public" ? _node.Public(path) : _node.Admin(path));
        Assert.True(answer.Status == HttpStatusCode.OK, $"{port} {path}: {answer}");
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse(IdentitySchemas.BuiltInText()), JsonNode.Parse(answer.Body)), answer.Body);
    }

    [Theory]
    [InlineData("nope")]
    [InlineData("bm9wZQ")]
    [InlineData("%E2%82%AC")]
    public async Task An_unknown_schema_is_404(string id)
    {
        AssertError(await _node.SendForAnswerAsync(HttpMethod.Get, _node.Public("/schemas/" + id)), HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task Every_identity_schema_url_resolves_on_the_public_port()
    {
        var identity = await _node.CreateIdentityAsync(Body(NewEmail()));
        var schemaUrl = new Uri(identity.GetProperty("schema_url").GetString()!);
        Assert.Equal("/schemas/" + Base64UrlOf("default"), schemaUrl.AbsolutePath);
        // The node listens on a port chosen at start-up; the path is what must resolve.
        var answer = await _node.SendForAnswerAsync(HttpMethod.Get, _node.Public(schemaUrl.PathAndQuery));
        Assert.Equal(HttpStatusCode.OK, answer.Status);
        Assert.Equal("default.schema.json", new Uri(answer.Json.GetProperty("$id").GetString()!).Segments[^1]);
    }

    [Theory]
    [InlineData("""{}""", "#/traits/email", "required")]
    [InlineData("""{"email":"not-an-email"}""", "#/traits/email", "email")]
    [InlineData("""{"email":42}""", "#/traits/email", "string")]
    [InlineData("""{"email":"a@example.com","nickname":"bob"}""", "#/traits/nickname", "not allowed")]
    public async Task Invalid_traits_are_400_naming_the_field_and_the_problem(string traits, string field, string problem)
    {
        var answer = await _node.PostIdentityAsync($$"""{"schema_id":"default","traits":{{traits}}}""");
        var reason = AssertError(answer, HttpStatusCode.BadRequest);
        Assert.Contains(field, reason);
        Assert.Contains(problem, reason);
        Assert.Equal("The request was malformed or contained invalid parameters", answer.Json.GetProperty("error").GetProperty("message").GetString());
    }

    [Fact]
    public async Task An_unknown_schema_id_is_400_on_create_and_update()
    {
        Assert.Contains("marketing", AssertError(await _node.PostIdentityAsync("""{"schema_id":"marketing","traits":{"email":"a@example.com"}}"""), HttpStatusCode.BadRequest));
        var identity = await _node.CreateIdentityAsync(Body(NewEmail()));
        var put = await _node.PutIdentityAsync(identity.GetProperty("id").GetGuid(), UpdateBodyOf(identity, b => b["schema_id"] = "marketing"));
        Assert.Contains("marketing", AssertError(put, HttpStatusCode.BadRequest));
    }

    [Fact]
    public async Task The_email_identifier_is_lower_cased()
    {
        var local = $"Mixed.Case.{Guid.NewGuid():N}";
        var identity = await _node.CreateIdentityAsync(Body($"{local}@Example.COM"));
        var id = identity.GetProperty("id").GetGuid();
        // The traits keep what was sent; the identifier is normalised.
        Assert.Equal($"{local}@Example.COM", identity.GetProperty("traits").GetProperty("email").GetString());
        Assert.Equal([$"{local.ToLowerInvariant()}@example.com"], (await _node.CredentialsAsync(id))!.Identifiers.ToArray());
    }

    // ---- unit: the schema catalogue ---------------------------------------------------------

    private static string Base64Schema(string json) => "base64://" + Convert.ToBase64String(Encoding.UTF8.GetBytes(json));

    [Fact]
    public void A_default_schema_id_that_is_not_configured_stops_start_up()
    {
        var settings = new IdentitySchemaSettings { DefaultSchemaId = "missing" };
        var e = Assert.Throws<InvalidOperationException>(() => new IdentitySchemas(settings, AppContext.BaseDirectory));
        Assert.Contains("missing", e.Message);
    }

    [Theory]
    [InlineData("https://example.com/schema.json", "file:// and base64://")]
    [InlineData("base64://bm90IGpzb24", "could not load")]
    [InlineData("base64://***", "could not load")]
    [InlineData("file:///does/not/exist.json", "could not load")]
    public void A_schema_that_cannot_be_loaded_stops_start_up(string url, string messagePart)
    {
        var settings = new IdentitySchemaSettings { Schemas = [new IdentitySchemaSource { Id = "broken", Url = url }] };
        var e = Assert.Throws<InvalidOperationException>(() => new IdentitySchemas(settings, AppContext.BaseDirectory));
        Assert.Contains(messagePart, e.Message);
        Assert.Contains("broken", e.Message);
    }

    [Fact]
    public void Identifiers_are_found_through_refs_arrays_and_nested_objects()
    {
        const string schema = """
            {
              "$schema": "http://json-schema.org/draft-07/schema#",
              "definitions": {
                "email": { "type": "string", "format": "email",
                           "ory.sh/kratos": { "credentials": { "password": { "identifier": true } } } }
              },
              "type": "object",
              "properties": { "traits": { "type": "object", "properties": {
                "emails": { "type": "array", "items": { "$ref": "#/definitions/email" } },
                "account": { "type": "object", "properties": {
                  "handle": { "type": "string", "ory.sh/kratos": { "credentials": { "password": { "identifier": true }, "totp": { "account_name": true } } } }
                } },
                "nickname": { "type": "string" }
              } } }
            }
            """;
        var schemas = new IdentitySchemas(new IdentitySchemaSettings
        {
            DefaultSchemaId = "people",
            Schemas = [new IdentitySchemaSource { Id = "people", Url = Base64Schema(schema) }],
        }, AppContext.BaseDirectory);
        var people = schemas.Find("people")!;
        using var traits = JsonDocument.Parse("""{"emails":["A@Example.com","b@example.com"],"account":{"handle":"  Ada "},"nickname":"Not-An-Identifier"}""");
        var check = people.Check(traits.RootElement);
        Assert.True(check.IsValid, string.Join("\n", check.Errors));
        Assert.Equal(new[] { "a@example.com", "ada", "b@example.com" }, check.Identifiers.Order(StringComparer.Ordinal));
        Assert.Equal("Ada", check.TotpAccountName);
        // The built-in default stays available beside configured schemas.
        Assert.NotNull(schemas.Find("default"));

        using var invalid = JsonDocument.Parse("""{"emails":["a@example.com","nope"],"account":{"handle":5}}""");
        var errors = people.Check(invalid.RootElement).Errors;
        Assert.Contains(errors, e => e.StartsWith("#/traits/emails/1:", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("#/traits/account/handle:", StringComparison.Ordinal));
    }
}

/// <summary>A node configured with two schemas of its own (one base64://, one file://), the first the default.</summary>
public sealed class ConfiguredSchemasNodeFixture : DevNodeFixture, IDisposable
{
    public const string CustomerSchema = """
        {
          "$schema": "http://json-schema.org/draft-07/schema#",
          "type": "object",
          "properties": { "traits": { "type": "object", "properties": {
            "username": { "type": "string", "minLength": 3,
                          "ory.sh/kratos": { "credentials": { "password": { "identifier": true }, "totp": { "account_name": true } } } },
            "emails": { "type": "array", "items": { "type": "string", "format": "email",
                          "ory.sh/kratos": { "credentials": { "password": { "identifier": true } } } } },
            "name": { "type": "object", "properties": { "first": { "type": "string" } } }
          }, "required": ["username"] } }
        }
        """;

    public const string EmployeeSchema = """
        {
          "$schema": "https://json-schema.org/draft/2020-12/schema",
          "type": "object",
          "properties": { "traits": { "type": "object", "properties": {
            "employee_number": { "type": "string", "pattern": "^E[0-9]{4}$",
                                 "ory.sh/kratos": { "credentials": { "password": { "identifier": true } } } }
          }, "required": ["employee_number"], "additionalProperties": false } }
        }
        """;

    private readonly string _schemaFile = Path.Combine(Path.GetTempPath(), $"employee-{Guid.NewGuid():N}.schema.json");

    public ConfiguredSchemasNodeFixture() => File.WriteAllText(_schemaFile, EmployeeSchema);

    public void Dispose() => File.Delete(_schemaFile);

    protected override NodeOptions Options => new()
    {
        ExtraArgs =
        [
            "--identity:default_schema_id=customer",
            "--identity:schemas:0:id=customer",
            "--identity:schemas:0:url=base64://" + Convert.ToBase64String(Encoding.UTF8.GetBytes(CustomerSchema)),
            "--identity:schemas:1:id=employee",
            "--identity:schemas:1:url=file://" + _schemaFile,
        ],
    };
}

/// <summary>Schemas from configuration (Kratos's <c>identity.schemas</c>): listed, enforced, identifiers extracted.</summary>
public sealed class ConfiguredIdentitySchemaTests(ConfiguredSchemasNodeFixture fixture) : IClassFixture<ConfiguredSchemasNodeFixture>
{
    private readonly ServiceNode _node = fixture.Node;

    private Task<Answer> FindAsync(string identifier) =>
        _node.SendForAnswerAsync(HttpMethod.Get, _node.Admin($"/admin/identities?credentials_identifier={Uri.EscapeDataString(identifier)}"));

    [Fact]
    public async Task Configured_schemas_are_listed_and_served()
    {
        var list = await _node.SendForAnswerAsync(HttpMethod.Get, _node.Public("/schemas"));
        Assert.Equal(["default", "customer", "employee"], list.Json.EnumerateArray().Select(s => s.GetProperty("id").GetString()));
        var employee = await _node.SendForAnswerAsync(HttpMethod.Get, _node.Public("/schemas/" + Base64Url.EncodeToString("employee"u8)));
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse(ConfiguredSchemasNodeFixture.EmployeeSchema), JsonNode.Parse(employee.Body)));
    }

    [Fact]
    public async Task Identifiers_come_from_every_marked_trait_trimmed_and_lower_cased()
    {
        var suffix = Guid.NewGuid().ToString("N")[..12];
        var identity = await _node.CreateIdentityAsync(new JsonObject
        {
            ["schema_id"] = "customer",
            ["traits"] = new JsonObject
            {
                ["username"] = $"  MixedCase{suffix} ",
                ["emails"] = new JsonArray($"One{suffix}@Example.com", $"two{suffix}@example.com"),
                ["name"] = new JsonObject { ["first"] = "Ada" },
            },
        });
        var id = identity.GetProperty("id").GetGuid();
        Assert.Equal("customer", identity.GetProperty("schema_id").GetString());
        foreach (var identifier in new[] { $"mixedcase{suffix}", $"one{suffix}@example.com", $"TWO{suffix}@example.com" })
            Assert.Equal([id], (await FindAsync(identifier)).Json.EnumerateArray().Select(i => i.GetProperty("id").GetGuid()));

        // Any one of them taken by another identity is a conflict.
        var clash = await _node.PostIdentityAsync(new JsonObject
        {
            ["schema_id"] = "customer",
            ["traits"] = new JsonObject { ["username"] = $"other{suffix}", ["emails"] = new JsonArray($"TWO{suffix}@EXAMPLE.COM") },
        });
        AssertError(clash, HttpStatusCode.Conflict);

        // TOTP enrolment names the account after the trait the schema marks (trimmed, case kept).
        var totp = await _node.EnrolTotpAsync(id);
        Assert.Contains(Uri.EscapeDataString($"MixedCase{suffix}") + "?", totp.Json.GetProperty("totp_url").GetString());
    }

    [Fact]
    public async Task Nested_errors_name_their_field_in_each_schema()
    {
        var customer = await _node.PostIdentityAsync("""{"schema_id":"customer","traits":{"username":"ab","emails":["ok@example.com","bad"],"name":{"first":1}}}""");
        var reason = AssertError(customer, HttpStatusCode.BadRequest);
        Assert.Contains("#/traits/username", reason);
        Assert.Contains("#/traits/emails/1", reason);
        Assert.Contains("#/traits/name/first", reason);

        var employee = await _node.PostIdentityAsync("""{"schema_id":"employee","traits":{"employee_number":"X12"}}""");
        Assert.Contains("#/traits/employee_number", AssertError(employee, HttpStatusCode.BadRequest));
    }

    [Fact]
    public async Task Changing_the_schema_id_validates_against_the_new_schema()
    {
        var identity = await _node.CreateIdentityAsync(new JsonObject { ["schema_id"] = "customer", ["traits"] = new JsonObject { ["username"] = $"emp{Guid.NewGuid():N}" } });
        var id = identity.GetProperty("id").GetGuid();
        var refused = await _node.PatchIdentityAsync(id, """[{"op":"replace","path":"/schema_id","value":"employee"}]""");
        Assert.Contains("#/traits", AssertError(refused, HttpStatusCode.BadRequest));

        const string number = "E1234";
        var moved = await _node.PatchIdentityAsync(id, $$$"""
            [{"op":"replace","path":"/schema_id","value":"employee"},
             {"op":"replace","path":"/traits","value":{"employee_number":"{{{number}}}"}}]
            """);
        Assert.Equal(HttpStatusCode.OK, moved.Status);
        Assert.Equal("employee", moved.Json.GetProperty("schema_id").GetString());
        Assert.Equal([number.ToLowerInvariant()], (await _node.CredentialsAsync(id))!.Identifiers.ToArray());
    }
}
