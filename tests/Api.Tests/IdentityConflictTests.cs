using System.Net;
using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using OrleansSessions.Api.Identities;
using OrleansSessions.Api.Tests.Infrastructure;
using OrleansSessions.Identities;
using OrleansSessions.Storage;

namespace OrleansSessions.Api.Tests;

/// <summary>A node whose identity store has another writer change one identity just before each of our updates of it.</summary>
public sealed class InterferedNodeFixture : DevNodeFixture
{
    public InterferingIdentityStore Interference { get; private set; } = null!;

    protected override NodeOptions Options => new()
    {
        Dev = true,
        ConfigureServices = services => services.Replace(ServiceDescriptor.Singleton<IIdentityStore>(sp =>
            Interference = new InterferingIdentityStore(sp.GetRequiredService<RelationalStore>()))),
    };
}

/// <summary>
/// When every write finds the identity changed by someone else, an identity write gives up after its retries with
/// Kratos's 409 (<c>error.code</c> 409) and writes nothing of its own; without the interference it goes through.
/// </summary>
public sealed class IdentityConflictTests(InterferedNodeFixture fixture) : IClassFixture<InterferedNodeFixture>
{
    private ServiceNode Node => fixture.Node;

    [Fact]
    public async Task Writes_that_keep_finding_another_version_answer_409_and_write_nothing()
    {
        var id = await Node.CreateIdentityAsync();
        var created = (await Node.GetIdentityAsync(id)).Json;
        fixture.Interference.Target = id;

        var patch = await Node.PatchIdentityAsync(id, """[{"op":"add","path":"/metadata_public/patched","value":true}]""");
        var put = await Node.PutIdentityAsync(id, IdentityAdmin.UpdateBodyOf(created, b => b["metadata_public"] = new JsonObject { ["put"] = true }));
        var totp = await Node.EnrolTotpAsync(id);

        foreach (var answer in new[] { patch, put, totp })
            Assert.Equal(IdentityBody.ChangedMeanwhileReason, IdentityAdmin.AssertError(answer, HttpStatusCode.Conflict));
        Assert.True(fixture.Interference.Interferences >= IdentitiesAdminApi.PatchAttempts, $"{fixture.Interference.Interferences} interferences");
        var identity = (await Node.GetIdentityAsync(id)).Json;
        Assert.Equal("free", identity.GetProperty("metadata_public").GetProperty("plan").GetString());
        Assert.False(identity.GetProperty("metadata_public").TryGetProperty("patched", out _));
        Assert.Null((await Node.CredentialsAsync(id))!.TotpSecret);
        // What the other writer wrote is what the node answers: it was reloaded, not overwritten.
        Assert.Equal(fixture.Interference.Interferences, identity.GetProperty("metadata_admin").GetProperty("interference").GetInt32());

        fixture.Interference.Target = null;
        var after = await Node.PatchIdentityAsync(id, """[{"op":"add","path":"/metadata_public/patched","value":true}]""");
        Assert.True(after.Status == HttpStatusCode.OK, $"patchIdentity answered {after}");
        Assert.True(after.Json.GetProperty("metadata_public").GetProperty("patched").GetBoolean());
        Assert.Equal(fixture.Interference.Interferences, after.Json.GetProperty("metadata_admin").GetProperty("interference").GetInt32());
    }
}

/// <summary>
/// The real identity store, with another writer: before each update of <see cref="Target"/> it changes the stored
/// identity itself (a new version, <c>metadata_admin.interference</c> counting), so the update finds another version.
/// </summary>
public sealed class InterferingIdentityStore(IIdentityStore inner) : IIdentityStore
{
    private int _interferences;

    public Guid? Target { get; set; }

    public int Interferences => Volatile.Read(ref _interferences);

    public async Task<IdentityWriteOutcome> UpdateIdentityAsync(IdentityRecord identity, IdentityCredentials credentials, long expectedVersion, CancellationToken ct = default)
    {
        if (identity.Id == Target && await inner.FindIdentityAsync(identity.Id, ct) is { } current)
        {
            var n = Interlocked.Increment(ref _interferences);
            var outcome = await inner.UpdateIdentityAsync(current with { Version = current.Version + 1, MetadataAdmin = $$"""{"interference":{{n}}}""" },
                (await inner.FindCredentialsAsync(identity.Id, ct))!, current.Version, ct);
            Assert.Equal(IdentityWriteOutcome.Written, outcome);
        }
        return await inner.UpdateIdentityAsync(identity, credentials, expectedVersion, ct);
    }

    public Task<IdentityWriteOutcome> InsertIdentityAsync(IdentityRecord identity, IdentityCredentials credentials, CancellationToken ct = default) =>
        inner.InsertIdentityAsync(identity, credentials, ct);

    public Task<bool> DeleteIdentityAsync(Guid id, DateTimeOffset at, CancellationToken ct = default) => inner.DeleteIdentityAsync(id, at, ct);

    public Task<IdentityWriteOutcome> UpdateSessionRevocationAsync(Guid id, SessionRevocation revocation, long version, long expectedVersion, bool requireSessions,
        CancellationToken ct = default) =>
        inner.UpdateSessionRevocationAsync(id, revocation, version, expectedVersion, requireSessions, ct);

    public Task<IdentityRecord?> FindIdentityAsync(Guid id, CancellationToken ct = default) => inner.FindIdentityAsync(id, ct);

    public Task<IdentityCredentials?> FindCredentialsAsync(Guid id, CancellationToken ct = default) => inner.FindCredentialsAsync(id, ct);

    public Task<Guid?> FindIdentityIdByIdentifierAsync(string identifier, CancellationToken ct = default) =>
        inner.FindIdentityIdByIdentifierAsync(identifier, ct);

    public Task<IReadOnlyList<IdentityRecord>> ListIdentitiesAsync(int pageSize, Guid? after, CancellationToken ct = default) =>
        inner.ListIdentitiesAsync(pageSize, after, ct);
}
