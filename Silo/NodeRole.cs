namespace OrleansSessions.Silo;

/// <summary>
/// What a process of the service does (configuration key <c>role</c>). One code base, two deploy modes:
/// co-hosted (every node is <see cref="All"/>) or split (<see cref="Silo"/> nodes hold the grains,
/// <see cref="Api"/> nodes serve HTTP and join the cluster as Orleans clients).
/// </summary>
public enum NodeRole
{
    /// <summary><c>all</c> (the default): a silo that also serves the public and admin APIs.</summary>
    All,

    /// <summary><c>silo</c>: holds grains only; its admin listener answers <c>/health/*</c> and nothing else.</summary>
    Silo,

    /// <summary><c>api</c>: serves both APIs as an Orleans client of the silos; holds no grain.</summary>
    Api,
}

public static class NodeRoles
{
    public const string Key = "role";

    public static NodeRole Parse(string? value) => value?.Trim().ToLowerInvariant() switch
    {
        null or "" or "all" => NodeRole.All,
        "silo" => NodeRole.Silo,
        "api" => NodeRole.Api,
        _ => throw new InvalidOperationException($"role '{value}' is not supported; use 'all' (silo and API in one process), 'silo' or 'api'."),
    };

    public static bool HostsGrains(this NodeRole role) => role != NodeRole.Api;

    public static bool ServesApi(this NodeRole role) => role != NodeRole.Silo;
}
