using System.Net;
using OrleansSessions.Api.Tests.Infrastructure;
using static OrleansSessions.Api.Tests.Infrastructure.LoginHelpers;

namespace OrleansSessions.Api.Tests;

/// <summary>A node that allows 3 login submissions per identifier (or identity) per hour, and many per address.</summary>
public sealed class PerIdentifierLimitFixture : LoginNodeFixture
{
    protected override IReadOnlyList<string> MoreArgs =>
    [
        "--selfservice:flows:login:rate_limit:per_identifier:permits=3", "--selfservice:flows:login:rate_limit:per_identifier:window=1h",
        "--selfservice:flows:login:rate_limit:per_address:permits=1000",
    ];
}

/// <summary>A node that allows 3 login submissions per client address per hour.</summary>
public sealed class PerAddressLimitFixture : LoginNodeFixture
{
    protected override IReadOnlyList<string> MoreArgs =>
    [
        "--selfservice:flows:login:rate_limit:per_address:permits=3", "--selfservice:flows:login:rate_limit:per_address:window=1h",
    ];
}

/// <summary>Brute-force limits on login submissions: 429 in Kratos's envelope with Retry-After.</summary>
public sealed class LoginRateLimitTests(PerIdentifierLimitFixture perIdentifier, PerAddressLimitFixture perAddress)
    : IClassFixture<PerIdentifierLimitFixture>, IClassFixture<PerAddressLimitFixture>
{
    private static async Task<Answer> AttemptAsync(ServiceNode node, string identifier, string password) =>
        await node.SubmitAsync(FlowId(await node.NewNativeFlowAsync()), AsJson(PasswordBody(identifier, password)));

    private static void AssertTooMany(Answer answer, int windowSeconds)
    {
        IdentityAdmin.AssertError(answer, HttpStatusCode.TooManyRequests);
        var retryAfter = int.Parse(answer.Header("Retry-After")!);
        Assert.InRange(retryAfter, 1, windowSeconds);
    }

    [Fact]
    public async Task Guessing_one_identifier_is_stopped_even_with_the_right_password_at_the_end()
    {
        var node = perIdentifier.Node;
        var victim = await node.CreatePasswordIdentityAsync();
        var bystander = await node.CreatePasswordIdentityAsync();

        for (var i = 0; i < 3; i++)
            Assert.Equal(HttpStatusCode.BadRequest, (await AttemptAsync(node, victim.Email, $"guess {i}")).Status);
        // Other spellings of the same identifier count against it too.
        AssertTooMany(await AttemptAsync(node, victim.Email.ToUpperInvariant() + " ", victim.Password), 3600);
        AssertTooMany(await AttemptAsync(node, victim.Email, victim.Password), 3600);

        // Another identifier from the same address is not affected.
        Assert.Equal(HttpStatusCode.OK, (await AttemptAsync(node, bystander.Email, bystander.Password)).Status);
    }

    [Fact]
    public async Task Guessing_TOTP_codes_is_stopped_per_identity()
    {
        var node = perIdentifier.Node;
        var identity = await node.CreatePasswordIdentityAsync();
        var secret = await node.EnableTotpAsync(identity.Id);
        var login = await node.LoginNativeAsync(identity);
        var flow = await node.NewNativeFlowAsync("?aal=aal2", login.TokenHeader);
        var wrong = ((int.Parse(node.TotpCodeNow(secret)) + 500_000) % 1_000_000).ToString("D6");

        for (var i = 0; i < 3; i++)
            Assert.Equal(HttpStatusCode.BadRequest, (await node.SubmitAsync(FlowId(flow), AsJson(TotpBody(wrong)), login.TokenHeader)).Status);
        var right = await node.SubmitAsync(FlowId(flow), AsJson(TotpBody(node.TotpCodeNow(secret))), login.TokenHeader);

        AssertTooMany(right, 3600);
        // The session stayed below aal2.
        Assert.Equal("session_aal2_required", ErrorId(await node.WhoamiAsync(login.TokenHeader)));
    }

    [Fact]
    public async Task One_address_is_stopped_whatever_identifiers_it_tries()
    {
        var node = perAddress.Node;
        var identity = await node.CreatePasswordIdentityAsync();

        for (var i = 0; i < 3; i++)
            Assert.Equal(HttpStatusCode.BadRequest, (await AttemptAsync(node, IdentityAdmin.NewEmail($"spray{i}"), "password")).Status);
        var limited = await AttemptAsync(node, identity.Email, identity.Password);

        AssertTooMany(limited, 3600);
        Assert.Equal("Too Many Requests", limited.Json.GetProperty("error").GetProperty("status").GetString());
        // Creating and reading flows is not a login attempt.
        Assert.Equal(HttpStatusCode.OK, (await node.CreateNativeFlowAsync()).Status);
    }
}
