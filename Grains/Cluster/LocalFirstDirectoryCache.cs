using System.Diagnostics.CodeAnalysis;
using Orleans.Configuration;
using Orleans.Runtime.GrainDirectory;

namespace OrleansSessions.Cluster;

/// <summary>
/// Orleans' grain directory cache without an entry for each grain active on this silo. Orleans caches the address
/// of every activation when it registers (its LRU cache holds up to <see cref="GrainDirectoryOptions.CacheSize"/>
/// entries, about 270 bytes each: with a million resident sessions, a quarter of a gigabyte on one node); for a grain
/// that lives here that entry says what the silo already knows. So a grain active here is looked up in this silo's
/// own activations, and only addresses on other silos go into Orleans' LRU cache, as before. Orleans takes it in
/// place of its own with <see cref="GrainDirectoryOptions.CachingStrategyType.Custom"/>.
/// </summary>
public sealed class LocalFirstDirectoryCache : IGrainDirectoryCache
{
    private readonly ILocalActivationStatusChecker _local;
    private readonly SiloAddress _silo;
    private readonly IGrainDirectoryCache _remote;

    public LocalFirstDirectoryCache(IServiceProvider services, ILocalActivationStatusChecker local, ILocalSiloDetails silo,
        Microsoft.Extensions.Options.IOptions<GrainDirectoryOptions> options)
    {
        _local = local;
        _silo = silo.SiloAddress;
        // Orleans' own LRU cache, sized and timed as configured, for the other silos' grains.
        _remote = GrainDirectoryCacheFactory.CreateGrainDirectoryCache(services, new GrainDirectoryOptions
        {
            CachingStrategy = GrainDirectoryOptions.CachingStrategyType.LRU,
            CacheSize = options.Value.CacheSize,
            MaximumCacheTTL = options.Value.MaximumCacheTTL,
        });
    }

    public void AddOrUpdate(GrainAddress value, int version)
    {
        if (value.SiloAddress is { } silo && silo.Equals(_silo))
            _remote.Remove(value.GrainId); // here now: an address elsewhere cached before is stale
        else
            _remote.AddOrUpdate(value, version);
    }

    public bool Remove(GrainId key) => _remote.Remove(key);

    public bool Remove(GrainAddress key) => _remote.Remove(key);

    public void Clear() => _remote.Clear();

    public bool LookUp(GrainId key, [NotNullWhen(true)] out GrainAddress? result, out int version)
    {
        if (_local.IsLocallyActivated(key))
        {
            result = new GrainAddress { GrainId = key, SiloAddress = _silo };
            version = 0;
            return true;
        }
        return _remote.LookUp(key, out result, out version);
    }

    public IEnumerable<(GrainAddress ActivationAddress, int Version)> KeyValues => _remote.KeyValues;
}
