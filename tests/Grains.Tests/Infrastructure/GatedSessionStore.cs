using System.Collections.Concurrent;

namespace OrleansSessions.Tests.Infrastructure;

/// <summary>
/// A session store in front of the real one whose session writes can be held at a gate, before the statement runs
/// or after it has run (written in the store, its caller not yet resumed), one call at a time: the way to put a
/// revoke, a revoke-all (the identity's mark) or an identity deletion exactly between two steps of another operation.
/// </summary>
public sealed class GatedSessionStore : DelegatingSessionStore
{
    private readonly ConcurrentDictionary<(string Member, bool AfterWrite), Gate> _gates = new();

    /// <summary>The next call of <paramref name="member"/> (e.g. <c>nameof(ISessionStore.UpdateSessionExpiryAsync)</c>) waits before its statement.</summary>
    public Gate HoldBefore(string member) => _gates[(member, false)] = new Gate();

    /// <summary>The next call of <paramref name="member"/> runs its statement, then waits before it returns.</summary>
    public Gate HoldAfter(string member) => _gates[(member, true)] = new Gate();

    public override Task<bool> UpdateSessionExpiryAsync(Guid sessionId, DateTimeOffset expiresAt, DateTimeOffset updatedAt, CancellationToken ct = default) =>
        GatedAsync(nameof(UpdateSessionExpiryAsync), () => Inner.UpdateSessionExpiryAsync(sessionId, expiresAt, updatedAt, ct));

    public override Task<bool> UpdateSessionAuthenticationAsync(SessionRecord session, CancellationToken ct = default) =>
        GatedAsync(nameof(UpdateSessionAuthenticationAsync), () => Inner.UpdateSessionAuthenticationAsync(session, ct));

    public override Task<bool> RevokeSessionAsync(Guid sessionId, DateTimeOffset at, CancellationToken ct = default) =>
        GatedAsync(nameof(RevokeSessionAsync), () => Inner.RevokeSessionAsync(sessionId, at, ct));

    /// <summary>A revoke-all or delete-all: the identity's revocation mark (register this store as the identity store too).</summary>
    public override Task<IdentityWriteOutcome> UpdateSessionRevocationAsync(Guid id, SessionRevocation revocation, long version, long expectedVersion, bool requireSessions,
        CancellationToken ct = default) =>
        GatedAsync(nameof(UpdateSessionRevocationAsync), () => base.UpdateSessionRevocationAsync(id, revocation, version, expectedVersion, requireSessions, ct));

    public override Task<bool> DeleteIdentityAsync(Guid id, DateTimeOffset at, CancellationToken ct = default) =>
        GatedAsync(nameof(DeleteIdentityAsync), () => base.DeleteIdentityAsync(id, at, ct));

    private async Task<T> GatedAsync<T>(string member, Func<Task<T>> write)
    {
        await PassAsync(member, afterWrite: false);
        var result = await write();
        await PassAsync(member, afterWrite: true);
        return result;
    }

    private async Task PassAsync(string member, bool afterWrite)
    {
        if (!_gates.TryRemove((member, afterWrite), out var gate))
            return;
        gate.SignalEntered();
        await gate.Opened;
    }
}
