namespace OrleansSessions.Tests.Infrastructure;

/// <summary>Shorthands for asking a session and reading what it answered.</summary>
public static class Answers
{
    /// <summary>Whoami for <paramref name="session"/> through <paramref name="grains"/>, over the carrier it was issued for.</summary>
    public static Task<WhoamiAnswer> WhoamiAsync(IGrainFactory grains, IssuedSession session, bool requireHighestAal = false) =>
        grains.GetGrain<ISessionGrain>(session.LookupKey).WhoamiAsync(session.Session.Channel, requireHighestAal);

    /// <summary>The raw JSON text of <c>identity.traits</c> in a whoami body.</summary>
    public static string TraitsOf(WhoamiAnswer answer)
    {
        Assert.NotNull(answer.Body);
        using var body = JsonDocument.Parse(answer.Body!.ToArray());
        return body.RootElement.GetProperty("identity").GetProperty("traits").GetRawText();
    }

    /// <summary>A string member of <c>identity</c> in a whoami body.</summary>
    public static string? IdentityMember(WhoamiAnswer answer, string name)
    {
        Assert.NotNull(answer.Body);
        using var body = JsonDocument.Parse(answer.Body!.ToArray());
        return body.RootElement.GetProperty("identity").GetProperty(name).GetString();
    }

    /// <summary>Asserts the session answers Active through every one of <paramref name="silos"/>, with the same body.</summary>
    public static async Task<WhoamiAnswer> AssertActiveAsync(IssuedSession session, params IGrainFactory[] silos)
    {
        WhoamiAnswer? first = null;
        foreach (var grains in silos)
        {
            var answer = await WhoamiAsync(grains, session);
            Assert.Equal(WhoamiOutcome.Active, answer.Outcome);
            Assert.NotNull(answer.Body);
            if (first is null)
                first = answer;
            else
                Assert.Equal(first.Body!.ToArray(), answer.Body!.ToArray());
        }
        return first!;
    }

    /// <summary>Asserts the session answers Unauthorized, without a body, through every one of <paramref name="silos"/>.</summary>
    public static async Task AssertUnauthorizedAsync(IssuedSession session, params IGrainFactory[] silos)
    {
        foreach (var grains in silos)
        {
            var answer = await WhoamiAsync(grains, session);
            Assert.Equal(WhoamiOutcome.Unauthorized, answer.Outcome);
            Assert.Null(answer.Body);
        }
    }
}
