using System.Globalization;
using Npgsql;

namespace OrleansSessions.Regions;

/// <summary>
/// What PostgreSQL's logical replication between the regions' databases needs, created and checked by the product
/// (<c>Silo -- regions link</c> and <c>regions status</c>), never by hand-run SQL. Each region's database publishes
/// the rows of its own region (<c>orleans_sessions_&lt;region&gt;</c>: a row filter on <c>region</c>, so a row that
/// arrived from a peer is not sent on again and no two regions write one row) and subscribes to every peer's
/// publication (<c>orleans_sessions_&lt;region&gt;_from_&lt;peer&gt;</c>). Every step looks first and only creates what is missing,
/// so running it again, or in every region in any order, converges on the same mesh.
/// </summary>
public sealed class RegionLink(RegionMap regions, string ownConnectionString, Action<string> report, TimeProvider? clock = null)
{
    /// <summary>The schema version that has the region columns, the heartbeat and the change record (migration 0007).</summary>
    public const int RequiredSchemaVersion = 7;

    /// <summary>Every replicated table; each has a <c>region</c> column and a replica identity of (key, region).</summary>
    public static readonly string[] ReplicatedTables =
        ["identities", "identity_credentials", "identity_identifiers", "sessions", "data_protection_keys", "tokenizer_keys", "region_heartbeats"];

    /// <summary>The change-record triggers and when each fires: every writer, or only replication.</summary>
    private static readonly (string Table, string Trigger, string When)[] Triggers =
    [
        ("sessions", "sessions_changed", "ALWAYS"),
        ("sessions", "sessions_arrived", "REPLICA"),
        ("identities", "identities_changed", "ALWAYS"),
        ("region_heartbeats", "region_heartbeats_arrived", "REPLICA"),
    ];

    public static string PublicationOf(string region) => $"orleans_sessions_{region}";

    /// <summary>
    /// The subscription of <paramref name="self"/> to <paramref name="peer"/>'s publication; its replication slot on the peer's
    /// server has the same name, so it names both regions (every region subscribes to the same peer).
    /// </summary>
    public static string Subscription(string self, string peer) => $"orleans_sessions_{self}_from_{peer}";

    private Region Self => regions.Self ?? throw new InvalidOperationException("regions link needs regions:name (and regions:code, regions:peers:*).");

    /// <summary>Creates what is missing, here and in each peer's database; then waits for the first copy from each peer.</summary>
    public async Task LinkAsync(TimeSpan copyTimeout, CancellationToken ct = default)
    {
        var self = Self;
        await using var own = NpgsqlDataSource.Create(ownConnectionString);
        await CheckDatabaseAsync(own, self.Name, ct);
        await EnsurePublicationAsync(own, self.Name, ct);
        await EnableTriggersAsync(own, ct);
        await AdoptUnownedRowsAsync(own, self.Name, ct);
        await using (var beat = own.CreateCommand(
            "INSERT INTO region_heartbeats (region, beat_at) VALUES (@r, @t) ON CONFLICT (region) DO UPDATE SET beat_at = GREATEST(region_heartbeats.beat_at, excluded.beat_at)"))
        {
            beat.Parameters.AddWithValue("r", self.Name);
            // The nodes' clock: a beat ahead of the nodes' would vouch for this region longer than they do.
            beat.Parameters.AddWithValue("t", Storage.UnixMicros.From((clock ?? TimeProvider.System).GetUtcNow()));
            await beat.ExecuteNonQueryAsync(ct);
        }
        foreach (var peer in regions.Peers)
        {
            // The peer's publication is defined by its name alone: whichever region links first creates it.
            await using (var remote = NpgsqlDataSource.Create(peer.ConnectionString))
            {
                await CheckDatabaseAsync(remote, peer.Name, ct);
                await EnsurePublicationAsync(remote, peer.Name, ct);
            }
            await EnsureSubscriptionAsync(own, peer, ct);
        }
        await WaitForCopiesAsync(own, copyTimeout, ct);
        report($"Region {self.Name} is linked with {string.Join(", ", regions.Peers.Select(p => p.Name))}.");
    }

    /// <summary>One line per peer: whether its subscription runs, how far it has applied, and how old the peer's last beat is here.</summary>
    public async Task<IReadOnlyList<PeerLinkStatus>> StatusAsync(CancellationToken ct = default)
    {
        var self = Self;
        await using var own = NpgsqlDataSource.Create(ownConnectionString);
        var statuses = new List<PeerLinkStatus>();
        foreach (var peer in regions.Peers)
        {
            await using var command = own.CreateCommand("""
                SELECT s.subenabled,
                       st.pid IS NOT NULL,
                       (SELECT COUNT(*) FROM pg_subscription_rel r WHERE r.srsubid = s.oid AND r.srsubstate <> 'r'),
                       st.latest_end_time,
                       (SELECT beat_at FROM region_heartbeats WHERE region = @peer)
                FROM pg_subscription s LEFT JOIN pg_stat_subscription st ON st.subid = s.oid AND st.relid IS NULL
                WHERE s.subname = @name AND s.subdbid = (SELECT oid FROM pg_database WHERE datname = current_database())
                """);
            command.Parameters.AddWithValue("peer", peer.Name);
            command.Parameters.AddWithValue("name", Subscription(self.Name, peer.Name));
            await using var reader = await command.ExecuteReaderAsync(ct);
            if (!await reader.ReadAsync(ct))
            {
                statuses.Add(new PeerLinkStatus(peer.Name, Linked: false, Running: false, TablesCopying: 0, LastApplied: null, LastBeat: null));
                continue;
            }
            statuses.Add(new PeerLinkStatus(peer.Name, Linked: reader.GetBoolean(0), Running: reader.GetBoolean(1), TablesCopying: reader.GetInt64(2),
                LastApplied: reader.IsDBNull(3) ? null : reader.GetFieldValue<DateTimeOffset>(3),
                LastBeat: reader.IsDBNull(4) ? null : Storage.UnixMicros.To(reader.GetInt64(4))));
        }
        return statuses;
    }

    private static async Task CheckDatabaseAsync(NpgsqlDataSource database, string region, CancellationToken ct)
    {
        await using (var wal = database.CreateCommand("SHOW wal_level"))
        {
            var level = (string?)await wal.ExecuteScalarAsync(ct);
            if (level != "logical")
                throw new RegionLinkException($"The database of region {region} has wal_level={level}; logical replication needs wal_level=logical (postgresql.conf, then a restart).");
        }
        await using var schema = database.CreateCommand("SELECT COALESCE(MAX(version), 0) FROM schema_migrations");
        int version;
        try
        {
            version = Convert.ToInt32(await schema.ExecuteScalarAsync(ct), CultureInfo.InvariantCulture);
        }
        catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.UndefinedTable)
        {
            version = 0;
        }
        if (version < RequiredSchemaVersion)
            throw new RegionLinkException($"The database of region {region} is at schema version {version}; run `Silo -- migrate` against it first (regions need version {RequiredSchemaVersion}).");
    }

    private async Task EnsurePublicationAsync(NpgsqlDataSource database, string region, CancellationToken ct)
    {
        var name = PublicationOf(region);
        await using (var exists = database.CreateCommand("SELECT COUNT(*) FROM pg_publication WHERE pubname = @name"))
        {
            exists.Parameters.AddWithValue("name", name);
            if ((long)(await exists.ExecuteScalarAsync(ct))! > 0)
            {
                await CheckPublicationAsync(database, region, ct);
                report($"Publication {name} is in place.");
                return;
            }
        }
        // The region name is [a-z0-9_] (RegionMap checks it): safe as a literal and in an identifier.
        var tables = string.Join(", ", ReplicatedTables.Select(t => $"{t} WHERE (region = '{region}')"));
        await using var create = database.CreateCommand($"CREATE PUBLICATION {name} FOR TABLE {tables}");
        try
        {
            await create.ExecuteNonQueryAsync(ct);
            report($"Created publication {name}: the rows of region {region}.");
        }
        catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.DuplicateObject)
        {
            await CheckPublicationAsync(database, region, ct); // created by a link running at the same time
        }
    }

    /// <summary>A publication of ours must carry every replicated table with its region's filter, nothing less.</summary>
    private static async Task CheckPublicationAsync(NpgsqlDataSource database, string region, CancellationToken ct)
    {
        await using var command = database.CreateCommand("SELECT tablename, COALESCE(rowfilter, '') FROM pg_publication_tables WHERE pubname = @name");
        command.Parameters.AddWithValue("name", PublicationOf(region));
        var found = new Dictionary<string, string>(StringComparer.Ordinal);
        await using (var reader = await command.ExecuteReaderAsync(ct))
            while (await reader.ReadAsync(ct))
                found[reader.GetString(0)] = reader.GetString(1);
        var wrong = ReplicatedTables.Where(t => !found.TryGetValue(t, out var filter) || !filter.Contains($"'{region}'", StringComparison.Ordinal)).ToList();
        if (wrong.Count > 0)
            throw new RegionLinkException(
                $"Publication {PublicationOf(region)} exists but does not carry {string.Join(", ", wrong)} filtered on region '{region}'; drop it (DROP PUBLICATION) and link again.");
    }

    private async Task EnableTriggersAsync(NpgsqlDataSource database, CancellationToken ct)
    {
        foreach (var (table, trigger, when) in Triggers)
        {
            await using var command = database.CreateCommand($"ALTER TABLE {table} ENABLE {when} TRIGGER {trigger}");
            await command.ExecuteNonQueryAsync(ct);
        }
        report("Change record triggers are on.");
    }

    /// <summary>Rows written before regions were configured (region '') become this region's: it is the only one that has them.</summary>
    private async Task AdoptUnownedRowsAsync(NpgsqlDataSource database, string region, CancellationToken ct)
    {
        long adopted = 0;
        foreach (var table in ReplicatedTables)
        {
            await using var command = database.CreateCommand($"UPDATE {table} SET region = @r WHERE region = ''");
            command.Parameters.AddWithValue("r", region);
            adopted += await command.ExecuteNonQueryAsync(ct);
        }
        if (adopted > 0)
            report($"{adopted} rows written before regions were configured now belong to region {region}.");
    }

    private async Task EnsureSubscriptionAsync(NpgsqlDataSource own, PeerRegion peer, CancellationToken ct)
    {
        var name = Subscription(Self.Name, peer.Name);
        await using (var exists = own.CreateCommand("SELECT subenabled FROM pg_subscription WHERE subname = @name"))
        {
            exists.Parameters.AddWithValue("name", name);
            if (await exists.ExecuteScalarAsync(ct) is bool enabled)
            {
                if (!enabled)
                {
                    await using var enable = own.CreateCommand($"ALTER SUBSCRIPTION {name} ENABLE");
                    await enable.ExecuteNonQueryAsync(ct);
                    report($"Subscription {name} was disabled; enabled it.");
                }
                else
                    report($"Subscription {name} is in place.");
                return;
            }
        }
        var connection = LibpqConnectionString(peer.ReplicationConnectionString).Replace("'", "''", StringComparison.Ordinal);
        // copy_data: the peer's rows so far (its keys among them) arrive before what it writes next.
        await using var create = own.CreateCommand(
            $"CREATE SUBSCRIPTION {name} CONNECTION '{connection}' PUBLICATION {PublicationOf(peer.Name)} WITH (copy_data = true)");
        await create.ExecuteNonQueryAsync(ct);
        report($"Created subscription {name}: region {peer.Name}'s rows replicate here.");
    }

    /// <summary>Waits until every table of every subscription has finished its first copy.</summary>
    private async Task WaitForCopiesAsync(NpgsqlDataSource own, TimeSpan timeout, CancellationToken ct)
    {
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(ct);
        limit.CancelAfter(timeout);
        using var poll = new PeriodicTimer(TimeSpan.FromMilliseconds(100));
        while (true)
        {
            await using (var command = own.CreateCommand("""
                SELECT COUNT(*) FROM pg_subscription_rel r JOIN pg_subscription s ON s.oid = r.srsubid
                WHERE s.subname LIKE @pattern AND r.srsubstate <> 'r'
                """))
            {
                command.Parameters.AddWithValue("pattern", Subscription(Self.Name, "") + "%");
                if ((long)(await command.ExecuteScalarAsync(limit.Token))! == 0)
                    return;
            }
            try
            {
                await poll.WaitForNextTickAsync(limit.Token);
            }
            catch (OperationCanceledException) when (!ct.IsCancellationRequested)
            {
                throw new RegionLinkException($"The first copy from the peers did not finish within {timeout.TotalSeconds:0} s; `regions status` shows which tables are still copying.");
            }
        }
    }

    /// <summary>A subscription takes a libpq connection string; the settings may give an Npgsql one (<c>Host=…;Port=…</c>).</summary>
    public static string LibpqConnectionString(string value)
    {
        if (!value.Contains(';') && !value.Contains("Host=", StringComparison.OrdinalIgnoreCase))
            return value;
        var b = new NpgsqlConnectionStringBuilder(value);
        var parts = new List<string>();
        void Add(string key, string? v)
        {
            if (!string.IsNullOrEmpty(v))
                parts.Add($"{key}='{v.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("'", "\\'", StringComparison.Ordinal)}'");
        }
        Add("host", b.Host);
        Add("port", b.Port.ToString(CultureInfo.InvariantCulture));
        Add("user", b.Username);
        Add("password", b.Password);
        Add("dbname", b.Database);
        return string.Join(' ', parts);
    }
}

/// <summary>How one peer's replication into this region stands.</summary>
public sealed record PeerLinkStatus(string Peer, bool Linked, bool Running, long TablesCopying, DateTimeOffset? LastApplied, DateTimeOffset? LastBeat);

/// <summary>A step of <c>regions link</c> that cannot go on, with what to do about it.</summary>
public sealed class RegionLinkException(string message) : Exception(message);
