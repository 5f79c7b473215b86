using System.Numerics;
using System.Security.Cryptography;
using System.Text;

namespace OrleansSessions.Api.Logout;

/// <summary>
/// The logout token of a browser session, derived rather than stored: <c>ory_lo_</c> + 32 characters of
/// [A-Za-z0-9] from HMAC-SHA256 keyed by the session secret sealed in the cookie. It is the same for the
/// whole life of the session, only this service can compute it (the secret never leaves the sealed
/// cookie), and checking it needs nothing but the cookie.
/// </summary>
public static class LogoutToken
{
    public const string Prefix = "ory_lo_";
    public const int Length = 39;
    private const string Alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    private static readonly byte[] Purpose = "OrleansSessions logout token v1"u8.ToArray();

    public static string For(string sessionSecret)
    {
        Span<byte> mac = stackalloc byte[HMACSHA256.HashSizeInBytes];
        HMACSHA256.HashData(Encoding.ASCII.GetBytes(sessionSecret), Purpose, mac);
        // 256 bits written in base 62; the 32 low digits carry ~190 of them.
        var value = new BigInteger(mac, isUnsigned: true, isBigEndian: true);
        Span<char> token = stackalloc char[Length];
        Prefix.AsSpan().CopyTo(token);
        for (var i = Prefix.Length; i < Length; i++)
        {
            value = BigInteger.DivRem(value, Alphabet.Length, out var digit);
            token[i] = Alphabet[(int)digit];
        }
        return new string(token);
    }

    /// <summary>True when <paramref name="candidate"/> is the logout token of the session with this secret (constant time).</summary>
    public static bool Matches(string sessionSecret, string? candidate) =>
        candidate is { Length: Length } && CryptographicOperations.FixedTimeEquals(
            Encoding.ASCII.GetBytes(For(sessionSecret)), Encoding.UTF8.GetBytes(candidate));
}
