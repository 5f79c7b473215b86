using OrleansSessions.Tests.Infrastructure;
using static OrleansSessions.Tests.Infrastructure.SessionCluster;

namespace OrleansSessions.Tests.Cluster;

/// <summary>
/// Login identifiers, credentials and listing of identities on a two-silo cluster: written through one silo,
/// looked up through the other.
/// </summary>
public sealed class IdentityCatalogTests(SessionClusterFixture fixture) : IClassFixture<SessionClusterFixture>
{
    private SessionCluster Harness => fixture.Cluster;

    private IGrainFactory SiloA => Harness.Grains(0);

    private IGrainFactory SiloB => Harness.Grains(1);

    /// <summary>A second identity with an identifier the first one has is refused, and nothing of it is stored.</summary>
    [Fact]
    public async Task Second_identity_with_the_same_identifier_is_refused_with_IdentifierTaken()
    {
        var email = $"{Guid.NewGuid():N}@example.test";
        var firstId = Guid.NewGuid();
        var first = await SiloA.GetGrain<IIdentityGrain>(firstId).CreateAsync(DraftFor(firstId, email: email));
        Assert.Equal(IdentityWriteOutcome.Written, first.Outcome);
        var secondId = Guid.NewGuid();

        var second = await SiloB.GetGrain<IIdentityGrain>(secondId).CreateAsync(DraftFor(secondId, email: email) with
        {
            Identifiers = [$"{secondId:N}@example.test", email],
        });

        Assert.Equal(IdentityWriteOutcome.IdentifierTaken, second.Outcome);
        Assert.Null(second.Identity);
        Assert.Null(await SiloA.GetGrain<IIdentityGrain>(secondId).GetAsync());
        Assert.Null(await Harness.Store.FindIdentityAsync(secondId));
        Assert.Equal((0L, 0L, 0L, 0L), await SqliteRows.RowsOfIdentityAsync(Harness.DatabasePath, secondId));
        Assert.Null(await SiloA.GetGrain<IIdentityCatalogGrain>(0).FindByIdentifierAsync($"{secondId:N}@example.test"));
        Assert.Equal(firstId, await SiloA.GetGrain<IIdentityCatalogGrain>(0).FindByIdentifierAsync(email));
        // The refused id is still free.
        var retry = await SiloB.GetGrain<IIdentityGrain>(secondId).CreateAsync(DraftFor(secondId));
        Assert.Equal(IdentityWriteOutcome.Written, retry.Outcome);
    }

    /// <summary>The identity catalog finds an identity by any of its identifiers, through either silo; an unknown one finds nothing.</summary>
    [Fact]
    public async Task Catalog_finds_the_identity_by_identifier()
    {
        var id = Guid.NewGuid();
        var identifiers = ImmutableArray.Create($"{id:N}@example.test", $"user-{id:N}");
        var created = await SiloA.GetGrain<IIdentityGrain>(id).CreateAsync(DraftFor(id) with { Identifiers = identifiers });
        Assert.Equal(IdentityWriteOutcome.Written, created.Outcome);

        foreach (var grains in new[] { SiloB, SiloA })
        {
            var catalog = grains.GetGrain<IIdentityCatalogGrain>(0);
            foreach (var identifier in identifiers)
                Assert.Equal(id, await catalog.FindByIdentifierAsync(identifier));
            Assert.Null(await catalog.FindByIdentifierAsync($"nobody-{Guid.NewGuid():N}@example.test"));
        }
        var credentials = await SiloB.GetGrain<IIdentityGrain>(id).GetCredentialsAsync();
        Assert.NotNull(credentials);
        Assert.Equal(identifiers.Order(StringComparer.Ordinal), credentials.Identifiers);
    }

    /// <summary>
    /// An update that changes the identifiers frees the old one (another identity can take it) and takes the new
    /// one (no other identity can); an update to an identifier someone else has is refused and changes nothing.
    /// </summary>
    [Fact]
    public async Task Update_that_changes_identifiers_frees_the_old_one()
    {
        var id = Guid.NewGuid();
        var (oldEmail, newEmail) = ($"old-{id:N}@example.test", $"new-{id:N}@example.test");
        Assert.Equal(IdentityWriteOutcome.Written, (await SiloA.GetGrain<IIdentityGrain>(id).CreateAsync(DraftFor(id, email: oldEmail))).Outcome);

        var updated = await SiloA.GetGrain<IIdentityGrain>(id).UpdateAsync(DraftFor(id, email: newEmail), expectedVersion: null);

        Assert.Equal(IdentityWriteOutcome.Written, updated.Outcome);
        var catalog = SiloB.GetGrain<IIdentityCatalogGrain>(0);
        Assert.Null(await catalog.FindByIdentifierAsync(oldEmail));
        Assert.Equal(id, await catalog.FindByIdentifierAsync(newEmail));
        Assert.Equal(new[] { newEmail }, (await SiloB.GetGrain<IIdentityGrain>(id).GetCredentialsAsync())!.Identifiers);

        var takesOld = Guid.NewGuid();
        Assert.Equal(IdentityWriteOutcome.Written, (await SiloB.GetGrain<IIdentityGrain>(takesOld).CreateAsync(DraftFor(takesOld, email: oldEmail))).Outcome);
        Assert.Equal(takesOld, await catalog.FindByIdentifierAsync(oldEmail));
        var wantsNew = Guid.NewGuid();
        Assert.Equal(IdentityWriteOutcome.IdentifierTaken, (await SiloB.GetGrain<IIdentityGrain>(wantsNew).CreateAsync(DraftFor(wantsNew, email: newEmail))).Outcome);

        var before = await SiloA.GetGrain<IIdentityGrain>(takesOld).GetAsync();
        var refused = await SiloB.GetGrain<IIdentityGrain>(takesOld).UpdateAsync(DraftFor(takesOld, email: newEmail) with { Traits = """{"changed":true}""" }, expectedVersion: null);

        Assert.Equal(IdentityWriteOutcome.IdentifierTaken, refused.Outcome);
        Assert.Null(refused.Identity);
        Assert.Equal(before, await SiloA.GetGrain<IIdentityGrain>(takesOld).GetAsync());
        Assert.Equal(before, await Harness.Store.FindIdentityAsync(takesOld));
        Assert.Equal(takesOld, await catalog.FindByIdentifierAsync(oldEmail));
        Assert.Equal(id, await catalog.FindByIdentifierAsync(newEmail));
    }

    /// <summary>An external id is unique too: a create or update that would share one answers ExternalIdTaken and changes nothing.</summary>
    [Fact]
    public async Task External_id_taken_by_another_identity_is_refused()
    {
        var (firstId, secondId, thirdId) = (Guid.NewGuid(), Guid.NewGuid(), Guid.NewGuid());
        var externalId = $"crm-{firstId:N}";
        Assert.Equal(IdentityWriteOutcome.Written, (await SiloA.GetGrain<IIdentityGrain>(firstId).CreateAsync(DraftFor(firstId) with { ExternalId = externalId })).Outcome);
        var second = await SiloA.GetGrain<IIdentityGrain>(secondId).CreateAsync(DraftFor(secondId));
        Assert.Equal(IdentityWriteOutcome.Written, second.Outcome);

        Assert.Equal(IdentityWriteOutcome.ExternalIdTaken,
            (await SiloB.GetGrain<IIdentityGrain>(thirdId).CreateAsync(DraftFor(thirdId) with { ExternalId = externalId })).Outcome);
        Assert.Equal(IdentityWriteOutcome.ExternalIdTaken,
            (await SiloB.GetGrain<IIdentityGrain>(secondId).UpdateAsync(DraftFor(secondId) with { ExternalId = externalId }, expectedVersion: null)).Outcome);

        Assert.Null(await Harness.Store.FindIdentityAsync(thirdId));
        Assert.Equal(second.Identity, await SiloA.GetGrain<IIdentityGrain>(secondId).GetAsync());
        Assert.Equal(second.Identity, await Harness.Store.FindIdentityAsync(secondId));
    }

    /// <summary>Credentials not named in an update are kept; SetPasswordHash replaces the hash; every change bumps the version.</summary>
    [Fact]
    public async Task Credentials_are_kept_across_updates_unless_replaced()
    {
        var id = Guid.NewGuid();
        const string hash = "$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaA";
        const string rehash = "$argon2id$v=19$m=131072,t=4,p=4$bmV3c2FsdG5ld3NhbHQ$bmV3aGFzaG5ld2hhc2huZXdoYXNobmV3aGFzaA";
        var created = await SiloA.GetGrain<IIdentityGrain>(id).CreateAsync(DraftFor(id) with { PasswordHash = hash, TotpSecret = "JBSWY3DPEHPK3PXP" });
        Assert.Equal(IdentityWriteOutcome.Written, created.Outcome);
        Assert.Equal(1, created.Identity!.Version);
        Assert.Equal(AuthenticatorAssurance.Aal2, created.Identity.AvailableAal);

        var updated = await SiloB.GetGrain<IIdentityGrain>(id).UpdateAsync(DraftFor(id) with { Traits = """{"email":"kept@example.test"}""" }, expectedVersion: null);

        Assert.Equal(IdentityWriteOutcome.Written, updated.Outcome);
        Assert.Equal(2, updated.Identity!.Version);
        Assert.Equal(AuthenticatorAssurance.Aal2, updated.Identity.AvailableAal);
        var kept = await SiloA.GetGrain<IIdentityGrain>(id).GetCredentialsAsync();
        Assert.NotNull(kept);
        Assert.Equal(hash, kept.PasswordHash);
        Assert.Equal("JBSWY3DPEHPK3PXP", kept.TotpSecret);

        var rehashed = await SiloA.GetGrain<IIdentityGrain>(id).SetPasswordHashAsync(rehash, replaces: hash);

        Assert.Equal(IdentityWriteOutcome.Written, rehashed.Outcome);
        Assert.Equal(3, rehashed.Identity!.Version);
        Assert.Equal(updated.Identity.Traits, rehashed.Identity.Traits);
        Assert.Equal(rehash, (await SiloB.GetGrain<IIdentityGrain>(id).GetCredentialsAsync())!.PasswordHash);
        var stored = await Harness.Store.FindCredentialsAsync(id);
        Assert.NotNull(stored);
        Assert.Equal(rehash, stored.PasswordHash);
        Assert.Equal("JBSWY3DPEHPK3PXP", stored.TotpSecret);
        Assert.Equal(3, (await Harness.Store.FindIdentityAsync(id))!.Version);
    }

    /// <summary>Writes to an identity that does not exist answer NotFound (or false, or null) and store nothing.</summary>
    [Fact]
    public async Task Writes_to_an_unknown_identity_answer_NotFound()
    {
        var id = Guid.NewGuid();
        var grain = SiloA.GetGrain<IIdentityGrain>(id);

        Assert.Equal(IdentityWriteOutcome.NotFound, (await grain.UpdateAsync(DraftFor(id), expectedVersion: null)).Outcome);
        Assert.Equal(IdentityWriteOutcome.NotFound, (await grain.SetPasswordHashAsync("$2a$10$abcdefghijklmnopqrstuv", replaces: "$2a$10$zyxwvutsrqponmlkjihgfe")).Outcome);
        Assert.Equal(IdentityWriteOutcome.NotFound, (await grain.SetTotpSecretAsync("JBSWY3DPEHPK3PXP")).Outcome);
        Assert.False(await grain.DeleteAsync());
        Assert.Null(await SiloB.GetGrain<IIdentityGrain>(id).GetCredentialsAsync());
        Assert.Equal((0L, 0L, 0L, 0L), await SqliteRows.RowsOfIdentityAsync(Harness.DatabasePath, id));
    }

    /// <summary>Paging through every identity, alternately through each silo, yields each exactly once, in id order.</summary>
    [Fact]
    public async Task ListAsync_pages_by_id_without_skipping_or_repeating()
    {
        for (var i = 0; i < 11; i++)
            await CreateIdentityAsync(i % 2 == 0 ? SiloA : SiloB);
        var expected = await SqliteRows.ColumnAsync(Harness.DatabasePath, "SELECT id FROM identities ORDER BY id");
        Assert.True(expected.Count >= 11);

        var seen = new List<IdentityRecord>();
        Guid? after = null;
        var pages = 0;
        while (true)
        {
            var page = await (pages % 2 == 0 ? SiloB : SiloA).GetGrain<IIdentityCatalogGrain>(0).ListAsync(4, after);
            pages++;
            Assert.True(page.Length <= 4);
            if (page.IsEmpty)
                break;
            seen.AddRange(page);
            after = page[^1].Id;
            Assert.True(pages <= expected.Count + 1, "paging does not end");
        }

        Assert.Equal(expected, seen.Select(i => i.Id.ToString()));
        Assert.Equal((expected.Count + 3) / 4 + 1, pages);
        // Each page carries the identity as stored.
        foreach (var identity in seen.Take(5))
            Assert.Equal(await Harness.Store.FindIdentityAsync(identity.Id), identity);
    }
}
