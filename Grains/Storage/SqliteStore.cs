using System.Data.Common;
using Microsoft.Data.Sqlite;
using OrleansSessions.Storage.Migrations;

namespace OrleansSessions.Storage;

/// <summary>
/// The embedded store: one SQLite file, WAL journal, synchronous=FULL so that an acknowledged
/// write survives a crash of the process or of the machine.
/// </summary>
public sealed class SqliteStore : IIdentityStore, ISessionStore, IKeyRingStore, ISchemaMigrator
{
    private const int UniqueConstraint = 2067;
    private const int PrimaryKeyConstraint = 1555;
    private readonly string _connectionString;

    public SqliteStore(string path)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        _connectionString = new SqliteConnectionStringBuilder
        {
            DataSource = path,
            ForeignKeys = true,
            Pooling = true,
            DefaultTimeout = 30,
        }.ToString();
    }

    private SqliteConnection Open()
    {
        var connection = new SqliteConnection(_connectionString);
        connection.Open();
        using var pragma = connection.CreateCommand();
        pragma.CommandText = "PRAGMA synchronous = FULL;";
        pragma.ExecuteNonQuery();
        return connection;
    }

    private static SqliteCommand Command(SqliteConnection connection, string sql, params (string Name, object? Value)[] parameters)
    {
        var command = connection.CreateCommand();
        command.CommandText = sql;
        foreach (var (name, value) in parameters)
            command.Parameters.AddWithValue(name, value ?? DBNull.Value);
        return command;
    }

    public async Task<IReadOnlyList<int>> MigrateAsync(CancellationToken ct = default)
    {
        await using var connection = Open();
        await using (var init = Command(connection,
            "PRAGMA journal_mode = WAL; CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER NOT NULL PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL);"))
            await init.ExecuteNonQueryAsync(ct);

        var applied = new List<int>();
        foreach (var migration in Migration.For("sqlite"))
        {
            await using var tx = (SqliteTransaction)await connection.BeginTransactionAsync(ct);
            await using var check = Command(connection, "SELECT COUNT(*) FROM schema_migrations WHERE version = $v", ("$v", migration.Version));
            check.Transaction = tx;
            if ((long)(await check.ExecuteScalarAsync(ct))! > 0)
                continue;
            await using var apply = Command(connection, migration.Sql);
            apply.Transaction = tx;
            await apply.ExecuteNonQueryAsync(ct);
            await using var record = Command(connection, "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($v, $n, $t)",
                ("$v", migration.Version), ("$n", migration.Name), ("$t", UnixMicros.From(DateTimeOffset.UtcNow)));
            record.Transaction = tx;
            await record.ExecuteNonQueryAsync(ct);
            await tx.CommitAsync(ct);
            applied.Add(migration.Version);
        }
        return applied;
    }

    private const string IdentityColumns = """
        i.id, i.schema_id, i.state, i.state_changed_at, i.traits, i.metadata_public, i.metadata_admin, i.external_id,
        i.created_at, i.updated_at, i.version, c.totp_secret IS NOT NULL
        FROM identities i LEFT JOIN identity_credentials c ON c.identity_id = i.id
        """;

    public Task<IdentityWriteOutcome> InsertIdentityAsync(IdentityRecord identity, IdentityCredentials credentials, CancellationToken ct = default) =>
        WriteIdentityAsync(identity, credentials, insert: true, ct);

    public Task<IdentityWriteOutcome> UpdateIdentityAsync(IdentityRecord identity, IdentityCredentials credentials, CancellationToken ct = default) =>
        WriteIdentityAsync(identity, credentials, insert: false, ct);

    /// <summary>The identity row, its credentials and its identifiers, in one transaction.</summary>
    private async Task<IdentityWriteOutcome> WriteIdentityAsync(IdentityRecord identity, IdentityCredentials credentials, bool insert, CancellationToken ct)
    {
        await using var connection = Open();
        await using var tx = (SqliteTransaction)await connection.BeginTransactionAsync(ct);
        var id = identity.Id.ToString();
        (string, object?)[] row =
        [
            ("$id", id), ("$schema", identity.SchemaId), ("$state", identity.State),
            ("$changed", identity.StateChangedAt is { } c ? UnixMicros.From(c) : null), ("$traits", identity.Traits),
            ("$pub", identity.MetadataPublic), ("$adm", identity.MetadataAdmin), ("$ext", identity.ExternalId),
            ("$created", UnixMicros.From(identity.CreatedAt)), ("$updated", UnixMicros.From(identity.UpdatedAt)),
            ("$version", identity.Version),
        ];
        try
        {
            await using (var write = Command(connection, insert
                ? """
                  INSERT INTO identities (id, schema_id, state, state_changed_at, traits, metadata_public, metadata_admin, external_id, created_at, updated_at, version)
                  VALUES ($id, $schema, $state, $changed, $traits, $pub, $adm, $ext, $created, $updated, $version)
                  """
                : """
                  UPDATE identities SET schema_id = $schema, state = $state, state_changed_at = $changed, traits = $traits,
                      metadata_public = $pub, metadata_admin = $adm, external_id = $ext, updated_at = $updated, version = $version
                  WHERE id = $id
                  """, row))
            {
                write.Transaction = tx;
                if (await write.ExecuteNonQueryAsync(ct) == 0)
                    return IdentityWriteOutcome.NotFound;
            }
            await using (var replace = Command(connection, """
                INSERT INTO identity_credentials (identity_id, password_hash, totp_secret, updated_at) VALUES ($id, $password, $totp, $updated)
                ON CONFLICT (identity_id) DO UPDATE SET password_hash = excluded.password_hash, totp_secret = excluded.totp_secret, updated_at = excluded.updated_at;
                DELETE FROM identity_identifiers WHERE identity_id = $id;
                """, ("$id", id), ("$password", credentials.PasswordHash), ("$totp", credentials.TotpSecret), ("$updated", UnixMicros.From(identity.UpdatedAt))))
            {
                replace.Transaction = tx;
                await replace.ExecuteNonQueryAsync(ct);
            }
            foreach (var identifier in credentials.Identifiers.Distinct(StringComparer.Ordinal))
            {
                await using var add = Command(connection, "INSERT INTO identity_identifiers (identifier, identity_id) VALUES ($identifier, $id)",
                    ("$identifier", identifier), ("$id", id));
                add.Transaction = tx;
                await add.ExecuteNonQueryAsync(ct);
            }
            await tx.CommitAsync(ct);
            return IdentityWriteOutcome.Written;
        }
        catch (SqliteException e) when (e.SqliteExtendedErrorCode is UniqueConstraint or PrimaryKeyConstraint)
        {
            return e.Message.Contains("identity_identifiers", StringComparison.Ordinal) ? IdentityWriteOutcome.IdentifierTaken
                : e.Message.Contains("external_id", StringComparison.Ordinal) ? IdentityWriteOutcome.ExternalIdTaken
                : IdentityWriteOutcome.IdTaken;
        }
    }

    public async Task<bool> DeleteIdentityAsync(Guid id, CancellationToken ct = default)
    {
        await using var connection = Open();
        await using var command = Command(connection, "DELETE FROM identities WHERE id = $id", ("$id", id.ToString()));
        return await command.ExecuteNonQueryAsync(ct) > 0;
    }

    public async Task<IdentityRecord?> FindIdentityAsync(Guid id, CancellationToken ct = default)
    {
        await using var connection = Open();
        await using var command = Command(connection, $"SELECT {IdentityColumns} WHERE i.id = $id", ("$id", id.ToString()));
        await using var reader = await command.ExecuteReaderAsync(ct);
        return await reader.ReadAsync(ct) ? ReadIdentity(reader) : null;
    }

    public async Task<IReadOnlyList<IdentityRecord>> ListIdentitiesAsync(int pageSize, Guid? after, CancellationToken ct = default)
    {
        await using var connection = Open();
        await using var command = Command(connection, $"SELECT {IdentityColumns} WHERE i.id > $after ORDER BY i.id LIMIT $limit",
            ("$after", after?.ToString() ?? ""), ("$limit", pageSize));
        await using var reader = await command.ExecuteReaderAsync(ct);
        var page = new List<IdentityRecord>();
        while (await reader.ReadAsync(ct))
            page.Add(ReadIdentity(reader));
        return page;
    }

    public async Task<IdentityCredentials?> FindCredentialsAsync(Guid id, CancellationToken ct = default)
    {
        await using var connection = Open();
        await using var command = Command(connection, """
            SELECT c.password_hash, c.totp_secret, (SELECT json_group_array(identifier) FROM identity_identifiers WHERE identity_id = i.id)
            FROM identities i LEFT JOIN identity_credentials c ON c.identity_id = i.id WHERE i.id = $id
            """, ("$id", id.ToString()));
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

    public async Task<Guid?> FindIdentityIdByIdentifierAsync(string identifier, CancellationToken ct = default)
    {
        await using var connection = Open();
        await using var command = Command(connection, "SELECT identity_id FROM identity_identifiers WHERE identifier = $identifier",
            ("$identifier", identifier));
        return await command.ExecuteScalarAsync(ct) is string id ? Guid.Parse(id) : null;
    }

    private static IdentityRecord ReadIdentity(DbDataReader r) => new()
    {
        Id = Guid.Parse(r.GetString(0)),
        SchemaId = r.GetString(1),
        State = r.GetString(2),
        StateChangedAt = r.IsDBNull(3) ? null : UnixMicros.To(r.GetInt64(3)),
        Traits = r.GetString(4),
        MetadataPublic = NullableString(r, 5),
        MetadataAdmin = NullableString(r, 6),
        ExternalId = NullableString(r, 7),
        CreatedAt = UnixMicros.To(r.GetInt64(8)),
        UpdatedAt = UnixMicros.To(r.GetInt64(9)),
        Version = r.GetInt64(10),
        AvailableAal = r.GetBoolean(11) ? AuthenticatorAssurance.Aal2 : AuthenticatorAssurance.Aal1,
    };

    public async Task InsertSessionAsync(SessionRecord session, CancellationToken ct = default)
    {
        await using var connection = Open();
        await using var command = Command(connection, """
            INSERT INTO sessions (id, lookup_key, identity_id, channel, active, aal, authentication_methods, devices,
                                  issued_at, authenticated_at, expires_at, created_at, updated_at)
            VALUES ($id, $key, $identity, $channel, $active, $aal, $methods, $devices, $issued, $authenticated, $expires, $created, $updated)
            """,
            ("$id", session.Id.ToString()), ("$key", session.LookupKey), ("$identity", session.IdentityId.ToString()),
            ("$channel", ChannelName(session.Channel)), ("$active", session.Revoked ? 0 : 1), ("$aal", session.Aal),
            ("$methods", StoredJson.WriteMethods(session.AuthenticationMethods)), ("$devices", StoredJson.WriteDevices(session.Devices)),
            ("$issued", UnixMicros.From(session.IssuedAt)), ("$authenticated", UnixMicros.From(session.AuthenticatedAt)),
            ("$expires", UnixMicros.From(session.ExpiresAt)), ("$created", UnixMicros.From(session.CreatedAt)),
            ("$updated", UnixMicros.From(session.UpdatedAt)));
        await command.ExecuteNonQueryAsync(ct);
    }

    public async Task<SessionRecord?> FindSessionByLookupKeyAsync(string lookupKey, CancellationToken ct = default)
    {
        await using var connection = Open();
        await using var command = Command(connection, """
            SELECT id, lookup_key, identity_id, channel, active, aal, authentication_methods, devices,
                   issued_at, authenticated_at, expires_at, created_at, updated_at
            FROM sessions WHERE lookup_key = $key
            """, ("$key", lookupKey));
        await using var reader = await command.ExecuteReaderAsync(ct);
        return await reader.ReadAsync(ct) ? ReadSession(reader) : null;
    }

    public async Task<string?> FindLookupKeyAsync(Guid sessionId, CancellationToken ct = default)
    {
        await using var connection = Open();
        await using var command = Command(connection, "SELECT lookup_key FROM sessions WHERE id = $id", ("$id", sessionId.ToString()));
        return await command.ExecuteScalarAsync(ct) as string;
    }

    public async Task<IReadOnlyList<string>> ListLiveLookupKeysAsync(Guid identityId, DateTimeOffset now, CancellationToken ct = default)
    {
        await using var connection = Open();
        await using var command = Command(connection,
            "SELECT lookup_key FROM sessions WHERE identity_id = $identity AND active = 1 AND expires_at > $now",
            ("$identity", identityId.ToString()), ("$now", UnixMicros.From(now)));
        await using var reader = await command.ExecuteReaderAsync(ct);
        var keys = new List<string>();
        while (await reader.ReadAsync(ct))
            keys.Add(reader.GetString(0));
        return keys;
    }

    public async Task<bool> UpdateSessionAuthenticationAsync(SessionRecord session, CancellationToken ct = default)
    {
        await using var connection = Open();
        await using var command = Command(connection, """
            UPDATE sessions SET aal = $aal, authentication_methods = $methods, authenticated_at = $authenticated,
                expires_at = $expires, updated_at = $updated
            WHERE id = $id
            """,
            ("$id", session.Id.ToString()), ("$aal", session.Aal), ("$methods", StoredJson.WriteMethods(session.AuthenticationMethods)),
            ("$authenticated", UnixMicros.From(session.AuthenticatedAt)), ("$expires", UnixMicros.From(session.ExpiresAt)),
            ("$updated", UnixMicros.From(session.UpdatedAt)));
        return await command.ExecuteNonQueryAsync(ct) > 0;
    }

    public async Task<bool> RevokeSessionAsync(Guid sessionId, DateTimeOffset at, CancellationToken ct = default)
    {
        await using var connection = Open();
        await using var command = Command(connection, "UPDATE sessions SET active = 0, updated_at = $at WHERE id = $id",
            ("$id", sessionId.ToString()), ("$at", UnixMicros.From(at)));
        return await command.ExecuteNonQueryAsync(ct) > 0;
    }

    public IReadOnlyList<string> ReadKeyRingElements()
    {
        using var connection = Open();
        using var command = Command(connection, "SELECT xml FROM data_protection_keys ORDER BY rowid");
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
            "INSERT INTO data_protection_keys (friendly_name, xml, created_at) VALUES ($name, $xml, $at) ON CONFLICT (friendly_name) DO NOTHING",
            ("$name", friendlyName), ("$xml", xml), ("$at", UnixMicros.From(DateTimeOffset.UtcNow)));
        command.ExecuteNonQuery();
    }

    private static SessionRecord ReadSession(DbDataReader r) => new()
    {
        Id = Guid.Parse(r.GetString(0)),
        LookupKey = r.GetString(1),
        IdentityId = Guid.Parse(r.GetString(2)),
        Channel = r.GetString(3) == "browser" ? SessionChannel.Browser : SessionChannel.Api,
        Revoked = r.GetInt64(4) == 0,
        Aal = r.GetString(5),
        AuthenticationMethods = StoredJson.ReadMethods(r.GetString(6)),
        Devices = StoredJson.ReadDevices(r.GetString(7)),
        IssuedAt = UnixMicros.To(r.GetInt64(8)),
        AuthenticatedAt = UnixMicros.To(r.GetInt64(9)),
        ExpiresAt = UnixMicros.To(r.GetInt64(10)),
        CreatedAt = UnixMicros.To(r.GetInt64(11)),
        UpdatedAt = UnixMicros.To(r.GetInt64(12)),
    };

    private static string ChannelName(SessionChannel channel) => channel == SessionChannel.Browser ? "browser" : "api";

    private static string? NullableString(DbDataReader r, int ordinal) => r.IsDBNull(ordinal) ? null : r.GetString(ordinal);
}
