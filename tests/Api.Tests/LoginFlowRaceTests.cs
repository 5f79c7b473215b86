using System.Net;
using OrleansSessions.Api.Tests.Infrastructure;

namespace OrleansSessions.Api.Tests;

/// <summary>A login flow issues one session: completing it is atomic, whatever arrives at once.</summary>
public sealed class LoginFlowRaceTests(LoginNodeFixture fixture) : IClassFixture<LoginNodeFixture>
{
    private ServiceNode Node => fixture.Node;

    [Fact]
    public async Task Of_concurrent_submissions_of_one_flow_exactly_one_issues_a_session()
    {
        var identity = await Node.CreatePasswordIdentityAsync();
        const int Rounds = 5, AtOnce = 4;
        for (var round = 0; round < Rounds; round++)
        {
            var flowId = LoginHelpers.FlowId(await Node.NewNativeFlowAsync());
            // Every submission is right: each verifies the password, then all race to complete the flow.
            using var start = new SemaphoreSlim(0);
            var submissions = Enumerable.Range(0, AtOnce).Select(async _ =>
            {
                await start.WaitAsync();
                return await Node.SubmitAsync(flowId, LoginHelpers.AsJson(LoginHelpers.PasswordBody(identity.Email, identity.Password)));
            }).ToList();
            start.Release(AtOnce);
            var answers = await Task.WhenAll(submissions);

            var won = Assert.Single(answers, a => a.Status == HttpStatusCode.OK);
            Assert.StartsWith("ory_st_", won.Json.GetProperty("session_token").GetString());
            foreach (var lost in answers.Where(a => a != won))
            {
                // Kratos's answer for a flow that was used: the flow again, with "no strategy" (4010002).
                Assert.Equal(HttpStatusCode.BadRequest, lost.Status);
                Assert.Equal(4010002, lost.Json.GetProperty("ui").GetProperty("messages")[0].GetProperty("id").GetInt32());
                Assert.False(lost.Json.TryGetProperty("session_token", out _));
            }
        }
        var sessions = await Node.ListIdentitySessionsAsync(identity.Id);
        Assert.Equal(Rounds, sessions.Json.GetArrayLength());
    }

    [Fact]
    public async Task A_flow_that_issued_no_session_can_be_submitted_again()
    {
        // The identity is disabled between the password check and the issuance: the flow is not used up.
        var identity = await Node.CreatePasswordIdentityAsync(state: "inactive");
        var flowId = LoginHelpers.FlowId(await Node.NewNativeFlowAsync());
        var refused = await Node.SubmitAsync(flowId, LoginHelpers.AsJson(LoginHelpers.PasswordBody(identity.Email, identity.Password)));
        Assert.Equal(HttpStatusCode.BadRequest, refused.Status);
        Assert.Equal("identity_disabled", refused.Json.GetProperty("error").GetProperty("id").GetString());

        var enabled = await Node.SendForAnswerAsync(HttpMethod.Patch, Node.Admin($"/admin/identities/{identity.Id}"),
            """[{"op":"replace","path":"/state","value":"active"}]""");
        Assert.Equal(HttpStatusCode.OK, enabled.Status);
        var again = await Node.SubmitAsync(flowId, LoginHelpers.AsJson(LoginHelpers.PasswordBody(identity.Email, identity.Password)));
        Assert.Equal(HttpStatusCode.OK, again.Status);
    }
}

/// <summary>A one-time password is accepted once (ASVS V6, NIST SP 800-63B 5.1.4.2).</summary>
public sealed class TotpReplayTests(LoginNodeFixture fixture) : IClassFixture<LoginNodeFixture>
{
    private ServiceNode Node => fixture.Node;

    [Fact]
    public async Task A_code_that_signed_in_does_not_sign_in_again()
    {
        var identity = await Node.CreatePasswordIdentityAsync();
        var secret = await Node.EnableTotpAsync(identity.Id);
        var code = Node.TotpCodeNow(secret);
        Assert.Equal(HttpStatusCode.OK, (await Node.SecondFactorAsync(identity, code)).Status);

        // Seen over a shoulder and typed in at once elsewhere: refused as a wrong code.
        var replayed = await Node.SecondFactorAsync(identity, code);
        Assert.Equal(HttpStatusCode.BadRequest, replayed.Status);
        Assert.Equal(4000008, LoginHelpers.TotpMessageId(replayed));
        // The previous step's code, still within the drift window, is older than the one spent: refused too.
        Node.Clock.Advance(TimeSpan.FromSeconds(30));
        Assert.Equal(HttpStatusCode.BadRequest, (await Node.SecondFactorAsync(identity, code)).Status);
        // The next code works.
        Assert.Equal(HttpStatusCode.OK, (await Node.SecondFactorAsync(identity, Node.TotpCodeNow(secret))).Status);
    }
}
