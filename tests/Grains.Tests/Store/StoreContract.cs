using OrleansSessions.Storage.Migrations;
using OrleansSessions.Tests.Infrastructure;

namespace OrleansSessions.Tests.Store;

/// <summary>
/// The behaviour every store must have, run against each store (<see cref="SqliteStoreTests"/>,
/// <see cref="PostgresStoreTests"/>) on a fresh database of each test's own.
/// </summary>
public abstract class StoreContract<TStore> : IAsyncLifetime
    where TStore : class, IIdentityStore, ISessionStore, IKeyRingStore, ISchemaMigrator
{
    protected const string Main = "main";

    private static readonly DateTimeOffset T0 = new(2030, 1, 2, 3, 4, 5, TimeSpan.Zero);

    private static readonly IdentityCredentials NoCredentials = new();

    private TStore _store = null!;

    /// <summary>The store on the main database, migrated.</summary>
    protected TStore Store => _store;
    private IReadOnlyList<int> _firstMigration = [];

    /// <summary>The dialect of the migrations (<c>sqlite</c>, <c>postgres</c>).</summary>
    protected abstract string Dialect { get; }

    /// <summary>The DDL of <c>schema_migrations</c> as the store creates it.</summary>
    protected abstract string SchemaMigrationsDdl { get; }

    /// <summary>Creates the empty database <paramref name="database"/> (a logical name, unique within the test).</summary>
    protected abstract Task CreateDatabaseAsync(string database);

    /// <summary>A new store instance on the database (another node, a restart); disposed with the test.</summary>
    protected abstract TStore OpenStore(string database);

    /// <summary>Runs raw SQL (one or more statements) on the database.</summary>
    protected abstract Task ExecuteAsync(string database, string sql);

    /// <summary>The first column of every row, as text; <c>@id</c> in the SQL is <paramref name="id"/> as text.</summary>
    protected abstract Task<List<string>> ColumnAsync(string database, string sql, Guid? id = null);

    /// <summary>Removes every database the test created and closes every store it opened.</summary>
    protected abstract Task DropDatabasesAsync();

    public async Task InitializeAsync()
    {
        await CreateDatabaseAsync(Main);
        _store = OpenStore(Main);
        _firstMigration = await _store.MigrateAsync();
    }

    public Task DisposeAsync() => DropDatabasesAsync();

    private Task<List<string>> RegionsOfAsync(Guid identityId) => ColumnAsync(Main,
        "SELECT region FROM identity_credentials WHERE identity_id = @id UNION ALL SELECT region FROM identity_identifiers WHERE identity_id = @id", identityId);

    private async Task<long> ScalarAsync(string sql, Guid id) => long.Parse((await ColumnAsync(Main, sql, id)).Single());

    /// <summary>Rows that still name the identity: its own row, its credentials, its identifiers and its sessions.</summary>
    private async Task<(long Identities, long Credentials, long Identifiers, long Sessions)> RowsOfIdentityAsync(Guid identityId) => (
        await ScalarAsync("SELECT COUNT(*) FROM identities WHERE id = @id", identityId),
        await ScalarAsync("SELECT COUNT(*) FROM identity_credentials WHERE identity_id = @id", identityId),
        await ScalarAsync("SELECT COUNT(*) FROM identity_identifiers WHERE identity_id = @id", identityId),
        await ScalarAsync("SELECT COUNT(*) FROM sessions WHERE identity_id = @id", identityId));

    /// <summary>The first migration applies every known version; the next applies none.</summary>
    [Fact]
    public async Task Migrations_are_applied_once()
    {
        var known = Migration.For(Dialect).Select(m => m.Version).ToArray();
        Assert.NotEmpty(known);
        Assert.Equal(known, _firstMigration);

        Assert.Empty(await _store.MigrateAsync());
        // Another store instance on the same database (another node, a restart) finds nothing to do either.
        Assert.Empty(await OpenStore(Main).MigrateAsync());

        Assert.Equal(known.Select(v => v.ToString()), await ColumnAsync(Main, "SELECT version FROM schema_migrations ORDER BY version"));
    }

    /// <summary>An identity with every field set comes back field by field, timestamps to the microsecond.</summary>
    [Fact]
    public async Task Identity_round_trips_field_by_field()
    {
        var identity = new IdentityRecord
        {
            Id = Guid.NewGuid(),
            SchemaId = "customer",
            State = IdentityRecord.StateActive,
            StateChangedAt = T0.AddTicks(1_234_560), // .123456
            Traits = """{"email":"ada@example.test","name":{"first":"Ada"}}""",
            MetadataPublic = """{"plan":"pro"}""",
            MetadataAdmin = """{"note":"vip"}""",
            ExternalId = "crm-42",
            CreatedAt = T0.AddTicks(10), // one microsecond
            UpdatedAt = T0.AddTicks(9_999_990), // .999999
        };

        Assert.Equal(IdentityWriteOutcome.Written, await _store.InsertIdentityAsync(identity, NoCredentials));
        var read = await _store.FindIdentityAsync(identity.Id);

        Assert.NotNull(read);
        Assert.Equal(identity.Id, read.Id);
        Assert.Equal(identity.SchemaId, read.SchemaId);
        Assert.Equal(identity.State, read.State);
        Assert.Equal(identity.StateChangedAt, read.StateChangedAt);
        Assert.Equal(identity.Traits, read.Traits);
        Assert.Equal(identity.MetadataPublic, read.MetadataPublic);
        Assert.Equal(identity.MetadataAdmin, read.MetadataAdmin);
        Assert.Equal(identity.ExternalId, read.ExternalId);
        Assert.Equal(identity.CreatedAt, read.CreatedAt);
        Assert.Equal(identity.UpdatedAt, read.UpdatedAt);
        Assert.Equal(TimeSpan.Zero, read.CreatedAt.Offset);
    }

    /// <summary>An identity with every optional field null comes back with nulls.</summary>
    [Fact]
    public async Task Identity_with_nulls_round_trips()
    {
        var identity = new IdentityRecord
        {
            Id = Guid.NewGuid(),
            SchemaId = "default",
            State = IdentityRecord.StateInactive,
            Traits = "{}",
            CreatedAt = T0,
            UpdatedAt = T0,
        };

        Assert.Equal(IdentityWriteOutcome.Written, await _store.InsertIdentityAsync(identity, NoCredentials));

        Assert.Equal(identity, await _store.FindIdentityAsync(identity.Id));
    }

    /// <summary>Timestamps are kept to the microsecond: the 100 ns digit is dropped, as Rfc3339.Truncate does.</summary>
    [Fact]
    public async Task Identity_timestamps_are_truncated_to_microseconds()
    {
        var precise = T0.AddTicks(1_234_567);
        var identity = new IdentityRecord
        {
            Id = Guid.NewGuid(), SchemaId = "default", State = IdentityRecord.StateActive, Traits = "{}",
            CreatedAt = precise, UpdatedAt = precise,
        };

        Assert.Equal(IdentityWriteOutcome.Written, await _store.InsertIdentityAsync(identity, NoCredentials));
        var read = await _store.FindIdentityAsync(identity.Id);

        Assert.NotNull(read);
        Assert.Equal(Rfc3339.Truncate(precise), read.CreatedAt);
        Assert.Equal(T0.AddTicks(1_234_560), read.CreatedAt);
    }

    /// <summary>An unknown identity id finds nothing.</summary>
    [Fact]
    public async Task Unknown_identity_is_not_found()
    {
        Assert.Null(await _store.FindIdentityAsync(Guid.NewGuid()));
    }

    /// <summary>A second identity with a taken external id, or a taken id, is refused with the outcome that says which.</summary>
    [Fact]
    public async Task Identity_with_a_taken_external_id_or_id_is_refused()
    {
        var first = NewIdentity(externalId: "crm-1");
        Assert.Equal(IdentityWriteOutcome.Written, await _store.InsertIdentityAsync(first, NoCredentials));

        Assert.Equal(IdentityWriteOutcome.ExternalIdTaken, await _store.InsertIdentityAsync(NewIdentity(externalId: "crm-1"), NoCredentials));
        Assert.Equal(IdentityWriteOutcome.IdTaken, await _store.InsertIdentityAsync(first with { ExternalId = "crm-2" }, NoCredentials));
        // Several identities without an external id are fine.
        Assert.Equal(IdentityWriteOutcome.Written, await _store.InsertIdentityAsync(NewIdentity(externalId: null), NoCredentials));
        Assert.Equal(IdentityWriteOutcome.Written, await _store.InsertIdentityAsync(NewIdentity(externalId: null), NoCredentials));
        Assert.Equal(first, await _store.FindIdentityAsync(first.Id));
    }

    /// <summary>A session comes back field by field: methods, devices with nulls, timestamps to the microsecond.</summary>
    [Fact]
    public async Task Session_round_trips_field_by_field()
    {
        var identity = NewIdentity();
        Assert.Equal(IdentityWriteOutcome.Written, await _store.InsertIdentityAsync(identity, NoCredentials));
        var session = NewSession(identity.Id, SessionChannel.Browser) with
        {
            Aal = AuthenticatorAssurance.Aal2,
            AuthenticationMethods =
            [
                new AuthenticationMethod { Method = "password", Aal = AuthenticatorAssurance.Aal1, CompletedAt = T0.AddTicks(10) },
                new AuthenticationMethod { Method = "totp", Aal = AuthenticatorAssurance.Aal2, CompletedAt = T0.AddTicks(5_000_010) },
            ],
            Devices =
            [
                new SessionDevice { Id = Guid.NewGuid(), IpAddress = "2001:db8::1", UserAgent = "Mozilla/5.0 \"quoted\" ü", Location = "Berlin, DE" },
                new SessionDevice { Id = Guid.NewGuid() },
            ],
        };

        await _store.InsertSessionAsync(session);
        var read = await _store.FindSessionByLookupKeyAsync(session.TestKey);

        Assert.NotNull(read);
        Cluster.SessionClusterTests.AssertSameSession(session, read);
        Assert.Null(read.Devices[1].IpAddress);
        Assert.Null(read.Devices[1].UserAgent);
        Assert.Null(read.Devices[1].Location);
        Assert.Equal("totp", read.AuthenticationMethods[1].Method);
        Assert.Equal(T0.AddTicks(5_000_010), read.AuthenticationMethods[1].CompletedAt);
    }

    /// <summary>
    /// Each row keeps the region that wrote it (what a region's publication filters on); an identity's credentials and
    /// identifiers carry its region too, and an update never moves a row to another region.
    /// </summary>
    [Fact]
    public async Task Rows_keep_their_region()
    {
        var identity = NewIdentity() with { Region = "eu" };
        Assert.Equal(IdentityWriteOutcome.Written, await _store.InsertIdentityAsync(identity,
            new IdentityCredentials { Identifiers = [$"{identity.Id}@example.com"], PasswordHash = "h" }));
        var session = NewSession(identity.Id, SessionChannel.Api) with { Region = "us" };
        await _store.InsertSessionAsync(session);

        Assert.Equal("us", (await _store.FindSessionByLookupKeyAsync(session.TestKey))!.Region);
        var read = (await _store.FindIdentityAsync(identity.Id))!;
        Assert.Equal("eu", read.Region);
        Assert.Equal(IdentityWriteOutcome.Written, await _store.UpdateIdentityAsync(read with { Traits = "{\"a\":1}", Version = read.Version + 1, Region = "ap" },
            new IdentityCredentials { Identifiers = [$"new-{identity.Id}@example.com"], PasswordHash = "h2" }, read.Version));
        Assert.Equal("eu", (await _store.FindIdentityAsync(identity.Id))!.Region);
        Assert.Equal(["eu", "eu"], await RegionsOfAsync(identity.Id));
        // Without regions, rows record ''.
        var plain = NewIdentity();
        Assert.Equal(IdentityWriteOutcome.Written, await _store.InsertIdentityAsync(plain, NoCredentials));
        Assert.Equal("", (await _store.FindIdentityAsync(plain.Id))!.Region);
    }

    /// <summary>An API session, and one stored already revoked, keep their channel and revocation.</summary>
    [Fact]
    public async Task Session_channel_and_revocation_round_trip()
    {
        var identity = NewIdentity();
        Assert.Equal(IdentityWriteOutcome.Written, await _store.InsertIdentityAsync(identity, NoCredentials));
        var api = NewSession(identity.Id, SessionChannel.Api);
        var revoked = NewSession(identity.Id, SessionChannel.Browser) with { Revoked = true };

        await _store.InsertSessionAsync(api);
        await _store.InsertSessionAsync(revoked);

        var readApi = await _store.FindSessionByLookupKeyAsync(api.TestKey);
        var readRevoked = await _store.FindSessionByLookupKeyAsync(revoked.TestKey);
        Assert.NotNull(readApi);
        Assert.NotNull(readRevoked);
        Assert.Equal(SessionChannel.Api, readApi.Channel);
        Assert.False(readApi.Revoked);
        Assert.Equal(SessionChannel.Browser, readRevoked.Channel);
        Assert.True(readRevoked.Revoked);
    }

    /// <summary>Lookups by an unknown lookup key or session id find nothing; a known session id gives its lookup key.</summary>
    [Fact]
    public async Task Session_lookups_by_key_and_by_id()
    {
        var identity = NewIdentity();
        Assert.Equal(IdentityWriteOutcome.Written, await _store.InsertIdentityAsync(identity, NoCredentials));
        var session = NewSession(identity.Id, SessionChannel.Api);
        await _store.InsertSessionAsync(session);

        Assert.Equal(session.TestKey, await _store.FindLookupKeyAsync(session.Id));
        Assert.Null(await _store.FindLookupKeyAsync(Guid.NewGuid()));
        Assert.Null(await _store.FindSessionByLookupKeyAsync(SessionToken.LookupKey(SessionToken.New())));
    }

    /// <summary>Revoking a stored session answers true and marks it revoked at the given instant; an unknown id answers false.</summary>
    [Fact]
    public async Task Revoke_session_answers_whether_the_session_exists()
    {
        var identity = NewIdentity();
        Assert.Equal(IdentityWriteOutcome.Written, await _store.InsertIdentityAsync(identity, NoCredentials));
        var session = NewSession(identity.Id, SessionChannel.Api);
        var other = NewSession(identity.Id, SessionChannel.Api);
        await _store.InsertSessionAsync(session);
        await _store.InsertSessionAsync(other);
        var at = T0.AddHours(1).AddTicks(70);

        Assert.True(await _store.RevokeSessionAsync(session.Id, at));
        Assert.False(await _store.RevokeSessionAsync(Guid.NewGuid(), at));

        var read = await _store.FindSessionByLookupKeyAsync(session.TestKey);
        Assert.NotNull(read);
        Assert.True(read.Revoked);
        Assert.Equal(at, read.UpdatedAt);
        Assert.Equal(session.CreatedAt, read.CreatedAt);
        var untouched = await _store.FindSessionByLookupKeyAsync(other.TestKey);
        Assert.NotNull(untouched);
        Assert.False(untouched.Revoked);
        Assert.Equal(other.UpdatedAt, untouched.UpdatedAt);
    }

    /// <summary>Key ring elements come back in the order they were stored; a duplicate friendly name is ignored.</summary>
    [Fact]
    public void Key_ring_elements_are_read_back_in_order_and_duplicates_are_ignored()
    {
        Assert.Empty(_store.ReadKeyRingElements());

        _store.StoreKeyRingElement("key-1", "<key id=\"1\"/>");
        _store.StoreKeyRingElement("key-2", "<key id=\"2\"/>");
        _store.StoreKeyRingElement("key-3", "<key id=\"3\"/>");
        _store.StoreKeyRingElement("key-2", "<key id=\"2\" replaced=\"true\"/>");

        Assert.Equal(["<key id=\"1\"/>", "<key id=\"2\"/>", "<key id=\"3\"/>"], _store.ReadKeyRingElements());
        // Another node reading the same database sees the same ring.
        Assert.Equal(_store.ReadKeyRingElements(), OpenStore(Main).ReadKeyRingElements());
    }

    /// <summary>Credentials and identifiers come back as written (identifiers in ordinal order); an update replaces them all.</summary>
    [Fact]
    public async Task Credentials_round_trip_and_are_replaced_by_an_update()
    {
        var identity = NewIdentity();
        var credentials = new IdentityCredentials
        {
            Identifiers = ["zed@example.test", "ada@example.test"],
            PasswordHash = "$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA",
            TotpSecret = "JBSWY3DPEHPK3PXP",
        };

        Assert.Equal(IdentityWriteOutcome.Written, await _store.InsertIdentityAsync(identity, credentials));
        var read = await _store.FindCredentialsAsync(identity.Id);

        Assert.NotNull(read);
        Assert.Equal(new[] { "ada@example.test", "zed@example.test" }, read.Identifiers);
        Assert.Equal(credentials.PasswordHash, read.PasswordHash);
        Assert.Equal(credentials.TotpSecret, read.TotpSecret);

        var replaced = new IdentityCredentials { Identifiers = ["new@example.test"], PasswordHash = "$2a$10$abcdefghijklmnopqrstuv" };
        Assert.Equal(IdentityWriteOutcome.Written, await _store.UpdateIdentityAsync(identity with { Version = 2, UpdatedAt = T0.AddMinutes(1) }, replaced, identity.Version));
        read = await _store.FindCredentialsAsync(identity.Id);

        Assert.NotNull(read);
        Assert.Equal(new[] { "new@example.test" }, read.Identifiers);
        Assert.Equal(replaced.PasswordHash, read.PasswordHash);
        Assert.Null(read.TotpSecret);
        Assert.Null(await _store.FindIdentityIdByIdentifierAsync("ada@example.test"));
        Assert.Equal(identity.Id, await _store.FindIdentityIdByIdentifierAsync("new@example.test"));
        Assert.Equal(2, (await _store.FindIdentityAsync(identity.Id))!.Version);
    }

    /// <summary>An identity without credentials has none: no identifiers, no hash, no secret. An unknown identity has no credentials at all.</summary>
    [Fact]
    public async Task Identity_without_credentials_has_empty_credentials()
    {
        var identity = NewIdentity();
        Assert.Equal(IdentityWriteOutcome.Written, await _store.InsertIdentityAsync(identity, NoCredentials));

        var read = await _store.FindCredentialsAsync(identity.Id);

        Assert.NotNull(read);
        Assert.Empty(read.Identifiers);
        Assert.Null(read.PasswordHash);
        Assert.Null(read.TotpSecret);
        Assert.Null(await _store.FindCredentialsAsync(Guid.NewGuid()));
    }

    /// <summary>
    /// Identifiers are unique across identities: an insert or update that would share one is refused with
    /// IdentifierTaken and writes nothing of itself; the same identifier twice in one identity is fine.
    /// </summary>
    [Fact]
    public async Task Identifiers_are_unique_across_identities()
    {
        var first = NewIdentity();
        Assert.Equal(IdentityWriteOutcome.Written, await _store.InsertIdentityAsync(first, new IdentityCredentials { Identifiers = ["a@example.test", "a@example.test"] }));
        var second = NewIdentity();
        var third = NewIdentity();
        Assert.Equal(IdentityWriteOutcome.Written, await _store.InsertIdentityAsync(third, new IdentityCredentials { Identifiers = ["c@example.test"], PasswordHash = "h3" }));

        Assert.Equal(IdentityWriteOutcome.IdentifierTaken,
            await _store.InsertIdentityAsync(second, new IdentityCredentials { Identifiers = ["b@example.test", "a@example.test"], PasswordHash = "h2" }));
        Assert.Equal(IdentityWriteOutcome.IdentifierTaken,
            await _store.UpdateIdentityAsync(third with { Traits = """{"changed":true}""", Version = 9 }, new IdentityCredentials { Identifiers = ["a@example.test"] }, third.Version));

        Assert.Null(await _store.FindIdentityAsync(second.Id));
        Assert.Null(await _store.FindIdentityIdByIdentifierAsync("b@example.test"));
        Assert.Equal(first.Id, await _store.FindIdentityIdByIdentifierAsync("a@example.test"));
        Assert.Equal(new[] { "a@example.test" }, (await _store.FindCredentialsAsync(first.Id))!.Identifiers);
        // The refused update left the third identity, its hash and its identifier as they were.
        Assert.Equal(third, await _store.FindIdentityAsync(third.Id));
        var thirdCredentials = await _store.FindCredentialsAsync(third.Id);
        Assert.Equal(new[] { "c@example.test" }, thirdCredentials!.Identifiers);
        Assert.Equal("h3", thirdCredentials.PasswordHash);
        Assert.Equal(0L, await ScalarAsync("SELECT COUNT(*) FROM identity_credentials WHERE identity_id = @id", second.Id));

        // Taken by another region's identity (replicated here): refused as well, though the schema's uniqueness is per region.
        var elsewhere = NewIdentity(externalId: "crm-elsewhere") with { Region = "us" };
        Assert.Equal(IdentityWriteOutcome.Written, await _store.InsertIdentityAsync(elsewhere, new IdentityCredentials { Identifiers = ["us@example.test"] }));
        Assert.Equal(IdentityWriteOutcome.IdentifierTaken,
            await _store.InsertIdentityAsync(NewIdentity(), new IdentityCredentials { Identifiers = ["us@example.test"] }));
        Assert.Equal(IdentityWriteOutcome.ExternalIdTaken, await _store.InsertIdentityAsync(NewIdentity(externalId: "crm-elsewhere"), NoCredentials));
        Assert.Equal(elsewhere.Id, await _store.FindIdentityIdByIdentifierAsync("us@example.test"));
    }

    /// <summary>Updating an identity that does not exist answers NotFound and writes nothing.</summary>
    [Fact]
    public async Task Update_of_an_unknown_identity_is_NotFound()
    {
        var identity = NewIdentity();

        Assert.Equal(IdentityWriteOutcome.NotFound, await _store.UpdateIdentityAsync(identity, new IdentityCredentials { Identifiers = ["x@example.test"] }, identity.Version));

        Assert.Null(await _store.FindIdentityAsync(identity.Id));
        Assert.Null(await _store.FindIdentityIdByIdentifierAsync("x@example.test"));
        Assert.Equal((0L, 0L, 0L, 0L), await RowsOfIdentityAsync(identity.Id));
    }

    /// <summary>
    /// Deleting an identity takes its credentials and identifiers at once and its sessions for every read, in one
    /// write whatever their number; the cleanup removes the session rows and the tombstone; nothing of anyone else's goes.
    /// </summary>
    [Fact]
    public async Task Delete_identity_takes_its_sessions_and_credentials()
    {
        var doomed = NewIdentity();
        var other = NewIdentity();
        Assert.Equal(IdentityWriteOutcome.Written, await _store.InsertIdentityAsync(doomed, new IdentityCredentials { Identifiers = ["d@example.test"], PasswordHash = "h", TotpSecret = "s" }));
        Assert.Equal(IdentityWriteOutcome.Written, await _store.InsertIdentityAsync(other, new IdentityCredentials { Identifiers = ["o@example.test"], PasswordHash = "h" }));
        var sessions = new[] { NewSession(doomed.Id, SessionChannel.Api), NewSession(doomed.Id, SessionChannel.Browser) with { Revoked = true } };
        foreach (var session in sessions)
            await _store.InsertSessionAsync(session);
        var kept = NewSession(other.Id, SessionChannel.Api);
        await _store.InsertSessionAsync(kept);
        Assert.Equal((1L, 1L, 1L, 2L), await RowsOfIdentityAsync(doomed.Id));

        Assert.True(await _store.DeleteIdentityAsync(doomed.Id, T0.AddHours(1)));

        Assert.Equal((1L, 0L, 0L, 2L), await RowsOfIdentityAsync(doomed.Id)); // the tombstone and the session rows stay for the cleanup
        Assert.Null(await _store.FindIdentityAsync(doomed.Id));
        Assert.DoesNotContain(await _store.ListIdentitiesAsync(100, null), i => i.Id == doomed.Id);
        Assert.Equal(0, (await _store.ListIdentitySessionsAsync(new IdentitySessionsQuery { IdentityId = doomed.Id, Offset = 0, Limit = 10, Now = T0.AddHours(1) })).Total);
        Assert.Equal(IdentityWriteOutcome.NotFound, await _store.UpdateIdentityAsync(doomed with { Version = 2 }, NoCredentials, doomed.Version));
        Assert.Null(await _store.FindCredentialsAsync(doomed.Id));
        Assert.Null(await _store.FindIdentityIdByIdentifierAsync("d@example.test"));
        foreach (var session in sessions)
        {
            Assert.Null(await _store.FindSessionByLookupKeyAsync(session.TestKey));
            Assert.Null(await _store.FindLookupKeyAsync(session.Id));
        }
        Assert.False(await _store.DeleteIdentityAsync(doomed.Id, T0.AddHours(2)));
        Assert.False(await _store.DeleteIdentityAsync(Guid.NewGuid(), T0.AddHours(2)));
        // Its identifier is free again at once.
        Assert.Equal(IdentityWriteOutcome.Written, await _store.InsertIdentityAsync(NewIdentity(), new IdentityCredentials { Identifiers = ["d@example.test"] }));

        Assert.Equal(1, await _store.DeleteEndedSessionsAsync(batchSize: 1));
        Assert.Equal(1, await _store.DeleteEndedSessionsAsync(batchSize: 1));
        Assert.Equal(0, await _store.DeleteEndedSessionsAsync(batchSize: 1));

        Assert.Equal((0L, 0L, 0L, 0L), await RowsOfIdentityAsync(doomed.Id));
        Assert.Equal((1L, 1L, 1L, 1L), await RowsOfIdentityAsync(other.Id));
        Cluster.SessionClusterTests.AssertSameSession(kept, (await _store.FindSessionByLookupKeyAsync(kept.TestKey))!);
    }

    /// <summary>A re-authentication writes the AAL, methods, authenticated_at, expires_at and updated_at, and nothing else.</summary>
    [Fact]
    public async Task UpdateSessionAuthentication_writes_the_authentication_and_nothing_else()
    {
        var identity = NewIdentity();
        Assert.Equal(IdentityWriteOutcome.Written, await _store.InsertIdentityAsync(identity, NoCredentials));
        var session = NewSession(identity.Id, SessionChannel.Browser);
        var other = NewSession(identity.Id, SessionChannel.Browser);
        await _store.InsertSessionAsync(session);
        await _store.InsertSessionAsync(other);
        var at = T0.AddHours(2).AddTicks(30);
        var reauthenticated = session with
        {
            Aal = AuthenticatorAssurance.Aal2,
            AuthenticationMethods = session.AuthenticationMethods.Add(new AuthenticationMethod { Method = "totp", Aal = AuthenticatorAssurance.Aal2, CompletedAt = at }),
            AuthenticatedAt = at,
            ExpiresAt = at.AddDays(1),
            UpdatedAt = at,
        };

        Assert.True(await _store.UpdateSessionAuthenticationAsync(reauthenticated with
        {
            // Not part of a re-authentication: ignored.
            Revoked = true, Channel = SessionChannel.Api, IssuedAt = at, CreatedAt = at, Devices = [],
        }));

        Cluster.SessionClusterTests.AssertSameSession(reauthenticated, (await _store.FindSessionByLookupKeyAsync(session.TestKey))!);
        Cluster.SessionClusterTests.AssertSameSession(other, (await _store.FindSessionByLookupKeyAsync(other.TestKey))!);
        Assert.False(await _store.UpdateSessionAuthenticationAsync(NewSession(identity.Id, SessionChannel.Api)));
    }

    /// <summary>The available AAL is derived from the TOTP secret: aal2 with one, aal1 without; for a single identity and in a listing.</summary>
    [Fact]
    public async Task Available_aal_follows_the_totp_secret()
    {
        var identity = NewIdentity();
        Assert.Equal(IdentityWriteOutcome.Written, await _store.InsertIdentityAsync(identity, new IdentityCredentials { PasswordHash = "h" }));
        Assert.Equal(AuthenticatorAssurance.Aal1, (await _store.FindIdentityAsync(identity.Id))!.AvailableAal);

        // The record's own AvailableAal is not what is stored: the credentials decide.
        Assert.Equal(IdentityWriteOutcome.Written, await _store.UpdateIdentityAsync(identity with { AvailableAal = AuthenticatorAssurance.Aal1 },
            new IdentityCredentials { PasswordHash = "h", TotpSecret = "JBSWY3DPEHPK3PXP" }, identity.Version));
        Assert.Equal(AuthenticatorAssurance.Aal2, (await _store.FindIdentityAsync(identity.Id))!.AvailableAal);
        Assert.Equal(AuthenticatorAssurance.Aal2, (await _store.ListIdentitiesAsync(10, null)).Single(i => i.Id == identity.Id).AvailableAal);

        Assert.Equal(IdentityWriteOutcome.Written, await _store.UpdateIdentityAsync(identity with { AvailableAal = AuthenticatorAssurance.Aal2 },
            new IdentityCredentials { PasswordHash = "h" }, identity.Version));
        Assert.Equal(AuthenticatorAssurance.Aal1, (await _store.FindIdentityAsync(identity.Id))!.AvailableAal);
        Assert.Equal(AuthenticatorAssurance.Aal1, (await _store.ListIdentitiesAsync(10, null)).Single(i => i.Id == identity.Id).AvailableAal);
    }

    /// <summary>Listing pages through identities in id order, each exactly once.</summary>
    [Fact]
    public async Task ListIdentities_pages_in_id_order()
    {
        var ids = new List<Guid>();
        for (var i = 0; i < 7; i++)
        {
            var identity = NewIdentity();
            Assert.Equal(IdentityWriteOutcome.Written, await _store.InsertIdentityAsync(identity, NoCredentials));
            ids.Add(identity.Id);
        }

        var seen = new List<Guid>();
        Guid? after = null;
        for (IReadOnlyList<IdentityRecord> page; (page = await _store.ListIdentitiesAsync(3, after)).Count > 0; after = page[^1].Id)
        {
            Assert.True(page.Count <= 3);
            seen.AddRange(page.Select(i => i.Id));
            Assert.True(seen.Count <= ids.Count, "paging repeats identities");
        }

        Assert.Equal(ids.Select(i => i.ToString()).Order(StringComparer.Ordinal), seen.Select(i => i.ToString()));
    }

    /// <summary>
    /// A database at version 1 (made before credentials existed) gets migration 0002 exactly once: existing
    /// identities get version 1 and no credentials, and keep working.
    /// </summary>
    [Fact]
    public async Task Migrations_after_the_first_upgrade_a_version_1_database_once()
    {
        await CreateDatabaseAsync("v1");
        var initial = Migration.For(Dialect).Single(m => m.Version == 1);
        var id = Guid.NewGuid();
        await ExecuteAsync("v1", $"""
            {SchemaMigrationsDdl};
            {initial.Sql}
            INSERT INTO schema_migrations (version, name, applied_at) VALUES (1, '{initial.Name}', 0);
            INSERT INTO identities (id, schema_id, state, traits, created_at, updated_at) VALUES ('{id}', 'default', 'active', '{"{}"}', 1, 1);
            """);
        var store = OpenStore("v1");

        // Every later migration follows, once.
        Assert.Equal(Migration.For(Dialect).Select(m => m.Version).Where(v => v > 1), await store.MigrateAsync());
        Assert.Empty(await store.MigrateAsync());
        Assert.Empty(await OpenStore("v1").MigrateAsync());

        var identity = await store.FindIdentityAsync(id);
        Assert.NotNull(identity);
        Assert.Equal(1, identity.Version);
        Assert.Equal(AuthenticatorAssurance.Aal1, identity.AvailableAal);
        var credentials = await store.FindCredentialsAsync(id);
        Assert.NotNull(credentials);
        Assert.Empty(credentials.Identifiers);
        Assert.Null(credentials.PasswordHash);
        Assert.Equal(Migration.For(Dialect).Select(m => m.Version.ToString()), await ColumnAsync("v1", "SELECT version FROM schema_migrations ORDER BY version"));
        Assert.Equal(IdentityWriteOutcome.Written, await store.UpdateIdentityAsync(identity with { Version = 2 }, new IdentityCredentials { Identifiers = ["v1@example.test"] }, identity.Version));
        Assert.Equal(id, await store.FindIdentityIdByIdentifierAsync("v1@example.test"));
    }

    /// <summary>
    /// An identity's revocation mark is one row, and every read follows it: sessions issued up to it (but the
    /// excepted one) read revoked, in lookups and listings; a later session is untouched; an extend of a revoked one
    /// writes nothing; a delete-all mark takes its sessions out of every read, and the cleanup removes their rows.
    /// </summary>
    [Fact]
    public async Task Revocation_marks_revoke_and_delete_sessions_for_every_read()
    {
        var identity = NewIdentity();
        var other = NewIdentity();
        await Store.InsertIdentityAsync(identity, NoCredentials);
        await Store.InsertIdentityAsync(other, NoCredentials);
        var kept = NewSession(identity.Id, SessionChannel.Browser);
        var revoked = NewSession(identity.Id, SessionChannel.Api);
        var already = NewSession(identity.Id, SessionChannel.Api) with { Revoked = true };
        var foreign = NewSession(other.Id, SessionChannel.Api);
        foreach (var session in new[] { kept, revoked, already, foreign })
            await Store.InsertSessionAsync(session);
        var upTo = T0.AddHours(1);
        var now = T0.AddHours(2);
        Assert.Equal(1, await Store.CountRevocableSessionsAsync(identity.Id, except: kept.Id)); // not the one revoked already

        var mark = SessionRevocation.None.RevokingUpTo(upTo, except: kept);
        Assert.Equal(IdentityWriteOutcome.Conflict, await Store.UpdateSessionRevocationAsync(identity.Id, mark, version: 3, expectedVersion: 2, requireSessions: false));
        Assert.Equal(IdentityWriteOutcome.NotFound, await Store.UpdateSessionRevocationAsync(Guid.NewGuid(), mark, version: 2, expectedVersion: 1, requireSessions: false));
        Assert.Equal(IdentityWriteOutcome.Written, await Store.UpdateSessionRevocationAsync(identity.Id, mark, version: 2, expectedVersion: identity.Version, requireSessions: false));

        var held = (await Store.FindIdentityAsync(identity.Id))!;
        Assert.Equal(mark, held.Sessions);
        Assert.Equal(2, held.Version);
        Assert.Equal(identity.UpdatedAt, held.UpdatedAt);
        Assert.True((await Store.FindSessionByLookupKeyAsync(revoked.TestKey))!.Revoked);
        Assert.True((await Store.FindSessionByLookupKeyAsync(already.TestKey))!.Revoked);
        Assert.False((await Store.FindSessionByLookupKeyAsync(kept.TestKey))!.Revoked);
        Assert.False((await Store.FindSessionByLookupKeyAsync(foreign.TestKey))!.Revoked);
        var active = await Store.ListIdentitySessionsAsync(new IdentitySessionsQuery { IdentityId = identity.Id, Offset = 0, Limit = 10, Active = ActiveFilter.Active, Now = now });
        Assert.Equal(1, active.Total);
        Assert.Equal([kept.Id], active.Sessions.Select(v => v.Session.Id));
        var inactive = await Store.ListIdentitySessionsAsync(new IdentitySessionsQuery { IdentityId = identity.Id, Offset = 0, Limit = 10, Active = ActiveFilter.Inactive, Now = now });
        Assert.Equal(2, inactive.Total);
        Assert.All(inactive.Sessions, v => Assert.True(v.Session.Revoked));
        Assert.Contains((await Store.ListSessionsAsync(new SessionListQuery { PageSize = 10, Active = ActiveFilter.Inactive, Now = now })), v => v.Session.Id == revoked.Id);
        Assert.False(await Store.UpdateSessionExpiryAsync(revoked.Id, T0.AddDays(3), now));
        Assert.False(await Store.UpdateSessionAuthenticationAsync(revoked with { ExpiresAt = T0.AddDays(3) }));
        Assert.True(await Store.UpdateSessionExpiryAsync(kept.Id, T0.AddDays(3), now));
        Assert.Equal(0, await Store.CountRevocableSessionsAsync(identity.Id, except: kept.Id));

        var later = NewSession(identity.Id, SessionChannel.Api) with { IssuedAt = upTo.AddTicks(10), CreatedAt = upTo.AddTicks(10) };
        await Store.InsertSessionAsync(later);
        Assert.False((await Store.FindSessionByLookupKeyAsync(later.TestKey))!.Revoked);
        Assert.Equal(later.CreatedAt, await Store.LatestSessionIssuedAtAsync(identity.Id));
        Assert.Null(await Store.LatestSessionIssuedAtAsync(Guid.NewGuid()));

        var deleted = mark.DeletingUpTo(upTo);
        Assert.Equal(IdentityWriteOutcome.Written, await Store.UpdateSessionRevocationAsync(identity.Id, deleted, version: 3, expectedVersion: 2, requireSessions: true));
        foreach (var gone in new[] { kept, revoked, already })
        {
            Assert.Null(await Store.FindSessionByLookupKeyAsync(gone.TestKey));
            Assert.Null(await Store.FindLookupKeyAsync(gone.Id));
            Assert.False(await Store.RevokeSessionAsync(gone.Id, now));
        }
        Assert.Equal(later.TestKey, await Store.FindLookupKeyAsync(later.Id));
        Assert.Equal(1, (await Store.ListIdentitySessionsAsync(new IdentitySessionsQuery { IdentityId = identity.Id, Offset = 0, Limit = 10, Now = now })).Total);

        Assert.Equal(3, await Store.DeleteEndedSessionsAsync(batchSize: 100));
        Assert.Equal(later.TestKey, await Store.FindLookupKeyAsync(later.Id));
        Assert.False((await Store.FindSessionByLookupKeyAsync(foreign.TestKey))!.Revoked);

        // A deletion mark that needs sessions: written while one is left (the later one), then NoSessions and nothing
        // written; a stale version is still a Conflict, an unknown identity NotFound.
        var all = deleted.DeletingUpTo(later.IssuedAt);
        Assert.Equal(IdentityWriteOutcome.Conflict, await Store.UpdateSessionRevocationAsync(identity.Id, all, version: 5, expectedVersion: 4, requireSessions: true));
        Assert.Equal(IdentityWriteOutcome.Written, await Store.UpdateSessionRevocationAsync(identity.Id, all, version: 4, expectedVersion: 3, requireSessions: true));
        Assert.Null(await Store.FindLookupKeyAsync(later.Id));
        Assert.Equal(IdentityWriteOutcome.NoSessions, await Store.UpdateSessionRevocationAsync(identity.Id, all, version: 5, expectedVersion: 4, requireSessions: true));
        Assert.Equal(4, (await Store.FindIdentityAsync(identity.Id))!.Version);
        Assert.Equal(IdentityWriteOutcome.Written, await Store.UpdateSessionRevocationAsync(identity.Id, all, version: 5, expectedVersion: 4, requireSessions: false));
        Assert.Equal(IdentityWriteOutcome.NotFound, await Store.UpdateSessionRevocationAsync(Guid.NewGuid(), all, version: 2, expectedVersion: 1, requireSessions: true));
    }

    /// <summary>An extension writes expires_at and updated_at; an unknown session answers false.</summary>
    [Fact]
    public async Task UpdateSessionExpiry_writes_the_expiry()
    {
        var identity = NewIdentity();
        await Store.InsertIdentityAsync(identity, NoCredentials);
        var session = NewSession(identity.Id, SessionChannel.Api);
        await Store.InsertSessionAsync(session);

        Assert.True(await Store.UpdateSessionExpiryAsync(session.Id, T0.AddDays(3).AddTicks(10), T0.AddHours(2).AddTicks(20)));
        Assert.False(await Store.UpdateSessionExpiryAsync(Guid.NewGuid(), T0, T0));
        Cluster.SessionClusterTests.AssertSameSession(session with { ExpiresAt = T0.AddDays(3).AddTicks(10), UpdatedAt = T0.AddHours(2).AddTicks(20) },
            (await Store.FindSessionByLookupKeyAsync(session.TestKey))!);
    }

    /// <summary>
    /// A revoked session is never extended nor re-authenticated: both writes answer false and change nothing,
    /// so a write that raced a revoke cannot keep the session alive in the store.
    /// </summary>
    [Fact]
    public async Task Expiry_and_authentication_updates_of_a_revoked_session_write_nothing()
    {
        var identity = NewIdentity();
        await Store.InsertIdentityAsync(identity, NoCredentials);
        var session = NewSession(identity.Id, SessionChannel.Browser);
        await Store.InsertSessionAsync(session);
        var revokedAt = T0.AddHours(1).AddTicks(40);
        Assert.True(await Store.RevokeSessionAsync(session.Id, revokedAt));

        Assert.False(await Store.UpdateSessionExpiryAsync(session.Id, T0.AddDays(9), T0.AddHours(2)));
        Assert.False(await Store.UpdateSessionAuthenticationAsync(session with
        {
            Aal = AuthenticatorAssurance.Aal2, AuthenticatedAt = T0.AddHours(2), ExpiresAt = T0.AddDays(9), UpdatedAt = T0.AddHours(2),
        }));

        Cluster.SessionClusterTests.AssertSameSession(session with { Revoked = true, UpdatedAt = revokedAt },
            (await Store.FindSessionByLookupKeyAsync(session.TestKey))!);
    }

    /// <summary>
    /// An identity update applies only to the version it was based on: a second update from the same (now stale)
    /// version is a Conflict and leaves the row, the credentials and the identifiers as the first update wrote them.
    /// </summary>
    [Fact]
    public async Task Identity_update_from_a_stale_version_is_a_conflict_and_writes_nothing()
    {
        var identity = NewIdentity() with { Version = 1 };
        Assert.Equal(IdentityWriteOutcome.Written, await Store.InsertIdentityAsync(identity,
            new IdentityCredentials { Identifiers = ["v1@example.test"], PasswordHash = "h1" }));
        var first = identity with { Version = 2, Traits = """{"email":"first@example.test"}""", UpdatedAt = T0.AddMinutes(1) };
        var firstCredentials = new IdentityCredentials { Identifiers = ["first@example.test"], PasswordHash = "h-first" };
        Assert.Equal(IdentityWriteOutcome.Written, await Store.UpdateIdentityAsync(first, firstCredentials, expectedVersion: 1));

        var second = identity with { Version = 2, Traits = """{"email":"second@example.test"}""", UpdatedAt = T0.AddMinutes(2) };
        Assert.Equal(IdentityWriteOutcome.Conflict, await Store.UpdateIdentityAsync(second,
            new IdentityCredentials { Identifiers = ["second@example.test"], PasswordHash = "h-second", TotpSecret = "JBSWY3DPEHPK3PXP" }, expectedVersion: 1));

        Assert.Equal(first, await Store.FindIdentityAsync(identity.Id));
        var credentials = await Store.FindCredentialsAsync(identity.Id);
        Assert.Equal(new[] { "first@example.test" }, credentials!.Identifiers);
        Assert.Equal("h-first", credentials.PasswordHash);
        Assert.Null(credentials.TotpSecret);
        Assert.Null(await Store.FindIdentityIdByIdentifierAsync("second@example.test"));
        // From the version now stored, the write goes through.
        Assert.Equal(IdentityWriteOutcome.Written, await Store.UpdateIdentityAsync(second with { Version = 3 },
            new IdentityCredentials { Identifiers = ["second@example.test"], PasswordHash = "h-second" }, expectedVersion: 2));
        Assert.Equal(3, (await Store.FindIdentityAsync(identity.Id))!.Version);
    }

    /// <summary>
    /// Writers on separate store instances (separate nodes) that all read the same version race to update it:
    /// exactly one is written, every other is a Conflict, and the stored identity is the winner's, whole.
    /// </summary>
    [Fact]
    public async Task Concurrent_identity_updates_from_one_version_write_exactly_one()
    {
        var identity = NewIdentity() with { Version = 1 };
        Assert.Equal(IdentityWriteOutcome.Written, await Store.InsertIdentityAsync(identity, new IdentityCredentials { Identifiers = ["race@example.test"] }));
        var nodes = new[] { Store, OpenStore(Main), OpenStore(Main) };

        var outcomes = await Task.WhenAll(Enumerable.Range(0, 12).Select(i => Task.Run(() => nodes[i % nodes.Length].UpdateIdentityAsync(
            identity with { Version = 2, Traits = $$"""{"email":"writer{{i}}@example.test"}""" },
            new IdentityCredentials { Identifiers = [$"writer{i}@example.test"], PasswordHash = $"h{i}" }, expectedVersion: 1))));

        Assert.Single(outcomes, o => o == IdentityWriteOutcome.Written);
        Assert.All(outcomes, o => Assert.True(o is IdentityWriteOutcome.Written or IdentityWriteOutcome.Conflict, $"outcome {o}"));
        var winner = Array.IndexOf(outcomes, IdentityWriteOutcome.Written);
        var stored = await Store.FindIdentityAsync(identity.Id);
        Assert.Equal(2, stored!.Version);
        Assert.Equal($$"""{"email":"writer{{winner}}@example.test"}""", stored.Traits);
        var credentials = await Store.FindCredentialsAsync(identity.Id);
        Assert.Equal(new[] { $"writer{winner}@example.test" }, credentials!.Identifiers);
        Assert.Equal($"h{winner}", credentials.PasswordHash);
    }

    /// <summary>Last-seen writes never go backwards; unknown sessions are ignored.</summary>
    [Fact]
    public async Task Last_seen_never_goes_backwards()
    {
        var identity = NewIdentity();
        await Store.InsertIdentityAsync(identity, NoCredentials);
        var session = NewSession(identity.Id, SessionChannel.Api);
        await Store.InsertSessionAsync(session);
        async Task<DateTimeOffset?> LastSeen() => (await Store.FindSessionByLookupKeyAsync(session.TestKey))!.LastSeenAt;

        Assert.Null(await LastSeen());
        await Store.WriteLastSeenAsync([new(session.Id, T0.AddMinutes(5).AddTicks(10)), new(Guid.NewGuid(), T0)]);
        Assert.Equal(T0.AddMinutes(5).AddTicks(10), await LastSeen());
        await Store.WriteLastSeenAsync([new(session.Id, T0.AddMinutes(1))]);
        Assert.Equal(T0.AddMinutes(5).AddTicks(10), await LastSeen());
        await Store.WriteLastSeenAsync([new(session.Id, T0.AddMinutes(9))]);
        Assert.Equal(T0.AddMinutes(9), await LastSeen());
    }

    /// <summary>Cleanup deletes sessions that expired before the bound, a batch at a time.</summary>
    [Fact]
    public async Task Expired_sessions_are_deleted_in_batches()
    {
        var identity = NewIdentity();
        await Store.InsertIdentityAsync(identity, NoCredentials);
        var bound = T0.AddDays(10);
        var expired = Enumerable.Range(0, 5).Select(i => NewSession(identity.Id, SessionChannel.Api) with { ExpiresAt = bound.AddMinutes(-i - 1) }).ToList();
        var live = NewSession(identity.Id, SessionChannel.Api) with { ExpiresAt = bound };
        // Another region's expired session: that region's own cleanup deletes it (the delete replicates), never this one's.
        var elsewhere = NewSession(identity.Id, SessionChannel.Api) with { ExpiresAt = bound.AddDays(-1), Region = "us" };
        foreach (var session in expired.Append(live).Append(elsewhere))
            await Store.InsertSessionAsync(session);

        var deleted = new List<int>();
        for (var i = 0; i < 4; i++)
            deleted.Add(await Store.DeleteExpiredSessionsAsync(bound, 2));
        Assert.Equal(new[] { 2, 2, 1, 0 }, deleted);
        Assert.NotNull(await Store.FindSessionByLookupKeyAsync(live.TestKey));
        foreach (var session in expired)
            Assert.Null(await Store.FindSessionByLookupKeyAsync(session.TestKey));
        Assert.NotNull(await Store.FindSessionByLookupKeyAsync(elsewhere.TestKey));
    }

    /// <summary>The keyset listing walks every session newest first (ties by id), filters by activity and joins the identity.</summary>
    [Fact]
    public async Task Session_listing_pages_by_keyset_newest_first()
    {
        var identity = NewIdentity();
        await Store.InsertIdentityAsync(identity, NoCredentials);
        var now = T0.AddHours(1);
        var sessions = Enumerable.Range(0, 7)
            .Select(i => NewSession(identity.Id, SessionChannel.Api) with { CreatedAt = T0.AddTicks(10 * (i / 2)) }) // pairs share created_at
            .ToList();
        sessions[1] = sessions[1] with { Revoked = true };
        sessions[2] = sessions[2] with { ExpiresAt = T0.AddMinutes(1) };
        foreach (var session in sessions)
            await Store.InsertSessionAsync(session);
        var expected = sessions.OrderByDescending(s => s.CreatedAt)
            .ThenBy(s => s.Id.ToString(), StringComparer.Ordinal).Select(s => s.Id).ToList();

        var walked = new List<Guid>();
        SessionCursor? after = null;
        while (true)
        {
            var page = await Store.ListSessionsAsync(new SessionListQuery { PageSize = 3, After = after, WithIdentity = true, Now = now });
            Assert.All(page, v => Assert.Equal(identity.Id, v.Identity!.Id));
            walked.AddRange(page.Select(v => v.Session.Id));
            if (page.Count < 3)
                break;
            after = new SessionCursor { CreatedAt = page[^1].Session.CreatedAt, Id = page[^1].Session.Id };
        }
        Assert.Equal(expected, walked);

        var active = await Store.ListSessionsAsync(new SessionListQuery { PageSize = 10, Active = ActiveFilter.Active, Now = now });
        Assert.Equal(expected.Where(id => id != sessions[1].Id && id != sessions[2].Id), active.Select(v => v.Session.Id));
        Assert.All(active, v => Assert.Null(v.Identity));
        var inactive = await Store.ListSessionsAsync(new SessionListQuery { PageSize = 10, Active = ActiveFilter.Inactive, Now = now });
        Assert.Equal(expected.Where(id => id == sessions[1].Id || id == sessions[2].Id), inactive.Select(v => v.Session.Id));
    }

    /// <summary>The offset listing of one identity's sessions: newest first, the total, the excepted session left out.</summary>
    [Fact]
    public async Task Identity_session_listing_pages_by_offset_with_the_total()
    {
        var identity = NewIdentity();
        var other = NewIdentity();
        await Store.InsertIdentityAsync(identity, NoCredentials);
        await Store.InsertIdentityAsync(other, NoCredentials);
        var sessions = Enumerable.Range(0, 5).Select(i => NewSession(identity.Id, SessionChannel.Browser) with { CreatedAt = T0.AddTicks(10 * i) }).ToList();
        foreach (var session in sessions.Append(NewSession(other.Id, SessionChannel.Api)))
            await Store.InsertSessionAsync(session);
        var now = T0.AddHours(1);

        var first = await Store.ListIdentitySessionsAsync(new IdentitySessionsQuery { IdentityId = identity.Id, Offset = 0, Limit = 2, Except = sessions[4].Id, Now = now });
        var second = await Store.ListIdentitySessionsAsync(new IdentitySessionsQuery { IdentityId = identity.Id, Offset = 2, Limit = 2, Except = sessions[4].Id, Now = now });
        Assert.Equal(4, first.Total);
        Assert.Equal(4, second.Total);
        Assert.Equal([sessions[3].Id, sessions[2].Id, sessions[1].Id, sessions[0].Id], first.Sessions.Concat(second.Sessions).Select(v => v.Session.Id));
        Assert.All(first.Sessions, v => Assert.Equal(identity.Id, v.Identity!.Id));
        Cluster.SessionClusterTests.AssertSameSession(sessions[3], first.Sessions[0].Session);
    }

    /// <summary>Signing keys come back field by field, oldest activation first whatever the order they were added in.</summary>
    [Fact]
    public async Task Signing_keys_are_listed_oldest_activation_first()
    {
        var keys = Assert.IsAssignableFrom<ISigningKeyStore>(Store);
        Assert.Empty(await keys.ListSigningKeysAsync());
        // A replacement (created before it activates), a first key (active since the epoch), a later replacement.
        var replacement = new StoredSigningKey("kid-replacement", "ES256", """{"kid":"kid-replacement","d":"r"}""", T0.AddTicks(10), T0.AddMinutes(15).AddTicks(10));
        var first = new StoredSigningKey("kid-first", "ES256", """{"kid":"kid-first","d":"f"}""", T0.AddDays(-30).AddTicks(20), DateTimeOffset.UnixEpoch);
        var rsa = new StoredSigningKey("kid-rsa", "RS256", """{"kid":"kid-rsa","d":"a"}""", T0.AddMinutes(1), T0.AddMinutes(16).AddTicks(30));
        foreach (var key in new[] { replacement, rsa, first })
            Assert.True(await keys.InsertSigningKeyAsync(key));

        Assert.Equal([first, replacement, rsa], await keys.ListSigningKeysAsync());
        // Another store instance on the same database (another node) reads the same ring.
        Assert.Equal([first, replacement, rsa], await ((ISigningKeyStore)OpenStore(Main)).ListSigningKeysAsync());
    }

    /// <summary>Key ids are unique: a second key with a known kid is refused with false and the first one stays as it was.</summary>
    [Fact]
    public async Task Inserting_a_signing_key_with_a_known_kid_answers_false_and_keeps_the_first()
    {
        var keys = Assert.IsAssignableFrom<ISigningKeyStore>(Store);
        var original = new StoredSigningKey("kid-taken", "ES256", """{"kid":"kid-taken","d":"original"}""", T0, T0.AddMinutes(15));
        Assert.True(await keys.InsertSigningKeyAsync(original));

        var duplicate = new StoredSigningKey("kid-taken", "RS256", """{"kid":"kid-taken","d":"impostor"}""", T0.AddHours(1), T0.AddHours(2));
        Assert.False(await keys.InsertSigningKeyAsync(duplicate));
        Assert.False(await ((ISigningKeyStore)OpenStore(Main)).InsertSigningKeyAsync(duplicate with { Algorithm = "EdDSA" }));

        Assert.Equal([original], await keys.ListSigningKeysAsync());
    }

    /// <summary>
    /// The cleanup of grain state (stored login flows): rows of the named state last written before the cutoff go, in
    /// batches; newer rows and rows of another state stay.
    /// </summary>
    [Fact]
    public async Task Grain_state_written_before_the_cutoff_is_deleted_in_batches_and_only_for_its_state()
    {
        var cutoff = T0.AddHours(2);
        string Row(string state, long n0, DateTimeOffset modified) =>
            $"('svc', '{state}', {n0}, 0, '', 1, NULL, {modified.ToUnixTimeMilliseconds() * 1000})";
        await ExecuteAsync(Main,
            "INSERT INTO orleans_grain_state (service_id, grain_type, grain_id_n0, grain_id_n1, grain_id_ext, version, payload, modified_at) VALUES "
            + string.Join(", ", Row("login-flow", 1, T0), Row("login-flow", 2, T0.AddHours(1)), Row("login-flow", 3, T0.AddHours(1)),
                Row("login-flow", 4, cutoff), Row("login-flow", 5, cutoff.AddMinutes(1)), Row("other", 6, T0)));

        Assert.Equal(2, await _store.DeleteGrainStateAsync("login-flow", cutoff, batchSize: 2));
        Assert.Equal(1, await _store.DeleteGrainStateAsync("login-flow", cutoff, batchSize: 2));
        Assert.Equal(0, await _store.DeleteGrainStateAsync("login-flow", cutoff, batchSize: 2));
        Assert.Equal(["4", "5", "6"], (await ColumnAsync(Main, "SELECT grain_id_n0 FROM orleans_grain_state ORDER BY grain_id_n0")).ToArray());
    }

    private static IdentityRecord NewIdentity(string? externalId = null) => new()
    {
        Id = Guid.NewGuid(),
        SchemaId = "default",
        State = IdentityRecord.StateActive,
        StateChangedAt = T0,
        Traits = """{"email":"someone@example.test"}""",
        ExternalId = externalId,
        CreatedAt = T0,
        UpdatedAt = T0,
    };

    private static SessionRecord NewSession(Guid identityId, SessionChannel channel) => new()
    {
        Id = Guid.NewGuid(),
        IdentityId = identityId,
        Channel = channel,
        Revoked = false,
        Aal = AuthenticatorAssurance.Aal1,
        AuthenticationMethods = [new AuthenticationMethod { Method = "password", Aal = AuthenticatorAssurance.Aal1, CompletedAt = T0 }],
        Devices = [new SessionDevice { Id = Guid.NewGuid(), IpAddress = "198.51.100.4" }],
        IssuedAt = T0.AddTicks(1_000_010),
        AuthenticatedAt = T0.AddTicks(1_000_020),
        ExpiresAt = T0.AddDays(1).AddTicks(990),
        CreatedAt = T0.AddTicks(1_000_030),
        UpdatedAt = T0.AddTicks(1_000_040),
    };
}
