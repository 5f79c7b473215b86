using System.Security.Cryptography;
using System.Text;

namespace OrleansSessions.Tests.Unit;

public sealed class SessionTokenTests
{
    private const string Alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

    /// <summary>A new token is ory_st_ followed by 32 characters of [A-Za-z0-9]: 39 in all.</summary>
    [Fact]
    public void New_token_has_the_prefix_the_length_and_the_alphabet()
    {
        var token = SessionToken.New();

        Assert.StartsWith("ory_st_", token, StringComparison.Ordinal);
        Assert.Equal(39, token.Length);
        Assert.Equal(SessionToken.Length, token.Length);
        Assert.All(token["ory_st_".Length..], c => Assert.Contains(c, Alphabet));
        Assert.True(SessionToken.IsWellFormed(token));
    }

    /// <summary>A thousand tokens are all distinct, all well formed, and between them use letters of both cases and digits.</summary>
    [Fact]
    public void Thousand_new_tokens_are_all_distinct()
    {
        var tokens = Enumerable.Range(0, 1000).Select(_ => SessionToken.New()).ToList();

        Assert.Equal(1000, tokens.Distinct(StringComparer.Ordinal).Count());
        Assert.All(tokens, t => Assert.True(SessionToken.IsWellFormed(t), t));
        var used = tokens.SelectMany(t => t[7..]).ToHashSet();
        // 32,000 draws from 62 symbols: missing any one of them has a probability far below 1e-200.
        Assert.Equal(Alphabet.ToHashSet(), used);
    }

    [Theory]
    [InlineData("")]
    [InlineData("ory_st_")]
    [InlineData("ory_st_abcdefghijklmnopqrstuvwxyz01234")] // 31 after the prefix
    [InlineData("ory_st_abcdefghijklmnopqrstuvwxyz0123456")] // 33 after the prefix
    [InlineData("ory_ss_abcdefghijklmnopqrstuvwxyz012345")] // wrong prefix
    [InlineData("ORY_ST_abcdefghijklmnopqrstuvwxyz012345")] // prefix is case-sensitive
    [InlineData("xory_stabcdefghijklmnopqrstuvwxyz012345")] // right length, prefix shifted
    [InlineData("ory_st_abcdefghijklmnopqrstuvwxyz01234-")] // dash
    [InlineData("ory_st_abcdefghijklmnopqrstuvwxyz01234_")] // underscore
    [InlineData("ory_st_abcdefghijklmnopqrstuvwxyz01234=")] // padding
    [InlineData("ory_st_abcdefghijklmnopqrstuvwxyz01234 ")] // space
    [InlineData("ory_st_abcdefghijklmnopqrstuvwxyz01234é")] // non-ASCII letter
    [InlineData("ory_st_abcdefghijklmnopqrstuvwxyz01234٣")] // non-ASCII digit
    public void IsWellFormed_rejects_other_shapes(string value)
    {
        Assert.False(SessionToken.IsWellFormed(value));
    }

    [Fact]
    public void IsWellFormed_accepts_a_token_of_the_issued_shape()
    {
        Assert.True(SessionToken.IsWellFormed("ory_st_ABCDEFGHIJKLMNOPQRSTUVWXYZabcdef"));
        Assert.True(SessionToken.IsWellFormed("ory_st_0123456789abcdefghijklmnopqrstuv"));
    }

    /// <summary>The lookup key is SHA-256 of the token in base64url without padding: 43 characters, the same every time.</summary>
    [Fact]
    public void LookupKey_is_deterministic_base64url_of_sha256()
    {
        var token = SessionToken.New();

        var key = SessionToken.LookupKey(token);

        Assert.Equal(key, SessionToken.LookupKey(token));
        Assert.Equal(key, SessionToken.LookupKey(new string(token.ToCharArray())));
        Assert.Equal(43, key.Length);
        Assert.Matches("^[A-Za-z0-9_-]{43}$", key);
        var expected = Convert.ToBase64String(SHA256.HashData(Encoding.ASCII.GetBytes(token)))
            .TrimEnd('=').Replace('+', '-').Replace('/', '_');
        Assert.Equal(expected, key);
        Assert.DoesNotContain(token[7..], key, StringComparison.Ordinal);
    }

    [Fact]
    public void LookupKey_differs_between_tokens()
    {
        var keys = Enumerable.Range(0, 1000).Select(_ => SessionToken.LookupKey(SessionToken.New())).ToList();

        Assert.Equal(1000, keys.Distinct(StringComparer.Ordinal).Count());
        Assert.All(keys, k => Assert.Equal(43, k.Length));
    }
}
