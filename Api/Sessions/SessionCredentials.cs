using Microsoft.Extensions.Primitives;

namespace OrleansSessions.Api.Sessions;

/// <summary>A credential found in a request, reduced to what the session grain is looked up by.</summary>
/// <param name="LookupKey">The key of the session grain.</param>
/// <param name="Carrier">Token headers (<see cref="SessionChannel.Api"/>) or the cookie (<see cref="SessionChannel.Browser"/>).</param>
/// <param name="Token">The session secret (needed to re-seal a cookie); never logged.</param>
/// <param name="CookieExpiresAt">For a cookie: the expiry sealed in it.</param>
public readonly record struct PresentedCredential(string LookupKey, SessionChannel Carrier, string Token, DateTimeOffset CookieExpiresAt)
{
    /// <summary>The region code the token carries (meaningful with regions: where its session lives before it replicates).</summary>
    public char Home => SessionToken.RegionCode(Token);
}

/// <summary>
/// Reads the session credential of a request with Kratos's precedence: <c>X-Session-Token</c>
/// (when present it is the only one consulted), then the session cookie (the first that opens),
/// then <c>Authorization: Bearer</c> (scheme case-insensitive).
/// </summary>
public sealed class SessionCredentials(SessionCookie cookie, OpenedCookies opened)
{
    public const string TokenHeader = "X-Session-Token";

    public bool TryRead(HttpRequest request, out PresentedCredential credential)
    {
        var tokenHeader = request.Headers[TokenHeader];
        if (!StringValues.IsNullOrEmpty(tokenHeader) && !string.IsNullOrEmpty(tokenHeader[0]))
            return TryToken(tokenHeader[0], out credential);

        if (TryCookie(request, out credential))
            return true;

        var authorization = request.Headers.Authorization;
        if (!StringValues.IsNullOrEmpty(authorization) && authorization[0] is { } value)
        {
            var space = value.IndexOf(' ');
            if (space > 0 && value.IndexOf(' ', space + 1) < 0
                && value.AsSpan(0, space).Equals("Bearer", StringComparison.OrdinalIgnoreCase))
                return TryToken(value[(space + 1)..], out credential);
        }
        credential = default;
        return false;
    }

    private static bool TryToken(string? token, out PresentedCredential credential)
    {
        if (token is null || !SessionToken.IsWellFormed(token))
        {
            credential = default;
            return false;
        }
        credential = new(SessionToken.LookupKey(token), SessionChannel.Api, token, default);
        return true;
    }

    /// <summary>Every cookie of the configured name is tried, in order; the first we sealed wins.</summary>
    private bool TryCookie(HttpRequest request, out PresentedCredential credential)
    {
        credential = default;
        var name = cookie.Name;
        foreach (var header in request.Headers.Cookie)
        {
            var rest = header.AsSpan();
            while (!rest.IsEmpty)
            {
                var end = rest.IndexOf(';');
                var pair = (end < 0 ? rest : rest[..end]).Trim();
                rest = end < 0 ? default : rest[(end + 1)..];
                var equals = pair.IndexOf('=');
                if (equals <= 0 || !pair[..equals].Trim().SequenceEqual(name))
                    continue;
                var value = pair[(equals + 1)..].Trim().Trim('"');
                if (opened.TryGet(value, out credential))
                    return true;
                if (cookie.TryOpen(value, out var token, out var expiresAt))
                {
                    credential = new(SessionToken.LookupKey(token), SessionChannel.Browser, token, expiresAt);
                    opened.Add(value, credential);
                    return true;
                }
            }
        }
        return false;
    }
}
