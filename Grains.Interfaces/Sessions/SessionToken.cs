using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;

namespace OrleansSessions.Sessions;

/// <summary>
/// The session secret: <c>ory_st_</c> + 32 characters of [A-Za-z0-9] from a CSPRNG (~190 bits).
/// Native clients hold it as their token; browser sessions carry it sealed inside the cookie.
/// Only its <see cref="LookupKey"/> (SHA-256, base64url) is ever stored.
/// </summary>
public static class SessionToken
{
    public const string Prefix = "ory_st_";
    public const int Length = 39;
    private const string Alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

    public static string New() => Prefix + RandomNumberGenerator.GetString(Alphabet, Length - Prefix.Length);

    /// <summary>
    /// With a region's <paramref name="regionCode"/> (one of [A-Za-z0-9]) as the first character after the prefix and 31
    /// random ones (~184 bits): any node tells the token's home region without a lookup, and the format stays Kratos's.
    /// </summary>
    public static string New(char? regionCode) => regionCode is not { } code
        ? New()
        : char.IsAsciiLetterOrDigit(code)
            ? string.Concat(Prefix, new ReadOnlySpan<char>(in code), RandomNumberGenerator.GetString(Alphabet, Length - Prefix.Length - 1))
            : throw new ArgumentOutOfRangeException(nameof(regionCode), "A region code is one of [A-Za-z0-9].");

    /// <summary>The character a region's tokens open with (meaningful only with regions configured).</summary>
    public static char RegionCode(ReadOnlySpan<char> token) => token[Prefix.Length];

    /// <summary>True when <paramref name="value"/> has the shape of a token we could have issued.</summary>
    public static bool IsWellFormed(ReadOnlySpan<char> value)
    {
        if (value.Length != Length || !value.StartsWith(Prefix, StringComparison.Ordinal))
            return false;
        foreach (var c in value[Prefix.Length..])
            if (!char.IsAsciiLetterOrDigit(c))
                return false;
        return true;
    }

    /// <summary>The key under which the session of a well-formed token is stored and held.</summary>
    public static string LookupKey(ReadOnlySpan<char> token)
    {
        Span<byte> ascii = stackalloc byte[Length];
        var written = Encoding.ASCII.GetBytes(token, ascii);
        Span<byte> hash = stackalloc byte[SHA256.HashSizeInBytes];
        SHA256.HashData(ascii[..written], hash);
        return Base64Url.EncodeToString(hash);
    }
}
