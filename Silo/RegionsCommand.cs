using OrleansSessions.Regions;
using OrleansSessions.Storage;

namespace OrleansSessions.Silo;

/// <summary>
/// <c>regions link</c>: creates and checks what replication between this region's database and its peers' needs
/// (<see cref="RegionLink"/>); <c>regions status</c>: how each peer's replication into this region stands. Both read
/// the node's own settings (store:*, regions:*), so an operator runs them with the configuration the nodes use.
/// </summary>
public static class RegionsCommand
{
    /// <param name="clock">The nodes' clock (the system's; tests give theirs): the link writes this region's first heartbeat.</param>
    public static async Task<int> RunAsync(string verb, IConfiguration configuration, TimeProvider? clock = null)
    {
        var store = configuration.GetSection(StoreOptions.Section).Get<StoreOptions>() ?? new StoreOptions();
        try
        {
            store.Validate();
            var regions = RegionSettings.Read(configuration, store.IsPostgres);
            if (!regions.IsEnabled)
                throw new RegionLinkException("No regions are configured (regions:name, regions:code, regions:peers:<name>:code and :connection_string).");
            var link = new RegionLink(regions, store.ConnectionString!, line => Console.WriteLine(store.WithoutPassword(line)), clock);
            switch (verb)
            {
                case "link":
                    await link.LinkAsync(TimeSpan.FromMinutes(10));
                    return 0;
                case "status":
                    var now = DateTimeOffset.UtcNow;
                    var healthy = true;
                    foreach (var peer in await link.StatusAsync())
                    {
                        var state = !peer.Linked ? "not linked (run `regions link`)"
                            : !peer.Running ? "linked, but its apply worker is not running (see the PostgreSQL log)"
                            : peer.TablesCopying > 0 ? $"copying ({peer.TablesCopying} tables left)"
                            : "replicating";
                        var beat = peer.LastBeat is { } b ? $"{(now - b).TotalMilliseconds:0} ms ago" : "never";
                        Console.WriteLine($"{peer.Peer}: {state}; last heartbeat applied here from {beat}");
                        healthy &= peer.Linked && peer.Running && peer.TablesCopying == 0;
                    }
                    return healthy ? 0 : 3;
                default:
                    Console.Error.WriteLine($"Unknown regions command '{verb}': use `regions link` or `regions status`.");
                    return 2;
            }
        }
        catch (Exception e) when (e is RegionLinkException or InvalidOperationException or Npgsql.NpgsqlException)
        {
            Console.Error.WriteLine(store.WithoutPassword($"regions {verb}: {e.Message}"));
            return 1;
        }
    }
}
