using OrleansSessions.Api.Json;
using OrleansSessions.Json;

namespace OrleansSessions.Api.Sessions;

/// <summary>Sessions read from the catalog, written as the session endpoints answer them.</summary>
public static class SessionResults
{
    /// <summary>
    /// Kratos's computed <c>active</c> (<c>Session.IsActive</c>): not revoked, not expired, and the identity
    /// active when it was loaded; a listing that did not load the identity judges by the session alone, as Kratos.
    /// </summary>
    public static bool IsActive(SessionView view, DateTimeOffset now) =>
        !view.Session.Revoked && view.Session.ExpiresAt > now && (view.Identity is null || view.Identity.IsActive);

    public static JsonWriterResult One(SessionView view, SessionJsonShape shape, DateTimeOffset now, string publicBaseUrl) =>
        new(StatusCodes.Status200OK, w => SessionJson.Write(w, view.Session, view.Identity, IsActive(view, now), shape, publicBaseUrl));

    public static JsonWriterResult List(IReadOnlyList<SessionView> views, SessionJsonShape shape, DateTimeOffset now, string publicBaseUrl) =>
        new(StatusCodes.Status200OK, w =>
        {
            w.WriteStartArray();
            foreach (var view in views)
                SessionJson.Write(w, view.Session, view.Identity, IsActive(view, now), shape, publicBaseUrl);
            w.WriteEndArray();
        });
}
