using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Configuration;
using OrleansSessions.Api.Configuration;
using OrleansSessions.Api.Errors;
using OrleansSessions.Api.Surfaces;

namespace OrleansSessions.Api.Admin;

/// <summary>Configuration <c>serve:admin:api_keys</c>: the keys that open the admin API outside dev mode.</summary>
public sealed class AdminKeySettings
{
    public const string Section = "serve:admin";

    /// <summary>Accepted as <c>Authorization: Bearer &lt;key&gt;</c>. Several, so a key can be rotated without downtime.</summary>
    [ConfigurationKeyName("api_keys")]
    public List<string> ApiKeys { get; set; } = [];
}

/// <summary>
/// Guards the admin listener: outside dev mode every request needs <c>Authorization: Bearer</c> with a
/// configured key (health endpoints excepted). Keys are compared as SHA-256 digests in constant time,
/// and never logged.
/// </summary>
public sealed class AdminKeys
{
    private static readonly OryError Unauthorized =
        new(StatusCodes.Status401Unauthorized, "The request could not be authorized") { Reason = "The admin API needs Authorization: Bearer with a valid admin API key." };

    private readonly byte[][] _digests;
    private readonly bool _open;

    public AdminKeys(IOptions<AdminKeySettings> settings, DevMode dev)
    {
        _digests = [.. settings.Value.ApiKeys.Where(k => !string.IsNullOrEmpty(k)).Select(Digest)];
        _open = dev.Enabled;
        if (!_open && _digests.Length == 0)
            throw new OptionsValidationException(AdminKeySettings.Section, typeof(AdminKeySettings),
                ["Outside dev mode the admin API needs at least one key in serve:admin:api_keys (or run with dev=true)."]);
    }

    /// <summary>True when the admin API is open (dev mode).</summary>
    public bool Open => _open;

    public Task GuardAsync(HttpContext context, RequestDelegate next)
    {
        // The dashboard and the admin page are for browsers: there the key may also be the password of Basic authentication.
        var dashboard = context.Request.Path.StartsWithSegments("/admin/dashboard") || context.Request.Path.StartsWithSegments("/admin/ui");
        if (_open || ApiSurfaces.Of(context) != ApiSurface.Admin || context.Request.Path.StartsWithSegments("/health") || Accepts(context.Request, dashboard))
            return next(context);
        if (dashboard)
            context.Response.Headers.WWWAuthenticate = "Basic realm=\"OrleansSessions admin\", charset=\"UTF-8\"";
        return Unauthorized.WriteAsync(context);
    }

    /// <summary><c>Bearer &lt;key&gt;</c>; on the dashboard and the admin page also <c>Basic</c> with the key as the password (any user name).</summary>
    private bool Accepts(HttpRequest request, bool allowBasic)
    {
        if (PresentedKey(request, allowBasic) is not { } key)
            return false;
        var presented = Digest(key);
        var accepted = false;
        foreach (var digest in _digests)
            accepted |= CryptographicOperations.FixedTimeEquals(presented, digest);
        return accepted;
    }

    /// <summary>The key a request presents: a bearer token or, where allowed, the password of Basic authentication.</summary>
    public static string? PresentedKey(HttpRequest request, bool allowBasic)
    {
        var header = request.Headers.Authorization;
        if (header.Count != 1 || header[0] is not { } value || value.Length > 1024)
            return null;
        if (value.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
            return value["Bearer ".Length..];
        if (allowBasic && value.StartsWith("Basic ", StringComparison.OrdinalIgnoreCase))
            return BasicPassword(value["Basic ".Length..]);
        return null;
    }

    private static string? BasicPassword(string encoded)
    {
        Span<byte> bytes = stackalloc byte[1024];
        if (!Convert.TryFromBase64String(encoded.Trim(), bytes, out var length))
            return null;
        var text = Encoding.UTF8.GetString(bytes[..length]);
        var colon = text.IndexOf(':');
        return colon < 0 ? null : text[(colon + 1)..];
    }

    private static byte[] Digest(string key) => SHA256.HashData(Encoding.UTF8.GetBytes(key));
}
