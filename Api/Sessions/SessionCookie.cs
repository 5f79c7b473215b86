using System.Buffers.Binary;
using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.DataProtection;
using OrleansSessions.Api.Configuration;

namespace OrleansSessions.Api.Sessions;

/// <summary>
/// The browser session cookie: the session secret and its expiry, authenticated and encrypted
/// with ASP.NET Core Data Protection under the key ring every node shares.
/// </summary>
public sealed class SessionCookie(IDataProtectionProvider protection, IOptions<SessionSettings> options, DevMode dev)
{
    /// <summary>Longest value we try to open; anything longer is not ours.</summary>
    public const int MaxValueLength = 1024;
    private const byte PayloadVersion = 1;
    private readonly IDataProtector _protector = protection.CreateProtector("OrleansSessions.SessionCookie.v1");
    private readonly SessionCookieOptions _options = options.Value.Cookie;

    public string Name => _options.Name;

    /// <summary>The cookie value for a session secret.</summary>
    public string Seal(string token, DateTimeOffset expiresAt)
    {
        var payload = new byte[1 + sizeof(long) + SessionToken.Length];
        payload[0] = PayloadVersion;
        BinaryPrimitives.WriteInt64BigEndian(payload.AsSpan(1), expiresAt.ToUnixTimeSeconds());
        Encoding.ASCII.GetBytes(token, payload.AsSpan(1 + sizeof(long)));
        return Base64Url.EncodeToString(_protector.Protect(payload));
    }

    /// <summary>Opens a cookie value; false for anything we did not seal (or sealed under a key no longer in the ring).</summary>
    public bool TryOpen(ReadOnlySpan<char> value, out string token, out DateTimeOffset expiresAt)
    {
        token = "";
        expiresAt = default;
        if (value.IsEmpty || value.Length > MaxValueLength)
            return false;
        var sealedBytes = new byte[Base64Url.GetMaxDecodedLength(value.Length)];
        if (Base64Url.DecodeFromChars(value, sealedBytes, out var consumed, out var written) != System.Buffers.OperationStatus.Done
            || consumed != value.Length)
            return false;
        byte[] payload;
        try
        {
            payload = _protector.Unprotect(sealedBytes[..written]);
        }
        catch (CryptographicException)
        {
            return false;
        }
        if (payload.Length != 1 + sizeof(long) + SessionToken.Length || payload[0] != PayloadVersion)
            return false;
        var candidate = Encoding.ASCII.GetString(payload, 1 + sizeof(long), SessionToken.Length);
        if (!SessionToken.IsWellFormed(candidate))
            return false;
        token = candidate;
        expiresAt = DateTimeOffset.FromUnixTimeSeconds(BinaryPrimitives.ReadInt64BigEndian(payload.AsSpan(1)));
        return true;
    }

    /// <summary>Adds the Set-Cookie for a session: HttpOnly, SameSite, Path, Secure unless dev mode, Max-Age until expiry.</summary>
    public void Append(HttpResponse response, string value, DateTimeOffset expiresAt, DateTimeOffset now)
    {
        var cookie = Attributes();
        if (_options.Persistent)
        {
            cookie.MaxAge = expiresAt > now ? expiresAt - now : TimeSpan.Zero;
            cookie.Expires = expiresAt;
        }
        response.Cookies.Append(_options.Name, value, cookie);
    }

    /// <summary>Tells the browser to drop the cookie (logout): empty value, <c>Max-Age=0</c>, <c>Expires</c> in 1970, as Kratos.</summary>
    public void Expire(HttpResponse response)
    {
        var cookie = Attributes();
        cookie.MaxAge = TimeSpan.Zero;
        cookie.Expires = DateTimeOffset.FromUnixTimeSeconds(1);
        response.Cookies.Append(_options.Name, "", cookie);
    }

    private CookieOptions Attributes() => new()
    {
        HttpOnly = true,
        Path = _options.Path,
        Domain = string.IsNullOrEmpty(_options.Domain) ? null : _options.Domain,
        // A prefixed name is only kept by browsers when Secure (a dev node on plain HTTP then needs HTTPS or another name).
        Secure = _options.HasSecurePrefix || (_options.Secure ?? !dev.Enabled),
        SameSite = Enum.TryParse<SameSiteMode>(_options.SameSite, ignoreCase: true, out var mode) ? mode : SameSiteMode.Lax,
    };
}
