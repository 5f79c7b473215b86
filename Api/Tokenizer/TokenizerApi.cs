using OrleansSessions.Api.Sessions;
using OrleansSessions.Json;
using OrleansSessions.Tokenizer;

namespace OrleansSessions.Api.Tokenizer;

/// <summary>
/// The public keys of session tokens (<c>whoami?tokenize_as=</c>) at <c>/.well-known/jwks.json</c> on the public
/// port, and rotation on demand on the admin port. Kratos serves no key set; consumers of ours fetch it.
/// </summary>
public static class TokenizerApi
{
    public static IEndpointConventionBuilder MapJwksApi(this IEndpointRouteBuilder routes)
    {
        var maxAge = (long)routes.ServiceProvider.GetRequiredService<IOptions<TokenizerSettings>>().Value.JwksMaxAge.TotalSeconds;
        var cacheControl = $"public, max-age={maxAge}";
        return routes.MapGet("/.well-known/jwks.json", async (HttpContext context, IGrainFactory grains) =>
        {
            var keySet = await grains.GetGrain<ITokenizerKeysGrain>(0).GetPublicKeySetAsync();
            context.Response.Headers.CacheControl = cacheControl;
            context.Response.ContentType = "application/json; charset=utf-8";
            context.Response.ContentLength = keySet.Length;
            await context.Response.Body.WriteAsync(keySet);
        }).WithName("getSessionTokenKeys");
    }

    /// <summary>
    /// <c>POST /admin/jwks/rotate</c>: a new key for each generated algorithm, published now and signing after
    /// <c>rotation:lead_time</c>; the keys it replaces stay published until their tokens have expired.
    /// </summary>
    public static RouteGroupBuilder MapKeyRotationApi(this RouteGroupBuilder admin)
    {
        admin.MapPost("/jwks/rotate", async (HttpContext context, IGrainFactory grains) =>
        {
            var rotated = await grains.GetGrain<ITokenizerKeysGrain>(0).RotateAsync();
            context.Response.Headers.CacheControl = WhoamiApi.NoStore;
            return TypedResults.Ok(new
            {
                rotated = rotated.Select(r => new { kid = r.Kid, alg = r.Algorithm, activates_at = Rfc3339.Write(r.ActivatesAt) }),
            });
        }).WithName("rotateSessionTokenKeys");
        return admin;
    }
}
