using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using Orleans;
using OrleansSessions.Identities;

namespace OrleansSessions.Api.Tests.Infrastructure;

/// <summary>Calls of the admin identity API for the identity tests, and reads of what the grains hold.</summary>
public static class IdentityAdmin
{
    public static string NewEmail(string prefix = "user") => $"{prefix}-{Guid.NewGuid():N}@example.com";

    public static JsonObject Body(string email, JsonObject? extra = null)
    {
        var body = new JsonObject { ["schema_id"] = "default", ["traits"] = new JsonObject { ["email"] = email } };
        if (extra is not null)
            foreach (var (name, value) in extra)
                body[name] = value?.DeepClone();
        return body;
    }

    public static Task<Answer> PostIdentityAsync(this ServiceNode node, JsonNode body) =>
        node.SendForAnswerAsync(HttpMethod.Post, node.Admin("/admin/identities"), body.ToJsonString());

    public static Task<Answer> PostIdentityAsync(this ServiceNode node, string json) =>
        node.SendForAnswerAsync(HttpMethod.Post, node.Admin("/admin/identities"), json);

    /// <summary>Creates an identity with this body; asserts 201 and returns the identity JSON.</summary>
    public static async Task<JsonElement> CreateIdentityAsync(this ServiceNode node, JsonObject body)
    {
        var answer = await node.PostIdentityAsync(body);
        Assert.True(answer.Status == HttpStatusCode.Created, $"createIdentity answered {answer}");
        return answer.Json;
    }

    public static Task<Answer> GetIdentityAsync(this ServiceNode node, Guid id) =>
        node.SendForAnswerAsync(HttpMethod.Get, node.Admin($"/admin/identities/{id}"));

    public static Task<Answer> PutIdentityAsync(this ServiceNode node, Guid id, JsonNode body) =>
        node.SendForAnswerAsync(HttpMethod.Put, node.Admin($"/admin/identities/{id}"), body.ToJsonString());

    public static Task<Answer> PatchIdentityAsync(this ServiceNode node, Guid id, string patch) =>
        node.SendForAnswerAsync(HttpMethod.Patch, node.Admin($"/admin/identities/{id}"), patch);

    public static Task<Answer> DeleteIdentityAsync(this ServiceNode node, Guid id) =>
        node.SendForAnswerAsync(HttpMethod.Delete, node.Admin($"/admin/identities/{id}"));

    public static Task<Answer> EnrolTotpAsync(this ServiceNode node, Guid id, string body = "{}") =>
        node.SendForAnswerAsync(HttpMethod.Put, node.Admin($"/admin/identities/{id}/credentials/totp"), body);

    public static Task<Answer> DeleteCredentialsAsync(this ServiceNode node, Guid id, string type = "totp") =>
        node.SendForAnswerAsync(HttpMethod.Delete, node.Admin($"/admin/identities/{id}/credentials/{type}"));

    /// <summary>An updateIdentityBody that keeps everything of <paramref name="identity"/> except what <paramref name="change"/> sets.</summary>
    public static JsonObject UpdateBodyOf(JsonElement identity, Action<JsonObject>? change = null)
    {
        var source = JsonNode.Parse(identity.GetRawText())!.AsObject();
        var body = new JsonObject();
        foreach (var name in new[] { "schema_id", "traits", "state", "external_id", "metadata_public", "metadata_admin" })
            if (source.TryGetPropertyValue(name, out var value))
                body[name] = value?.DeepClone();
        change?.Invoke(body);
        return body;
    }

    /// <summary>What the identity grain holds as credentials (never visible over HTTP).</summary>
    public static Task<IdentityCredentials?> CredentialsAsync(this ServiceNode node, Guid id) =>
        node.Service<IGrainFactory>().GetGrain<IIdentityGrain>(id).GetCredentialsAsync();

    public static Task<IdentityRecord?> RecordAsync(this ServiceNode node, Guid id) =>
        node.Service<IGrainFactory>().GetGrain<IIdentityGrain>(id).GetAsync();

    /// <summary>Asserts a 4xx in Kratos's envelope whose code matches the status; returns the error's reason.</summary>
    public static string AssertError(Answer answer, HttpStatusCode status)
    {
        Assert.True(answer.Status == status, $"expected {(int)status}, got {answer}");
        var error = answer.Json.GetProperty("error");
        Assert.Equal((int)status, error.GetProperty("code").GetInt32());
        return error.TryGetProperty("reason", out var reason) ? reason.GetString()! : "";
    }

    /// <summary>A success body that shows an identity must never carry credentials or anything secret.</summary>
    public static void AssertNoCredentials(Answer answer, params string?[] secrets)
    {
        Assert.True(answer.Code is >= 200 and < 300, $"expected a success, got {answer}");
        foreach (var forbidden in new[] { "credentials", "hashed_password", "\"password\"", "totp_url", "$argon2", "$2a$", "$2b$", "$2y$", "otpauth" })
            Assert.DoesNotContain(forbidden, answer.Body);
        foreach (var secret in secrets)
            if (!string.IsNullOrEmpty(secret))
                Assert.DoesNotContain(secret, answer.Body);
    }
}
