namespace OrleansSessions.Tests.Unit;

public sealed class AuthenticatorAssuranceTests
{
    /// <summary>As Kratos: no factor is aal0; a first and a second factor together are aal2; anything else aal1.</summary>
    [Theory]
    [InlineData(new string[0], "aal0")]
    [InlineData(new[] { "aal1" }, "aal1")]
    [InlineData(new[] { "aal1", "aal1" }, "aal1")]
    [InlineData(new[] { "aal1", "aal2" }, "aal2")]
    [InlineData(new[] { "aal2", "aal1" }, "aal2")]
    [InlineData(new[] { "aal2" }, "aal1")]
    [InlineData(new[] { "aal2", "aal2" }, "aal1")]
    [InlineData(new[] { "aal1", "aal2", "aal1" }, "aal2")]
    public void Of_derives_the_level_from_the_factors(string[] factors, string expected)
    {
        Assert.Equal(expected, AuthenticatorAssurance.Of(factors));
    }

    [Theory]
    [InlineData("aal1", true)]
    [InlineData("aal2", true)]
    [InlineData("aal0", false)]
    [InlineData("aal3", false)]
    [InlineData("AAL1", false)]
    [InlineData("", false)]
    public void IsFactorLevel_accepts_only_aal1_and_aal2(string level, bool expected)
    {
        Assert.Equal(expected, AuthenticatorAssurance.IsFactorLevel(level));
    }
}
