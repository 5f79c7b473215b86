namespace OrleansSessions.Identities;

/// <summary>
/// One silo's copies of the identities its session grains hold: one <see cref="IdentityStanding"/> per identity,
/// shared by every session of it on this silo, kept while one of them holds it. The identity grain tells every
/// silo of a change (state, traits, a revocation mark, deletion) once it is durable — one call per silo, whatever
/// the number of sessions — and a session grain reads its standing on each call: a reference comparison when
/// nothing changed. Nothing of Orleans in it; thread-safe (grains of one silo run on many threads).
/// </summary>
public sealed class IdentityStandings
{
    private readonly Dictionary<Guid, IdentityStanding> _held = [];

    /// <summary>How many identities are held.</summary>
    public int Count
    {
        get
        {
            lock (_held)
                return _held.Count;
        }
    }

    /// <summary>
    /// The standing of <paramref name="identityId"/>, held until <see cref="Release"/>: from now on every change told
    /// to this silo reaches it, so a session acquires it before it reads the identity.
    /// </summary>
    public IdentityStanding Acquire(Guid identityId)
    {
        lock (_held)
        {
            if (!_held.TryGetValue(identityId, out var standing))
                _held[identityId] = standing = new IdentityStanding(identityId);
            standing.Holders++;
            return standing;
        }
    }

    /// <summary>One holder fewer; the standing is dropped with its last holder.</summary>
    public void Release(IdentityStanding standing)
    {
        lock (_held)
        {
            if (--standing.Holders == 0 && _held.TryGetValue(standing.IdentityId, out var held) && ReferenceEquals(held, standing))
                _held.Remove(standing.IdentityId);
        }
    }

    /// <summary>Whether a session on this silo holds the identity.</summary>
    public bool Holds(Guid identityId)
    {
        lock (_held)
            return _held.ContainsKey(identityId);
    }

    /// <summary>
    /// A change of the identity (null: deleted), told to this silo; false when no session here holds the identity
    /// (nothing to do: a session that loads later reads the change from the identity grain).
    /// </summary>
    public bool Tell(Guid identityId, IdentityRecord? identity)
    {
        IdentityStanding? standing;
        lock (_held)
            _held.TryGetValue(identityId, out standing);
        standing?.Offer(identity);
        return standing is not null;
    }
}

/// <summary>
/// The newest copy of one identity known to a silo. Which copy wins: a deletion over everything, then the higher
/// <see cref="IdentityRecord.Version"/>, whatever order they arrive in.
/// </summary>
public sealed class IdentityStanding(Guid identityId)
{
    private volatile IdentityCopy? _current;

    public Guid IdentityId { get; } = identityId;

    /// <summary>Guarded by the lock of <see cref="IdentityStandings"/>.</summary>
    internal int Holders { get; set; }

    /// <summary>The newest copy known; null while none is. A new object for every change, so a holder compares references.</summary>
    public IdentityCopy? Current => _current;

    /// <summary>Keeps <paramref name="identity"/> (null: deleted) if it is newer than the copy held.</summary>
    public void Offer(IdentityRecord? identity)
    {
        lock (this)
        {
            var current = _current;
            if (current is { Identity: null })
                return; // deleted: nothing comes after it
            if (identity is not null && current?.Identity is { } held && identity.Version <= held.Version)
                return;
            _current = new IdentityCopy(identity);
        }
    }
}

/// <summary>
/// One copy of an identity as a silo holds it; <see cref="Identity"/> null: the identity was deleted. It also holds
/// what every session of the identity on this silo writes the same way (its JSON in a whoami, its id as text), made
/// once for the copy and shared by all of them.
/// </summary>
public sealed class IdentityCopy(IdentityRecord? identity)
{
    private byte[]? _sessionJson;

    public IdentityRecord? Identity { get; } = identity;

    /// <summary>The identity as a session's JSON embeds it (rendered on first use; then the same array for every caller).</summary>
    public byte[] SessionJson(string publicBaseUrl)
    {
        if (_sessionJson is { } json)
            return json;
        var rendered = Json.SessionJson.RenderIdentity(Identity ?? throw new InvalidOperationException("A deleted identity has no JSON."), publicBaseUrl);
        return Interlocked.CompareExchange(ref _sessionJson, rendered, null) ?? rendered;
    }

    /// <summary>The identity's id as text (the whoami's <c>X-Kratos-Authenticated-Identity-Id</c>); null when deleted.</summary>
    public string? IdText { get; } = identity?.Id.ToString();
}
