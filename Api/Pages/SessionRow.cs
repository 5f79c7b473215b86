using System.Globalization;

namespace OrleansSessions.Api.Pages;

/// <summary>A session as the pages list it: where it was signed in from, read for people.</summary>
public sealed record SessionRow(
    Guid Id,
    string Browser,
    string System,
    string? IpAddress,
    string? Location,
    DateTimeOffset SignedInAt,
    DateTimeOffset? LastSeenAt,
    DateTimeOffset ExpiresAt,
    bool Active,
    bool Current)
{
    /// <summary>The device the session was signed in on (Kratos records it at issuance); later ones are its refreshes.</summary>
    public static SessionRow Of(SessionRecord session, IdentityRecord? identity, Guid? current, UserAgents agents, DateTimeOffset now)
    {
        var device = session.Devices.IsDefaultOrEmpty ? default : session.Devices[0];
        var (browser, system) = agents.Describe(device.UserAgent);
        var active = !session.Revoked && session.ExpiresAt > now && (identity is null || identity.IsActive);
        return new SessionRow(session.Id, browser, system, device.IpAddress, device.Location, session.AuthenticatedAt,
            session.LastSeenAt, session.ExpiresAt, active, session.Id == current);
    }

    public string Device => $"{Browser} on {System}";

    /// <summary>An instant as the pages show it: minutes, in UTC, which every reader can place.</summary>
    public static string Shown(DateTimeOffset instant) =>
        instant.UtcDateTime.ToString("yyyy-MM-dd HH:mm 'UTC'", CultureInfo.InvariantCulture);

    public static string Machine(DateTimeOffset instant) =>
        instant.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);
}
