using Microsoft.Data.Sqlite;
using OrleansSessions.Storage.Migrations;
using OrleansSessions.Tests.Infrastructure;

namespace OrleansSessions.Tests.Store;

/// <summary>The embedded SQLite store, on a database file of each test's own.</summary>
public sealed class SqliteStoreTests : IAsyncLifetime
{
    private static readonly DateTimeOffset T0 = new(2030, 1, 2, 3, 4, 5, TimeSpan.Zero);

    private static readonly IdentityCredentials NoCredentials = new();

    private readonly TempDirectory _folder = new();
    private SqliteStore _store = null!;
    private IReadOnlyList<int> _firstMigration = [];

    private string DatabasePath => _folder.File("sessions.db");

    public async Task InitializeAsync()
    {
        _store = new SqliteStore(DatabasePath);
        _firstMigration = await _store.MigrateAsync();
    }

    public Task DisposeAsync()
    {
        _folder.Dispose();
        return Task.CompletedTask;
    }

    /// <summary>The first migration applies every known version; the next applies none.</summary>
    [Fact]
    public async Task Migrations_are_applied_once()
    {
        var known = Migration.For("sqlite").Select(m => m.Version).ToArray();
        Assert.NotEmpty(known);
        Assert.Equal(known, _firstMigration);

        Assert.Empty(await _store.MigrateAsync());
        // Another store instance on the same file (another node, a restart) finds nothing to do either.
        Assert.Empty(await new SqliteStore(DatabasePath).MigrateAsync());

        await using var connection = new SqliteConnection($"Data Source={DatabasePath}");
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT version FROM schema_migrations ORDER BY version";
        var recorded = new List<int>();
        await using (var reader = await command.ExecuteReaderAsync())
            while (await reader.ReadAsync())
                recorded.Add(reader.GetInt32(0));
        Assert.Equal(known, recorded);
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
        var read = await _store.FindSessionByLookupKeyAsync(session.LookupKey);

        Assert.NotNull(read);
        Cluster.SessionClusterTests.AssertSameSession(session, read);
        Assert.Null(read.Devices[1].IpAddress);
        Assert.Null(read.Devices[1].UserAgent);
        Assert.Null(read.Devices[1].Location);
        Assert.Equal("totp", read.AuthenticationMethods[1].Method);
        Assert.Equal(T0.AddTicks(5_000_010), read.AuthenticationMethods[1].CompletedAt);
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

        var readApi = await _store.FindSessionByLookupKeyAsync(api.LookupKey);
        var readRevoked = await _store.FindSessionByLookupKeyAsync(revoked.LookupKey);
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

        Assert.Equal(session.LookupKey, await _store.FindLookupKeyAsync(session.Id));
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

        var read = await _store.FindSessionByLookupKeyAsync(session.LookupKey);
        Assert.NotNull(read);
        Assert.True(read.Revoked);
        Assert.Equal(at, read.UpdatedAt);
        Assert.Equal(session.CreatedAt, read.CreatedAt);
        var untouched = await _store.FindSessionByLookupKeyAsync(other.LookupKey);
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
        // Another node reading the same file sees the same ring.
        Assert.Equal(_store.ReadKeyRingElements(), new SqliteStore(DatabasePath).ReadKeyRingElements());
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
        LookupKey = SessionToken.LookupKey(SessionToken.New()),
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
