using OrleansSessions.Tests.Infrastructure;
using static OrleansSessions.Tests.Infrastructure.Answers;
using static OrleansSessions.Tests.Infrastructure.SessionCluster;

namespace OrleansSessions.Tests.Cluster;

/// <summary>
/// Identity writes are based on a version: a write computed from an older one is a Conflict, and a row changed
/// behind the grain's back (another activation, a direct writer) is reloaded, never overwritten unseen.
/// </summary>
public sealed class IdentityWriteConflictTests(SessionClusterFixture fixture) : IClassFixture<SessionClusterFixture>
{
    private const string FirstHash = "$argon2id$v=19$m=65536,t=3,p=4$Zmlyc3RzYWx0Zmlyc3Q$Zmlyc3RoYXNoZmlyc3RoYXNoZmlyc3RoYXNo";
    private const string DirectHash = "$argon2id$v=19$m=65536,t=3,p=4$ZGlyZWN0c2FsdGRpcg$ZGlyZWN0aGFzaGRpcmVjdGhhc2hkaXJlY3Q";
    private const string Rehash = "$argon2id$v=19$m=131072,t=4,p=4$cmVoYXNoc2FsdHJlaA$cmVoYXNoaGFzaHJlaGFzaGhhc2hyZWhhc2g";

    private SessionCluster Harness => fixture.Cluster;

    private IGrainFactory SiloA => Harness.Grains(0);

    private IGrainFactory SiloB => Harness.Grains(1);

    /// <summary>Two writes computed from version 1: the first is written, the second is a Conflict that answers the identity as it is now.</summary>
    [Fact]
    public async Task Update_from_a_stale_version_is_a_conflict_and_writes_nothing()
    {
        var identity = await CreateIdentityAsync(SiloA);
        var first = await SiloA.GetGrain<IIdentityGrain>(identity.Id).UpdateAsync(DraftFor(identity.Id) with { MetadataPublic = """{"by":"first"}""" }, identity.Version);
        Assert.Equal(IdentityWriteOutcome.Written, first.Outcome);

        var second = await SiloB.GetGrain<IIdentityGrain>(identity.Id).UpdateAsync(DraftFor(identity.Id) with { MetadataAdmin = """{"by":"second"}""" }, identity.Version);

        Assert.Equal(IdentityWriteOutcome.Conflict, second.Outcome);
        Assert.Equal(first.Identity, second.Identity);
        var stored = await Harness.Store.FindIdentityAsync(identity.Id);
        Assert.Equal(first.Identity, stored);
        Assert.Equal(identity.Version + 1, stored!.Version);
        Assert.Equal("""{"by":"first"}""", stored.MetadataPublic);
        Assert.Equal(identity.MetadataAdmin, stored.MetadataAdmin);
    }

    /// <summary>
    /// The row is changed behind the grain (a direct writer): the grain's next write finds another version in the
    /// store, reloads, and tells the live sessions the identity it found. A rehash over the password it verified no
    /// longer applies (Conflict, the new password stays); a versioned update is a Conflict; a TOTP change and a
    /// PUT apply to the reloaded identity and keep what the direct writer wrote.
    /// </summary>
    [Fact]
    public async Task A_row_changed_behind_the_grain_is_reloaded_never_overwritten()
    {
        var id = Guid.NewGuid();
        var grain = SiloA.GetGrain<IIdentityGrain>(id);
        var created = await grain.CreateAsync(DraftFor(id) with { PasswordHash = FirstHash });
        Assert.Equal(IdentityWriteOutcome.Written, created.Outcome);
        var issued = await IssueAsync(SiloB, id, SessionChannel.Api);
        await AssertActiveAsync(issued, SiloA, SiloB);

        var direct = created.Identity! with { Version = 2, Traits = $$"""{"email":"{{id:N}}@example.test","name":"direct"}""", MetadataAdmin = """{"by":"direct"}""" };
        Assert.Equal(IdentityWriteOutcome.Written, await Harness.Store.UpdateIdentityAsync(direct,
            new IdentityCredentials { Identifiers = [$"{id:N}@example.test"], PasswordHash = DirectHash }, expectedVersion: 1));

        var rehashed = await SiloB.GetGrain<IIdentityGrain>(id).SetPasswordHashAsync(Rehash, replaces: FirstHash);

        Assert.Equal(IdentityWriteOutcome.Conflict, rehashed.Outcome);
        Assert.Equal(direct.Traits, rehashed.Identity!.Traits);
        Assert.Equal(DirectHash, (await Harness.Store.FindCredentialsAsync(id))!.PasswordHash);
        Assert.Equal(DirectHash, (await grain.GetCredentialsAsync())!.PasswordHash);
        Assert.Equal(direct.Traits, TraitsOf(await AssertActiveAsync(issued, SiloA, SiloB)));

        var stale = await grain.UpdateAsync(DraftFor(id) with { MetadataPublic = """{"stale":true}""" }, expectedVersion: 1);
        Assert.Equal(IdentityWriteOutcome.Conflict, stale.Outcome);

        var totp = await grain.SetTotpSecretAsync("JBSWY3DPEHPK3PXP");
        Assert.Equal(IdentityWriteOutcome.Written, totp.Outcome);
        Assert.Equal(3, totp.Identity!.Version);
        Assert.Equal(direct.Traits, totp.Identity.Traits);
        Assert.Equal("""{"by":"direct"}""", totp.Identity.MetadataAdmin);
        var credentials = await Harness.Store.FindCredentialsAsync(id);
        Assert.Equal(DirectHash, credentials!.PasswordHash);
        Assert.Equal("JBSWY3DPEHPK3PXP", credentials.TotpSecret);

        // Once more behind the grain, then a PUT: the last write wins, whole, on top of the version it found.
        var again = (await Harness.Store.FindIdentityAsync(id))! with { Version = 4, MetadataAdmin = """{"by":"direct again"}""" };
        Assert.Equal(IdentityWriteOutcome.Written, await Harness.Store.UpdateIdentityAsync(again, credentials, expectedVersion: 3));
        var put = await grain.UpdateAsync(DraftFor(id) with { MetadataAdmin = """{"by":"put"}""" }, expectedVersion: null);
        Assert.Equal(IdentityWriteOutcome.Written, put.Outcome);
        Assert.Equal(5, put.Identity!.Version);
        var stored = await Harness.Store.FindIdentityAsync(id);
        Assert.Equal(put.Identity, stored);
        Assert.Equal("""{"by":"put"}""", stored!.MetadataAdmin);
        Assert.Equal("JBSWY3DPEHPK3PXP", (await Harness.Store.FindCredentialsAsync(id))!.TotpSecret);
    }

    /// <summary>A rehash over the hash that was verified is written; a second one over the same (now replaced) hash is not.</summary>
    [Fact]
    public async Task Second_rehash_over_the_same_verified_hash_keeps_the_first()
    {
        var id = Guid.NewGuid();
        Assert.Equal(IdentityWriteOutcome.Written, (await SiloA.GetGrain<IIdentityGrain>(id).CreateAsync(DraftFor(id) with { PasswordHash = FirstHash })).Outcome);

        var results = await Task.WhenAll(
            SiloA.GetGrain<IIdentityGrain>(id).SetPasswordHashAsync(Rehash, replaces: FirstHash),
            SiloB.GetGrain<IIdentityGrain>(id).SetPasswordHashAsync(DirectHash, replaces: FirstHash));

        Assert.Single(results, r => r.Outcome == IdentityWriteOutcome.Written);
        Assert.Single(results, r => r.Outcome == IdentityWriteOutcome.Conflict);
        var winner = results[0].Outcome == IdentityWriteOutcome.Written ? Rehash : DirectHash;
        Assert.Equal(winner, (await Harness.Store.FindCredentialsAsync(id))!.PasswordHash);
        Assert.Equal(2, (await Harness.Store.FindIdentityAsync(id))!.Version);
    }
}
