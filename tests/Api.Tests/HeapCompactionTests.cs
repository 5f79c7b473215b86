using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;
using Orleans.Configuration;
using OrleansSessions.Api.Tests.Infrastructure;
using OrleansSessions.Identities;
using OrleansSessions.Sessions;
using OrleansSessions.Silo;

namespace OrleansSessions.Api.Tests;

/// <summary>When a silo compacts its heap (<see cref="HeapCompactionPolicy"/>), how it is configured, and the eviction ages that free what it compacts.</summary>
public sealed class HeapCompactionTests
{
    private const long MiB = 1024 * 1024;
    private static readonly DateTimeOffset T0 = new(2026, 12, 7, 10, 0, 0, TimeSpan.Zero);

    private static HeapCompactionPolicy Policy() => new(0.10, 64 * MiB, TimeSpan.FromMinutes(5));

    [Fact]
    public void Holes_that_are_both_a_share_of_the_heap_and_large_are_compacted_once_per_interval()
    {
        var policy = Policy();
        Assert.Equal(HeapAction.Compact, policy.Decide(T0, 2400 * MiB, 400 * MiB, fullCollectionSinceLastCheck: true));
        // Within the interval nothing more, whatever the holes; after it, again.
        Assert.Equal(HeapAction.None, policy.Decide(T0.AddMinutes(4), 2400 * MiB, 400 * MiB, fullCollectionSinceLastCheck: false));
        Assert.Equal(HeapAction.Compact, policy.Decide(T0.AddMinutes(5), 2400 * MiB, 400 * MiB, fullCollectionSinceLastCheck: true));
    }

    [Theory]
    [InlineData(2400, 200)] // 8 % of the heap: under the share
    [InlineData(400, 60)] // 15 %, but under 64 MiB
    public void Holes_below_either_bound_are_left_alone(long heapMiB, long holesMiB)
    {
        Assert.Equal(HeapAction.None, Policy().Decide(T0, heapMiB * MiB, holesMiB * MiB, fullCollectionSinceLastCheck: true));
    }

    [Fact]
    public void Without_a_full_collection_since_the_last_check_a_large_heap_is_surveyed_first_and_a_small_one_is_not()
    {
        // The holes of objects that died since the last full collection are unknown until one runs.
        Assert.Equal(HeapAction.Survey, Policy().Decide(T0, 2400 * MiB, 10 * MiB, fullCollectionSinceLastCheck: false));
        Assert.Equal(HeapAction.None, Policy().Decide(T0, 200 * MiB, 10 * MiB, fullCollectionSinceLastCheck: false));
    }

    [Theory]
    [InlineData(null, null, 0.10)]
    [InlineData("25%", "1m", 0.25)]
    [InlineData("2.5", null, 0.025)]
    public void The_threshold_is_a_percentage_ten_by_default(string? threshold, string? interval, double share)
    {
        var read = HeapCompactionSettings.Read(Configuration(threshold, interval));
        Assert.NotNull(read);
        Assert.Equal(share, read.FragmentationShare, 6);
        Assert.Equal(interval is null ? TimeSpan.FromMinutes(30) : TimeSpan.FromMinutes(1), read.Interval);
    }

    [Fact]
    public void Off_turns_compaction_off()
    {
        Assert.Null(HeapCompactionSettings.Read(Configuration("off", null)));
    }

    [Theory]
    [InlineData("0%", null, "memory:compaction_threshold")]
    [InlineData("100", null, "memory:compaction_threshold")]
    [InlineData("lots", null, "memory:compaction_threshold")]
    [InlineData(null, "0s", "memory:compaction_interval")]
    [InlineData(null, "soon", "memory:compaction_interval")]
    public void A_bad_setting_names_its_key(string? threshold, string? interval, string key)
    {
        var error = Assert.ThrowsAny<Exception>(() => HeapCompactionSettings.Read(Configuration(threshold, interval)));
        Assert.Contains(key, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Session_and_identity_grains_leave_memory_after_their_own_idle_ages()
    {
        await using (var tuned = await ServiceNode.StartAsync(new NodeOptions
        {
            ExtraArgs = ["--orleans:session_idle_eviction=7m", "--orleans:identity_idle_eviction=3m"],
        }))
        {
            var ages = tuned.Service<IOptions<GrainCollectionOptions>>().Value.ClassSpecificCollectionAge;
            Assert.Equal(TimeSpan.FromMinutes(7), ages[typeof(SessionGrain).FullName!]);
            Assert.Equal(TimeSpan.FromMinutes(3), ages[typeof(IdentityGrain).FullName!]);
        }

        await using var plain = await ServiceNode.StartAsync();
        var defaults = plain.Service<IOptions<GrainCollectionOptions>>().Value.ClassSpecificCollectionAge;
        Assert.Equal(TimeSpan.FromMinutes(15), defaults[typeof(SessionGrain).FullName!]);
        Assert.Equal(TimeSpan.FromMinutes(2), defaults[typeof(IdentityGrain).FullName!]);
    }

    private static IConfiguration Configuration(string? threshold, string? interval)
    {
        var values = new Dictionary<string, string?>();
        if (threshold is not null) values["memory:compaction_threshold"] = threshold;
        if (interval is not null) values["memory:compaction_interval"] = interval;
        return new ConfigurationBuilder().AddInMemoryCollection(values).Build();
    }
}
