using System.Security.Cryptography;
using OtpNet;

namespace OrleansSessions.Api.Credentials;

/// <summary>
/// TOTP (RFC 6238: HMAC-SHA1, 6 digits, 30-second steps, one step of clock drift either way).
/// Secrets are base32; <c>otpauth://</c> URLs are how authenticator apps and imports carry them.
/// </summary>
public sealed class TotpCodes(TimeProvider clock)
{
    private static readonly VerificationWindow Drift = new(previous: 1, future: 1);

    public static string NewSecret() => Base32Encoding.ToString(RandomNumberGenerator.GetBytes(20));

    /// <summary>The time step the code belongs to when it is right now (within a step of drift); null otherwise.</summary>
    public long? Verify(string secret, string code)
    {
        if (code.Length != 6 || !code.All(char.IsAsciiDigit))
            return null;
        var totp = new Totp(Base32Encoding.ToBytes(secret));
        return totp.VerifyTotp(clock.GetUtcNow().UtcDateTime, code, out var step, Drift) ? step : null;
    }

    /// <summary>The code for <paramref name="secret"/> at the clock's now (tests and enrolment checks).</summary>
    public string CodeNow(string secret) => new Totp(Base32Encoding.ToBytes(secret)).ComputeTotp(clock.GetUtcNow().UtcDateTime);

    public static string Url(string secret, string issuer, string account) =>
        $"otpauth://totp/{Uri.EscapeDataString(issuer)}:{Uri.EscapeDataString(account)}?secret={secret}&issuer={Uri.EscapeDataString(issuer)}&algorithm=SHA1&digits=6&period=30";

    /// <summary>The base32 secret of an <c>otpauth://totp/</c> URL (SHA1, 6 digits, 30 s only), or null.</summary>
    public static string? SecretOf(string url)
    {
        if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || uri.Scheme != "otpauth" || uri.Host != "totp")
            return null;
        string? secret = null;
        foreach (var pair in uri.Query.TrimStart('?').Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            var kv = pair.Split('=', 2);
            var value = kv.Length == 2 ? Uri.UnescapeDataString(kv[1]) : "";
            switch (kv[0].ToLowerInvariant())
            {
                case "secret": secret = value.ToUpperInvariant().TrimEnd('='); break;
                case "algorithm" when !value.Equals("SHA1", StringComparison.OrdinalIgnoreCase): return null;
                case "digits" when value != "6": return null;
                case "period" when value != "30": return null;
            }
        }
        return IsSecret(secret) ? secret : null;
    }

    public static bool IsSecret(string? secret)
    {
        if (string.IsNullOrEmpty(secret) || secret.Length is < 16 or > 128)
            return false;
        try
        {
            return Base32Encoding.ToBytes(secret).Length >= 10;
        }
        catch (ArgumentException)
        {
            return false;
        }
    }
}
