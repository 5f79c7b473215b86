using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Routing.Matching;

namespace OrleansSessions.Api.Surfaces;

/// <summary>The two listeners of the service, as in Kratos: public (4433) and admin (4434).</summary>
public enum ApiSurface
{
    Public,
    Admin,
}

/// <summary>
/// Ties each endpoint to the listener it is served on. The listener is read from the connection
/// (tagged when Kestrel accepts it), never from the Host header, which the client controls.
/// </summary>
public static class ApiSurfaces
{
    private const string ItemKey = "OrleansSessions.ApiSurface";

    /// <summary>Kestrel connection middleware that marks every connection of a listener.</summary>
    public static Func<ConnectionDelegate, ConnectionDelegate> Tag(ApiSurface surface) => next => connection =>
    {
        connection.Items[ItemKey] = surface;
        return next(connection);
    };

    /// <summary>The listener a request came in on; null for connections we did not tag (test servers).</summary>
    public static ApiSurface? Of(HttpContext context) =>
        context.Features.Get<IConnectionItemsFeature>()?.Items.TryGetValue(ItemKey, out var value) == true
            ? (ApiSurface)value!
            : null;

    /// <summary>Serves these endpoints on one listener only; on the other they do not exist (404).</summary>
    public static TBuilder OnSurface<TBuilder>(this TBuilder builder, ApiSurface surface) where TBuilder : IEndpointConventionBuilder
    {
        builder.Add(endpoint => endpoint.Metadata.Add(new SurfaceMetadata(surface)));
        return builder;
    }

    internal sealed record SurfaceMetadata(ApiSurface Surface);
}

/// <summary>Removes candidates that belong to the other listener, so one path can mean different things on each.</summary>
internal sealed class SurfaceMatcherPolicy : MatcherPolicy, IEndpointSelectorPolicy
{
    public override int Order => -100;

    public bool AppliesToEndpoints(IReadOnlyList<Endpoint> endpoints) =>
        endpoints.Any(e => e.Metadata.GetMetadata<ApiSurfaces.SurfaceMetadata>() is not null);

    public Task ApplyAsync(HttpContext httpContext, CandidateSet candidates)
    {
        var surface = ApiSurfaces.Of(httpContext);
        for (var i = 0; i < candidates.Count; i++)
        {
            var required = candidates[i].Endpoint.Metadata.GetMetadata<ApiSurfaces.SurfaceMetadata>();
            if (required is not null && required.Surface != surface)
                candidates.SetValidity(i, false);
        }
        return Task.CompletedTask;
    }
}
