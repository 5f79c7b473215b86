using System.Net;
using OrleansSessions.Api.Tests.Infrastructure;
using static OrleansSessions.Api.Tests.Infrastructure.LoginHelpers;

namespace OrleansSessions.Api.Tests;

/// <summary>
/// Failed-attempt throttling and one-time codes on two nodes of one cluster: one budget, and one record of spent
/// TOTP codes, whichever node an attempt reaches.
/// </summary>
public sealed class LoginThrottleClusterTests(TwoPostgresNodesFixture fixture) : IClassFixture<TwoPostgresNodesFixture>
{
    private static async Task<Answer> AttemptAsync(ServiceNode node, string identifier, string password) =>
        await node.SubmitAsync(FlowId(await node.NewNativeFlowAsync()), AsJson(PasswordBody(identifier, password)));

    [Fact]
    public async Task Both_nodes_spend_one_identifiers_budget()
    {
        var victim = await fixture.A.CreatePasswordIdentityAsync();
        // The default: 10 failures per identifier, forgotten at 10 per 15 minutes. Half through each node.
        for (var i = 0; i < 10; i++)
            Assert.Equal(HttpStatusCode.BadRequest, (await AttemptAsync(i % 2 == 0 ? fixture.A : fixture.B, victim.Email, $"guess {i}")).Status);
        foreach (var node in new[] { fixture.A, fixture.B })
        {
            var refused = await AttemptAsync(node, victim.Email, victim.Password);
            IdentityAdmin.AssertError(refused, HttpStatusCode.TooManyRequests);
            Assert.InRange(int.Parse(refused.Header("Retry-After")!), 1, 90);
        }
        // Slowed, not locked: one failure leaks away every 90 seconds, and then the owner signs in.
        fixture.Clock.Advance(TimeSpan.FromSeconds(90));
        Assert.Equal(HttpStatusCode.OK, (await AttemptAsync(fixture.B, victim.Email, victim.Password)).Status);
        Assert.Equal(HttpStatusCode.OK, (await AttemptAsync(fixture.A, victim.Email, victim.Password)).Status);
    }

    [Fact]
    public async Task A_thousand_successful_logins_of_one_account_from_one_address_all_succeed()
    {
        var identity = await fixture.A.CreatePasswordIdentityAsync();
        for (var i = 0; i < 1000; i++)
        {
            var answer = await AttemptAsync(i % 2 == 0 ? fixture.A : fixture.B, identity.Email, identity.Password);
            Assert.True(answer.Status == HttpStatusCode.OK, $"login {i + 1} answered {answer}");
        }
    }

    /// <summary>
    /// A code that signed in through one node is refused through the other like a wrong code, and the refusal is a
    /// failed attempt: with it, nine more wrong codes spend the identity's budget of ten and the next right one waits.
    /// </summary>
    [Fact]
    public async Task A_code_spent_on_one_node_is_refused_on_the_other_and_counts_as_a_failure()
    {
        var identity = await fixture.A.CreatePasswordIdentityAsync();
        var secret = await fixture.A.EnableTotpAsync(identity.Id);
        var code = fixture.A.TotpCodeNow(secret);
        Assert.Equal(HttpStatusCode.OK, (await fixture.A.SecondFactorAsync(identity, code)).Status);

        var replayed = await fixture.B.SecondFactorAsync(identity, code);
        Assert.Equal(HttpStatusCode.BadRequest, replayed.Status);
        Assert.Equal(4000008, TotpMessageId(replayed));

        var wrong = code == "000000" ? "111111" : "000000";
        for (var i = 0; i < 9; i++)
            Assert.Equal(HttpStatusCode.BadRequest, (await (i % 2 == 0 ? fixture.A : fixture.B).SecondFactorAsync(identity, wrong)).Status);
        fixture.Clock.Advance(TimeSpan.FromSeconds(30));
        var refused = await fixture.B.SecondFactorAsync(identity, fixture.B.TotpCodeNow(secret));
        IdentityAdmin.AssertError(refused, HttpStatusCode.TooManyRequests);
    }
}
