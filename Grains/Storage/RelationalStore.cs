using System.Collections.Immutable;
using System.Data.Common;
using OrleansSessions.Storage.Migrations;

namespace OrleansSessions.Storage;

/// <summary>
/// What <see cref="SqliteStore"/> and <see cref="PostgresStore"/> share: the same schema (ids as text,
/// timestamps as bigint microseconds since the Unix epoch), the same row readers and every statement whose SQL
/// is the same in both dialects. Both providers accept <c>@name</c> parameters, so the shared SQL uses them.
/// A subclass supplies only what differs: how a connection is opened, how migrations are prepared and
/// serialised, how a unique violation is recognised, and the few statements whose syntax differs.
/// </summary>
public abstract class RelationalStore : IIdentityStore, ISessionStore, IKeyRingStore, ISigningKeyStore, ISchemaMigrator, IStoreProbe, IStoreFailures, IAsyncDisposable
{
    /// <summary>
    /// The region this store's database belongs to (<c>''</c> without regions): the keys it creates are that region's
    /// rows (sessions and identities carry their region in their records).
    /// </summary>
    public string Region { get; init; } = "";

    /// <summary>Releases pooled connections (PostgreSQL); nothing to release for SQLite.</summary>
    public virtual ValueTask DisposeAsync() => ValueTask.CompletedTask;

    /// <summary>An open connection, ready for statements (the synchronous path serves the key ring).</summary>
    protected abstract DbConnection Open();

    protected abstract ValueTask<DbConnection> OpenAsync(CancellationToken ct);

    public async Task ProbeAsync(CancellationToken ct = default)
    {
        await using var connection = await OpenAsync(ct);
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT 1";
        await command.ExecuteScalarAsync(ct);
    }

    public bool IsUnavailable(Exception e)
    {
        for (var inner = e; inner is not null; inner = inner.InnerException)
        {
            if (inner is DbException failure && IsUnreachable(failure))
            {
                DropPooledConnections();
                return true;
            }
        }
        return false;
    }

    /// <summary>Whether <paramref name="e"/> reports that the database could not be reached (never a constraint or a syntax error).</summary>
    protected abstract bool IsUnreachable(DbException e);

    /// <summary>Closes idle pooled connections: after the server restarted, they would fail on first use.</summary>
    protected virtual void DropPooledConnections()
    {
    }

    /// <summary>The dialect name of the migration files this store applies (<c>0001_initial.{dialect}.sql</c>).</summary>
    protected abstract string MigrationDialect { get; }

    /// <summary>Runs once per <see cref="MigrateAsync"/>, before any migration transaction.</summary>
    protected virtual Task BeforeMigrationsAsync(DbConnection connection, CancellationToken ct) => Task.CompletedTask;

    /// <summary>Runs first in each migration's transaction, before it checks whether that version is applied.</summary>
    protected virtual Task BeginMigrationAsync(DbConnection connection, DbTransaction tx, CancellationToken ct) => Task.CompletedTask;

    /// <summary>Whether <paramref name="e"/> is a violated primary key or unique constraint.</summary>
    protected abstract bool IsUniqueViolation(DbException e);

    /// <summary>Which of an identity's unique values a unique violation <paramref name="e"/> reports taken.</summary>
    protected abstract IdentityWriteOutcome TakenBy(DbException e);

    /// <summary>An expression of a subquery on <c>identity_identifiers</c>: its identifiers as JSON array text, <c>[]</c> when none.</summary>
    protected abstract string IdentifiersJsonArray { get; }

    /// <summary>The ORDER BY expression that lists key ring elements in the order they were stored.</summary>
    protected abstract string KeyRingOrder { get; }

    protected static DbCommand Command(DbConnection connection, string sql, params (string Name, object? Value)[] parameters)
    {
        var command = connection.CreateCommand();
        command.CommandText = sql;
        foreach (var (name, value) in parameters)
        {
            var parameter = command.CreateParameter();
            parameter.ParameterName = name;
            parameter.Value = value ?? DBNull.Value;
            command.Parameters.Add(parameter);
        }
        return command;
    }

    /// <summary>
    /// Each pending migration, with its record in schema_migrations, in a transaction of its own. A database error
    /// is reported as a <see cref="MigrationFailedException"/> naming the migration it stopped at.
    /// </summary>
    public async Task<IReadOnlyList<int>> MigrateAsync(CancellationToken ct = default)
    {
        Migration? current = null;
        try
        {
            return await ApplyPendingMigrationsAsync(migration => current = migration, ct);
        }
        catch (DbException e)
        {
            throw new MigrationFailedException(MigrationDialect, current, e);
        }
    }

    /// <summary><paramref name="starting"/> is told of each migration before anything of it runs.</summary>
    private async Task<IReadOnlyList<int>> ApplyPendingMigrationsAsync(Action<Migration> starting, CancellationToken ct)
    {
        await using var connection = await OpenAsync(ct);
        await BeforeMigrationsAsync(connection, ct);
        var applied = new List<int>();
        foreach (var migration in Migration.For(MigrationDialect))
        {
            starting(migration);
            await using var tx = await connection.BeginTransactionAsync(ct);
            await BeginMigrationAsync(connection, tx, ct);
            await using var check = Command(connection, "SELECT COUNT(*) FROM schema_migrations WHERE version = @v", ("@v", migration.Version));
            check.Transaction = tx;
            if ((long)(await check.ExecuteScalarAsync(ct))! > 0)
                continue;
            await using var apply = Command(connection, migration.Sql);
            apply.Transaction = tx;
            await apply.ExecuteNonQueryAsync(ct);
            await using var record = Command(connection, "INSERT INTO schema_migrations (version, name, applied_at) VALUES (@v, @n, @t)",
                ("@v", migration.Version), ("@n", migration.Name), ("@t", UnixMicros.From(DateTimeOffset.UtcNow)));
            record.Transaction = tx;
            await record.ExecuteNonQueryAsync(ct);
            await tx.CommitAsync(ct);
            applied.Add(migration.Version);
        }
        return applied;
    }

    /// <summary>What <see cref="ReadIdentity"/> reads, of <c>identities i</c> and <c>identity_credentials c</c>.</summary>
    private const string IdentitySelect = """
        i.id, i.schema_id, i.state, i.state_changed_at, i.traits, i.metadata_public, i.metadata_admin, i.external_id,
        i.created_at, i.updated_at, i.version, c.totp_secret IS NOT NULL,
        i.sessions_revoked_up_to, i.sessions_revoked_except, i.sessions_deleted_up_to, i.region
        """;

    /// <summary>Every identity but the deleted ones (tombstones until the cleanup takes their sessions); append conditions with AND.</summary>
    private const string IdentityColumns = $"""
        {IdentitySelect}
        FROM identities i LEFT JOIN identity_credentials c ON c.identity_id = i.id WHERE i.deleted_at IS NULL
        """;

    /// <summary>
    /// Whether a session <c>s</c> of identity <c>i</c>, stored active, is still active: not revoked by the
    /// identity's revocation mark. Kratos's <c>active</c> is this, not yet expired.
    /// </summary>
    private const string StoredActive =
        "(s.active = 1 AND (s.issued_at > COALESCE(i.sessions_revoked_up_to, -1) OR s.id = COALESCE(i.sessions_revoked_except, '')))";

    /// <summary>
    /// The sessions that exist, each with its identity <c>i</c>: not of a deleted identity and not deleted by the
    /// identity's revocation mark. Every read of sessions goes through this.
    /// </summary>
    private const string Sessions =
        "sessions s JOIN identities i ON i.id = s.identity_id AND i.deleted_at IS NULL AND s.issued_at > COALESCE(i.sessions_deleted_up_to, -1)";

    /// <summary>What <see cref="ReadSession"/> reads, of <see cref="Sessions"/>: <c>active</c> as the mark leaves it.</summary>
    private const string SessionColumns = $"""
        s.id, s.identity_id, s.channel, CASE WHEN {StoredActive} THEN s.active ELSE 0 END, s.aal,
        s.authentication_methods, s.devices, s.issued_at, s.authenticated_at, s.expires_at, s.created_at, s.updated_at, s.last_seen_at, s.region
        """;

    private const int SessionColumnCount = 14;

    /// <summary>
    /// For an update of <c>sessions s</c>: the session exists (see <see cref="Sessions"/>), and with
    /// <paramref name="active"/> is also active as its identity's mark leaves it (<see cref="StoredActive"/>). An expiry
    /// or re-authentication update of a session revoked or deleted by a mark writes nothing.
    /// </summary>
    private static string ByMark(bool active) => $"""
        EXISTS (SELECT 1 FROM identities i WHERE i.id = s.identity_id AND i.deleted_at IS NULL
            AND s.issued_at > COALESCE(i.sessions_deleted_up_to, -1){(active ? $" AND {StoredActive}" : "")})
        """;

    public Task<IdentityWriteOutcome> InsertIdentityAsync(IdentityRecord identity, IdentityCredentials credentials, CancellationToken ct = default) =>
        WriteIdentityAsync(identity, credentials, expectedVersion: null, ct);

    public Task<IdentityWriteOutcome> UpdateIdentityAsync(IdentityRecord identity, IdentityCredentials credentials, long expectedVersion, CancellationToken ct = default) =>
        WriteIdentityAsync(identity, credentials, expectedVersion, ct);

    /// <summary>
    /// The identity row, its credentials and its identifiers, in one transaction. An update (with the version the
    /// writer read) changes the row only while it still has that version, so a concurrent writer is never overwritten.
    /// </summary>
    private async Task<IdentityWriteOutcome> WriteIdentityAsync(IdentityRecord identity, IdentityCredentials credentials, long? expectedVersion, CancellationToken ct)
    {
        var insert = expectedVersion is null;
        await using var connection = await OpenAsync(ct);
        await using var tx = await connection.BeginTransactionAsync(ct);
        var id = identity.Id.ToString();
        (string, object?)[] row =
        [
            ("@id", id), ("@schema", identity.SchemaId), ("@state", identity.State),
            ("@changed", identity.StateChangedAt is { } c ? UnixMicros.From(c) : null), ("@traits", identity.Traits),
            ("@pub", identity.MetadataPublic), ("@adm", identity.MetadataAdmin), ("@ext", identity.ExternalId),
            ("@created", UnixMicros.From(identity.CreatedAt)), ("@updated", UnixMicros.From(identity.UpdatedAt)),
            ("@version", identity.Version), ("@expected", expectedVersion ?? 0L), ("@region", identity.Region),
        ];
        try
        {
            // Another region's identity may have the identifier or external id (unique per region in the schema, so that
            // replication never meets a conflict): what this database has of every region is checked here.
            if (await TakenElsewhereAsync(connection, tx, id, identity.ExternalId, credentials.Identifiers, ct) is { } taken)
                return taken;
            await using (var write = Command(connection, insert
                ? """
                  INSERT INTO identities (id, schema_id, state, state_changed_at, traits, metadata_public, metadata_admin, external_id, created_at, updated_at, version, region)
                  VALUES (@id, @schema, @state, @changed, @traits, @pub, @adm, @ext, @created, @updated, @version, @region)
                  """
                : """
                  UPDATE identities SET schema_id = @schema, state = @state, state_changed_at = @changed, traits = @traits,
                      metadata_public = @pub, metadata_admin = @adm, external_id = @ext, updated_at = @updated, version = @version
                  WHERE id = @id AND version = @expected AND deleted_at IS NULL
                  """, row))
            {
                write.Transaction = tx;
                if (await write.ExecuteNonQueryAsync(ct) == 0)
                    return await IdentityExistsAsync(connection, tx, id, ct) ? IdentityWriteOutcome.Conflict : IdentityWriteOutcome.NotFound;
            }
            await using (var replace = Command(connection, """
                INSERT INTO identity_credentials (identity_id, password_hash, totp_secret, updated_at, region)
                SELECT @id, @password, @totp, @updated, region FROM identities WHERE id = @id
                ON CONFLICT (identity_id) DO UPDATE SET password_hash = excluded.password_hash, totp_secret = excluded.totp_secret, updated_at = excluded.updated_at;
                DELETE FROM identity_identifiers WHERE identity_id = @id;
                """, ("@id", id), ("@password", credentials.PasswordHash), ("@totp", credentials.TotpSecret), ("@updated", UnixMicros.From(identity.UpdatedAt))))
            {
                replace.Transaction = tx;
                await replace.ExecuteNonQueryAsync(ct);
            }
            foreach (var identifier in credentials.Identifiers.Distinct(StringComparer.Ordinal))
            {
                await using var add = Command(connection, "INSERT INTO identity_identifiers (identifier, identity_id, region) SELECT @identifier, @id, region FROM identities WHERE id = @id",
                    ("@identifier", identifier), ("@id", id));
                add.Transaction = tx;
                await add.ExecuteNonQueryAsync(ct);
            }
            await tx.CommitAsync(ct);
            return IdentityWriteOutcome.Written;
        }
        catch (DbException e) when (IsUniqueViolation(e))
        {
            // Nothing was committed: disposing the transaction rolls it back.
            return TakenBy(e);
        }
    }

    private static async Task<bool> IdentityExistsAsync(DbConnection connection, DbTransaction tx, string id, CancellationToken ct)
    {
        await using var exists = Command(connection, "SELECT COUNT(*) FROM identities WHERE id = @id AND deleted_at IS NULL", ("@id", id));
        exists.Transaction = tx;
        return (long)(await exists.ExecuteScalarAsync(ct))! > 0;
    }

    /// <summary>
    /// Leaves a tombstone: the identity row is kept (its sessions go with it at once for every read, and are
    /// removed by the cleanup later), its external id, identifiers and credentials are removed now. One transaction,
    /// a handful of rows whatever the number of sessions.
    /// </summary>
    public async Task<bool> DeleteIdentityAsync(Guid id, DateTimeOffset at, CancellationToken ct = default)
    {
        await using var connection = await OpenAsync(ct);
        await using var tx = await connection.BeginTransactionAsync(ct);
        await using (var tombstone = Command(connection,
            "UPDATE identities SET deleted_at = @at, external_id = NULL, version = version + 1 WHERE id = @id AND deleted_at IS NULL",
            ("@id", id.ToString()), ("@at", UnixMicros.From(at))))
        {
            tombstone.Transaction = tx;
            if (await tombstone.ExecuteNonQueryAsync(ct) == 0)
                return false;
        }
        await using (var credentials = Command(connection, """
            DELETE FROM identity_identifiers WHERE identity_id = @id;
            DELETE FROM identity_credentials WHERE identity_id = @id;
            """, ("@id", id.ToString())))
        {
            credentials.Transaction = tx;
            await credentials.ExecuteNonQueryAsync(ct);
        }
        await tx.CommitAsync(ct);
        return true;
    }

    public async Task<IdentityWriteOutcome> UpdateSessionRevocationAsync(Guid id, SessionRevocation revocation, long version, long expectedVersion,
        bool requireSessions, CancellationToken ct = default)
    {
        // One statement, no transaction around it: what the caller waits for is this one round trip.
        await using var connection = await OpenAsync(ct);
        await using var write = Command(connection, $"""
            UPDATE identities SET sessions_revoked_up_to = @revoked, sessions_revoked_except = @except, sessions_deleted_up_to = @deleted,
                version = @version
            WHERE id = @id AND version = @expected AND deleted_at IS NULL{(requireSessions ? $" AND {HasSessions}" : "")}
            """,
            ("@id", id.ToString()), ("@version", version), ("@expected", expectedVersion),
            ("@revoked", revocation.RevokedUpTo is { } r ? UnixMicros.From(r) : null), ("@except", revocation.RevokedExcept?.ToString()),
            ("@deleted", revocation.DeletedUpTo is { } d ? UnixMicros.From(d) : null));
        if (await write.ExecuteNonQueryAsync(ct) > 0)
            return IdentityWriteOutcome.Written;

        // Nothing written: say why, as the identity is now (a change after the write is one the caller would meet anyway).
        await using var read = Command(connection, $"SELECT version, {HasSessions} FROM identities WHERE id = @id AND deleted_at IS NULL",
            ("@id", id.ToString()));
        await using var reader = await read.ExecuteReaderAsync(ct);
        if (!await reader.ReadAsync(ct))
            return IdentityWriteOutcome.NotFound;
        return reader.GetInt64(0) != expectedVersion ? IdentityWriteOutcome.Conflict
            : requireSessions && !reader.GetBoolean(1) ? IdentityWriteOutcome.NoSessions
            : IdentityWriteOutcome.Conflict;
    }

    /// <summary>For a row of <c>identities</c>: it has a session its deletion mark has not deleted (in any other state).</summary>
    private const string HasSessions =
        "EXISTS (SELECT 1 FROM sessions s WHERE s.identity_id = identities.id AND s.issued_at > COALESCE(identities.sessions_deleted_up_to, -1))";

    public async Task<IdentityRecord?> FindIdentityAsync(Guid id, CancellationToken ct = default)
    {
        await using var connection = await OpenAsync(ct);
        await using var command = Command(connection, $"SELECT {IdentityColumns} AND i.id = @id", ("@id", id.ToString()));
        await using var reader = await command.ExecuteReaderAsync(ct);
        return await reader.ReadAsync(ct) ? ReadIdentity(reader) : null;
    }

    public async Task<IReadOnlyList<IdentityRecord>> ListIdentitiesAsync(int pageSize, Guid? after, CancellationToken ct = default)
    {
        await using var connection = await OpenAsync(ct);
        await using var command = Command(connection, $"SELECT {IdentityColumns} AND i.id > @after ORDER BY i.id LIMIT @limit",
            ("@after", after?.ToString() ?? ""), ("@limit", pageSize));
        await using var reader = await command.ExecuteReaderAsync(ct);
        var page = new List<IdentityRecord>();
        while (await reader.ReadAsync(ct))
            page.Add(ReadIdentity(reader));
        return page;
    }

    public async Task<IdentityCredentials?> FindCredentialsAsync(Guid id, CancellationToken ct = default)
    {
        await using var connection = await OpenAsync(ct);
        await using var command = Command(connection, $"""
            SELECT c.password_hash, c.totp_secret, (SELECT {IdentifiersJsonArray} FROM identity_identifiers WHERE identity_id = i.id)
            FROM identities i LEFT JOIN identity_credentials c ON c.identity_id = i.id WHERE i.id = @id AND i.deleted_at IS NULL
            """, ("@id", id.ToString()));
        await using var reader = await command.ExecuteReaderAsync(ct);
        if (!await reader.ReadAsync(ct))
            return null;
        return new IdentityCredentials
        {
            PasswordHash = NullableString(reader, 0),
            TotpSecret = NullableString(reader, 1),
            Identifiers = [.. System.Text.Json.JsonSerializer.Deserialize<string[]>(reader.GetString(2))!.Order(StringComparer.Ordinal)],
        };
    }

    /// <summary>The identifier or external id an identity other than <paramref name="id"/> has, in any region; null when none.</summary>
    private static async Task<IdentityWriteOutcome?> TakenElsewhereAsync(DbConnection connection, DbTransaction tx, string id, string? externalId,
        IEnumerable<string> identifiers, CancellationToken ct)
    {
        if (externalId is not null)
        {
            await using var external = Command(connection, "SELECT COUNT(*) FROM identities WHERE external_id = @ext AND id <> @id", ("@ext", externalId), ("@id", id));
            external.Transaction = tx;
            if (Convert.ToInt64(await external.ExecuteScalarAsync(ct), System.Globalization.CultureInfo.InvariantCulture) > 0)
                return IdentityWriteOutcome.ExternalIdTaken;
        }
        foreach (var identifier in identifiers.Distinct(StringComparer.Ordinal))
        {
            await using var taken = Command(connection, "SELECT COUNT(*) FROM identity_identifiers WHERE identifier = @identifier AND identity_id <> @id",
                ("@identifier", identifier), ("@id", id));
            taken.Transaction = tx;
            if (Convert.ToInt64(await taken.ExecuteScalarAsync(ct), System.Globalization.CultureInfo.InvariantCulture) > 0)
                return IdentityWriteOutcome.IdentifierTaken;
        }
        return null;
    }

    public async Task<Guid?> FindIdentityIdByIdentifierAsync(string identifier, CancellationToken ct = default)
    {
        await using var connection = await OpenAsync(ct);
        // Two regions may have given one identifier within the replication delay: the one created first signs in, wherever.
        await using var command = Command(connection, """
            SELECT d.identity_id FROM identity_identifiers d JOIN identities i ON i.id = d.identity_id
            WHERE d.identifier = @identifier ORDER BY i.created_at, i.id LIMIT 1
            """, ("@identifier", identifier));
        return await command.ExecuteScalarAsync(ct) is string id ? Guid.Parse(id) : null;
    }

    /// <summary>Reads the <see cref="IdentityColumns"/>, starting at column <paramref name="o"/>.</summary>
    private static IdentityRecord ReadIdentity(DbDataReader r, int o = 0) => new()
    {
        Id = Guid.Parse(r.GetString(o)),
        SchemaId = r.GetString(o + 1),
        State = r.GetString(o + 2),
        StateChangedAt = r.IsDBNull(o + 3) ? null : UnixMicros.To(r.GetInt64(o + 3)),
        Traits = r.GetString(o + 4),
        MetadataPublic = NullableString(r, o + 5),
        MetadataAdmin = NullableString(r, o + 6),
        ExternalId = NullableString(r, o + 7),
        CreatedAt = UnixMicros.To(r.GetInt64(o + 8)),
        UpdatedAt = UnixMicros.To(r.GetInt64(o + 9)),
        Version = r.GetInt64(o + 10),
        AvailableAal = r.GetBoolean(o + 11) ? AuthenticatorAssurance.Aal2 : AuthenticatorAssurance.Aal1,
        Sessions = r.IsDBNull(o + 12) && r.IsDBNull(o + 14) ? SessionRevocation.None : new SessionRevocation
        {
            RevokedUpTo = r.IsDBNull(o + 12) ? null : UnixMicros.To(r.GetInt64(o + 12)),
            RevokedExcept = r.IsDBNull(o + 13) ? null : Guid.Parse(r.GetString(o + 13)),
            DeletedUpTo = r.IsDBNull(o + 14) ? null : UnixMicros.To(r.GetInt64(o + 14)),
        },
        Region = StoredJson.Region(r.GetString(o + 15)),
    };

    public async Task InsertSessionAsync(string lookupKey, SessionRecord session, CancellationToken ct = default)
    {
        await using var connection = await OpenAsync(ct);
        await using var command = Command(connection, """
            INSERT INTO sessions (id, lookup_key, identity_id, channel, active, aal, authentication_methods, devices,
                                  issued_at, authenticated_at, expires_at, created_at, updated_at, region)
            VALUES (@id, @key, @identity, @channel, @active, @aal, @methods, @devices, @issued, @authenticated, @expires, @created, @updated, @region)
            """,
            ("@id", session.Id.ToString()), ("@key", lookupKey), ("@identity", session.IdentityId.ToString()),
            ("@channel", ChannelName(session.Channel)), ("@active", session.Revoked ? 0 : 1), ("@aal", session.Aal),
            ("@methods", StoredJson.WriteMethods(session.AuthenticationMethods)), ("@devices", StoredJson.WriteDevices(session.Devices)),
            ("@issued", UnixMicros.From(session.IssuedAt)), ("@authenticated", UnixMicros.From(session.AuthenticatedAt)),
            ("@expires", UnixMicros.From(session.ExpiresAt)), ("@created", UnixMicros.From(session.CreatedAt)),
            ("@updated", UnixMicros.From(session.UpdatedAt)), ("@region", session.Region));
        await command.ExecuteNonQueryAsync(ct);
    }

    public async Task<SessionRecord?> FindSessionByLookupKeyAsync(string lookupKey, CancellationToken ct = default)
    {
        await using var connection = await OpenAsync(ct);
        await using var command = Command(connection, $$"""
            SELECT {{SessionColumns}} FROM {{Sessions}} WHERE s.lookup_key = @key
            """, ("@key", lookupKey));
        await using var reader = await command.ExecuteReaderAsync(ct);
        return await reader.ReadAsync(ct) ? ReadSession(reader) : null;
    }

    public async Task<string?> FindLookupKeyAsync(Guid sessionId, CancellationToken ct = default)
    {
        await using var connection = await OpenAsync(ct);
        await using var command = Command(connection, $"SELECT s.lookup_key FROM {Sessions} WHERE s.id = @id", ("@id", sessionId.ToString()));
        return await command.ExecuteScalarAsync(ct) as string;
    }

    public async Task<int> CountRevocableSessionsAsync(Guid identityId, Guid? except, CancellationToken ct = default)
    {
        await using var connection = await OpenAsync(ct);
        await using var command = Command(connection, $"SELECT COUNT(*) FROM {Sessions} WHERE s.identity_id = @identity AND s.id <> @except AND {StoredActive}",
            ("@identity", identityId.ToString()), ("@except", except?.ToString() ?? ""));
        return (int)(long)(await command.ExecuteScalarAsync(ct))!;
    }

    public async Task<DateTimeOffset?> LatestSessionIssuedAtAsync(Guid identityId, CancellationToken ct = default)
    {
        await using var connection = await OpenAsync(ct);
        // created_at, which issuance sets equal to issued_at: the identity's index has it.
        await using var command = Command(connection, "SELECT MAX(created_at) FROM sessions WHERE identity_id = @identity",
            ("@identity", identityId.ToString()));
        return await command.ExecuteScalarAsync(ct) is long latest ? UnixMicros.To(latest) : null;
    }

    public async Task<bool> UpdateSessionAuthenticationAsync(SessionRecord session, CancellationToken ct = default)
    {
        await using var connection = await OpenAsync(ct);
        await using var command = Command(connection, $$"""
            UPDATE sessions AS s SET aal = @aal, authentication_methods = @methods, authenticated_at = @authenticated,
                expires_at = @expires, updated_at = @updated
            WHERE s.id = @id AND {{ByMark(active: true)}}
            """,
            ("@id", session.Id.ToString()), ("@aal", session.Aal), ("@methods", StoredJson.WriteMethods(session.AuthenticationMethods)),
            ("@authenticated", UnixMicros.From(session.AuthenticatedAt)), ("@expires", UnixMicros.From(session.ExpiresAt)),
            ("@updated", UnixMicros.From(session.UpdatedAt)));
        return await command.ExecuteNonQueryAsync(ct) > 0;
    }

    public async Task<bool> UpdateSessionExpiryAsync(Guid sessionId, DateTimeOffset expiresAt, DateTimeOffset updatedAt, CancellationToken ct = default)
    {
        await using var connection = await OpenAsync(ct);
        await using var command = Command(connection, $"UPDATE sessions AS s SET expires_at = @expires, updated_at = @updated WHERE s.id = @id AND {ByMark(active: true)}",
            ("@id", sessionId.ToString()), ("@expires", UnixMicros.From(expiresAt)), ("@updated", UnixMicros.From(updatedAt)));
        return await command.ExecuteNonQueryAsync(ct) > 0;
    }

    private static string ActiveCondition(ActiveFilter filter) => filter switch
    {
        ActiveFilter.Active => $"AND {StoredActive} AND s.expires_at > @now",
        ActiveFilter.Inactive => $"AND (NOT {StoredActive} OR s.expires_at <= @now)",
        _ => "",
    };

    public async Task<IReadOnlyList<SessionView>> ListSessionsAsync(SessionListQuery query, CancellationToken ct = default)
    {
        await using var connection = await OpenAsync(ct);
        // Keyset order: newest first, then id; the cursor is the last session of the previous page.
        var sql = query.WithIdentity
            ? $"SELECT {SessionColumns}, {IdentitySelect} FROM {Sessions} LEFT JOIN identity_credentials c ON c.identity_id = s.identity_id"
            : $"SELECT {SessionColumns} FROM {Sessions}";
        sql += $"""

             WHERE (1 = 1) {ActiveCondition(query.Active)}
             {(query.After is null ? "" : "AND (s.created_at < @cat OR (s.created_at = @cat AND s.id > @cid))")}
             ORDER BY s.created_at DESC, s.id ASC LIMIT @limit
            """;
        await using var command = Command(connection, sql, ("@now", UnixMicros.From(query.Now)), ("@limit", query.PageSize),
            ("@cat", query.After is { } a ? UnixMicros.From(a.CreatedAt) : 0L), ("@cid", query.After?.Id.ToString() ?? ""));
        await using var reader = await command.ExecuteReaderAsync(ct);
        var page = new List<SessionView>();
        while (await reader.ReadAsync(ct))
            page.Add(new SessionView { Session = ReadSession(reader), Identity = query.WithIdentity ? ReadIdentity(reader, SessionColumnCount) : null });
        return page;
    }

    public async Task<SessionPage> ListIdentitySessionsAsync(IdentitySessionsQuery query, CancellationToken ct = default)
    {
        await using var connection = await OpenAsync(ct);
        var filter = $"s.identity_id = @identity AND s.id <> @except {ActiveCondition(query.Active)}";
        (string, object?)[] parameters =
        [
            ("@identity", query.IdentityId.ToString()), ("@except", query.Except?.ToString() ?? ""),
            ("@now", UnixMicros.From(query.Now)), ("@limit", query.Limit), ("@offset", query.Offset),
        ];
        await using var count = Command(connection, $"SELECT COUNT(*) FROM {Sessions} WHERE {filter}", parameters);
        var total = (int)(long)(await count.ExecuteScalarAsync(ct))!;
        await using var command = Command(connection, $"""
            SELECT {SessionColumns}, {IdentitySelect} FROM {Sessions} LEFT JOIN identity_credentials c ON c.identity_id = s.identity_id
            WHERE {filter} ORDER BY s.created_at DESC, s.id ASC LIMIT @limit OFFSET @offset
            """, parameters);
        await using var reader = await command.ExecuteReaderAsync(ct);
        var sessions = ImmutableArray.CreateBuilder<SessionView>();
        while (await reader.ReadAsync(ct))
            sessions.Add(new SessionView { Session = ReadSession(reader), Identity = ReadIdentity(reader, SessionColumnCount) });
        return new SessionPage { Sessions = sessions.ToImmutable(), Total = total };
    }

    public async Task WriteLastSeenAsync(IReadOnlyCollection<KeyValuePair<Guid, DateTimeOffset>> lastSeen, CancellationToken ct = default)
    {
        await using var connection = await OpenAsync(ct);
        await using var tx = await connection.BeginTransactionAsync(ct);
        await using var command = Command(connection,
            "UPDATE sessions SET last_seen_at = @seen WHERE id = @id AND (last_seen_at IS NULL OR last_seen_at < @seen)",
            ("@id", ""), ("@seen", 0L));
        command.Transaction = tx;
        foreach (var (id, seen) in lastSeen)
        {
            command.Parameters["@id"].Value = id.ToString();
            command.Parameters["@seen"].Value = UnixMicros.From(seen);
            await command.ExecuteNonQueryAsync(ct);
        }
        await tx.CommitAsync(ct);
    }

    public async Task<int> DeleteEndedSessionsAsync(int batchSize, CancellationToken ct = default)
    {
        await using var connection = await OpenAsync(ct);
        await using var sessions = Command(connection, """
            DELETE FROM sessions WHERE id IN (
                SELECT s.id FROM identities i JOIN sessions s ON s.identity_id = i.id
                WHERE s.region = @region AND (i.deleted_at IS NOT NULL OR (i.sessions_deleted_up_to IS NOT NULL AND s.issued_at <= i.sessions_deleted_up_to))
                LIMIT @batch)
            """, ("@batch", batchSize), ("@region", Region));
        var deleted = await sessions.ExecuteNonQueryAsync(ct);
        if (deleted < batchSize)
        {
            // Tombstones whose sessions are all gone (a session issued meanwhile is impossible: the identity is deleted). With
            // regions each database deletes only its own region's rows (the deletes replicate): another region's sessions of
            // the identity go in that region, and the tombstone here waits for them.
            await using var tombstones = Command(connection,
                "DELETE FROM identities WHERE deleted_at IS NOT NULL AND region = @region AND NOT EXISTS (SELECT 1 FROM sessions WHERE identity_id = identities.id)",
                ("@region", Region));
            await tombstones.ExecuteNonQueryAsync(ct);
        }
        return deleted;
    }

    public async Task<int> DeleteExpiredSessionsAsync(DateTimeOffset expiredBefore, int batchSize, CancellationToken ct = default)
    {
        await using var connection = await OpenAsync(ct);
        await using var command = Command(connection,
            "DELETE FROM sessions WHERE id IN (SELECT id FROM sessions WHERE expires_at < @before AND region = @region LIMIT @batch)",
            ("@before", UnixMicros.From(expiredBefore)), ("@batch", batchSize), ("@region", Region));
        return await command.ExecuteNonQueryAsync(ct);
    }

    public async Task<int> DeleteGrainStateAsync(string stateName, DateTimeOffset modifiedBefore, int batchSize, CancellationToken ct = default)
    {
        await using var connection = await OpenAsync(ct);
        await using var command = Command(connection,
            """
            DELETE FROM orleans_grain_state
            WHERE (service_id, grain_type, grain_id_n0, grain_id_n1, grain_id_ext) IN (
                SELECT service_id, grain_type, grain_id_n0, grain_id_n1, grain_id_ext FROM orleans_grain_state
                WHERE grain_type = @state AND modified_at < @before LIMIT @batch)
            """,
            ("@state", stateName), ("@before", UnixMicros.From(modifiedBefore)), ("@batch", batchSize));
        return await command.ExecuteNonQueryAsync(ct);
    }

    public async Task<bool> RevokeSessionAsync(Guid sessionId, DateTimeOffset at, CancellationToken ct = default)
    {
        await using var connection = await OpenAsync(ct);
        await using var command = Command(connection, $"UPDATE sessions AS s SET active = 0, updated_at = @at WHERE s.id = @id AND {ByMark(active: false)}",
            ("@id", sessionId.ToString()), ("@at", UnixMicros.From(at)));
        return await command.ExecuteNonQueryAsync(ct) > 0;
    }

    public IReadOnlyList<string> ReadKeyRingElements()
    {
        using var connection = Open();
        using var command = Command(connection, $"SELECT xml FROM data_protection_keys ORDER BY {KeyRingOrder}");
        using var reader = command.ExecuteReader();
        var elements = new List<string>();
        while (reader.Read())
            elements.Add(reader.GetString(0));
        return elements;
    }

    public void StoreKeyRingElement(string friendlyName, string xml)
    {
        using var connection = Open();
        using var command = Command(connection,
            "INSERT INTO data_protection_keys (friendly_name, xml, created_at, region) VALUES (@name, @xml, @at, @region) ON CONFLICT (friendly_name) DO NOTHING",
            ("@name", friendlyName), ("@xml", xml), ("@at", UnixMicros.From(DateTimeOffset.UtcNow)), ("@region", Region));
        command.ExecuteNonQuery();
    }

    public async Task<IReadOnlyList<StoredSigningKey>> ListSigningKeysAsync(CancellationToken ct = default)
    {
        await using var connection = await OpenAsync(ct);
        await using var command = Command(connection,
            "SELECT kid, algorithm, private_jwk, created_at, activates_at FROM tokenizer_keys ORDER BY activates_at, kid");
        await using var reader = await command.ExecuteReaderAsync(ct);
        var keys = new List<StoredSigningKey>();
        while (await reader.ReadAsync(ct))
            keys.Add(new StoredSigningKey(reader.GetString(0), reader.GetString(1), reader.GetString(2),
                UnixMicros.To(reader.GetInt64(3)), UnixMicros.To(reader.GetInt64(4))));
        return keys;
    }

    public async Task<bool> InsertSigningKeyAsync(StoredSigningKey key, CancellationToken ct = default)
    {
        await using var connection = await OpenAsync(ct);
        await using var command = Command(connection, """
            INSERT INTO tokenizer_keys (kid, algorithm, private_jwk, created_at, activates_at, region)
            VALUES (@kid, @alg, @jwk, @created, @activates, @region) ON CONFLICT (kid) DO NOTHING
            """, ("@kid", key.Kid), ("@alg", key.Algorithm), ("@jwk", key.PrivateJwk),
            ("@created", UnixMicros.From(key.CreatedAt)), ("@activates", UnixMicros.From(key.ActivatesAt)), ("@region", Region));
        return await command.ExecuteNonQueryAsync(ct) > 0;
    }

    private static SessionRecord ReadSession(DbDataReader r) => new()
    {
        Id = Guid.Parse(r.GetString(0)),
        IdentityId = Guid.Parse(r.GetString(1)),
        Channel = r.GetString(2) == "browser" ? SessionChannel.Browser : SessionChannel.Api,
        Revoked = r.GetInt64(3) == 0,
        Aal = StoredJson.Shared(r.GetString(4)),
        AuthenticationMethods = StoredJson.ReadMethods(r.GetString(5)),
        Devices = StoredJson.ReadDevices(r.GetString(6)),
        IssuedAt = UnixMicros.To(r.GetInt64(7)),
        AuthenticatedAt = UnixMicros.To(r.GetInt64(8)),
        ExpiresAt = UnixMicros.To(r.GetInt64(9)),
        CreatedAt = UnixMicros.To(r.GetInt64(10)),
        UpdatedAt = UnixMicros.To(r.GetInt64(11)),
        LastSeenAt = r.IsDBNull(12) ? null : UnixMicros.To(r.GetInt64(12)),
        Region = StoredJson.Region(r.GetString(13)),
    };

    private static string ChannelName(SessionChannel channel) => channel == SessionChannel.Browser ? "browser" : "api";

    private static string? NullableString(DbDataReader r, int ordinal) => r.IsDBNull(ordinal) ? null : r.GetString(ordinal);
}
