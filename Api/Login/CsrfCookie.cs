using System.Security.Cryptography;
using System.Text;
using OrleansSessions.Api.Configuration;
using OrleansSessions.Json;

namespace OrleansSessions.Api.Login;

/// <summary>
/// The anti-CSRF cookie of browser flows, as Kratos (nosurf): a random 32-byte token in an HttpOnly
/// cookie named <c>csrf_token_&lt;sha256 of the public URL&gt;</c>, and in each form a masked copy
/// (one-time pad ‖ pad XOR token), different every time yet verifiable against the cookie. A
/// cross-site page can make the browser send the cookie but cannot read it, so it cannot send the token.
/// </summary>
public sealed class CsrfCookie
{
    public const string FormField = "csrf_token";
    public const string Header = "X-CSRF-Token";
    private const int TokenLength = 32;
    private static readonly TimeSpan MaxAge = TimeSpan.FromDays(365);
    private readonly SessionCookieOptions _cookie;
    private readonly DevMode _dev;

    public CsrfCookie(IOptions<SessionSettings> sessions, IOptions<JsonRenderingOptions> rendering, DevMode dev)
    {
        _cookie = sessions.Value.Cookie;
        _dev = dev;
        Name = "csrf_token_" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(rendering.Value.PublicBaseUrl)));
    }

    public string Name { get; }

    /// <summary>The token of the request's anti-CSRF cookie, or null when it has none (or a malformed one).</summary>
    public byte[]? Read(HttpRequest request) =>
        request.Cookies.TryGetValue(Name, out var value) && TryDecode(value, TokenLength, out var token) ? token : null;

    /// <summary>The request's token; when it has none, a new one, set as the cookie on the response.</summary>
    public byte[] Ensure(HttpContext context)
    {
        if (Read(context.Request) is { } existing)
            return existing;
        var token = RandomNumberGenerator.GetBytes(TokenLength);
        context.Response.Cookies.Append(Name, Convert.ToBase64String(token), new CookieOptions
        {
            HttpOnly = true,
            Path = _cookie.Path,
            Domain = string.IsNullOrEmpty(_cookie.Domain) ? null : _cookie.Domain,
            Secure = _cookie.Secure ?? !_dev.Enabled,
            SameSite = SameSiteMode.Lax,
            MaxAge = MaxAge,
        });
        return token;
    }

    /// <summary>A form token for <paramref name="token"/>: a fresh pad and the token XOR the pad.</summary>
    public static string Mask(byte[] token)
    {
        var masked = new byte[TokenLength * 2];
        RandomNumberGenerator.Fill(masked.AsSpan(0, TokenLength));
        for (var i = 0; i < TokenLength; i++)
            masked[TokenLength + i] = (byte)(masked[i] ^ token[i]);
        return Convert.ToBase64String(masked);
    }

    /// <summary>True when <paramref name="formToken"/> is a masked copy of <paramref name="token"/>.</summary>
    public static bool Verify(byte[] token, string? formToken)
    {
        if (string.IsNullOrEmpty(formToken) || !TryDecode(formToken, TokenLength * 2, out var masked))
            return false;
        Span<byte> unmasked = stackalloc byte[TokenLength];
        for (var i = 0; i < TokenLength; i++)
            unmasked[i] = (byte)(masked[i] ^ masked[TokenLength + i]);
        return CryptographicOperations.FixedTimeEquals(unmasked, token);
    }

    private static bool TryDecode(string text, int length, out byte[] bytes)
    {
        bytes = new byte[length];
        return text.Length <= 128 && Convert.TryFromBase64String(text, bytes, out var written) && written == length;
    }
}
