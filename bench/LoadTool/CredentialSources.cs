namespace OrleansSessions.Bench;

/// <summary>Which credential a worker sends next. Called on the hot path: no allocation, no lock.</summary>
public interface ICredentialSource
{
    /// <summary>Where a worker's cursor starts, so that workers do not walk in step.</summary>
    long Start(int worker, int workers);

    /// <summary><paramref name="cursor"/> is the worker's own.</summary>
    Credential Next(ref long cursor);
}

/// <summary>The seeded sessions, each worker walking through them from its own starting point.</summary>
public sealed class FixedCredentials(IReadOnlyList<Credential> credentials) : ICredentialSource
{
    private readonly Credential[] _all = [.. credentials];

    public long Start(int worker, int workers) => (long)worker * _all.Length / workers;

    public Credential Next(ref long cursor) => _all[(int)(cursor++ % _all.Length)];
}

/// <summary>
/// mixed: live sessions in slots that the churn replaces, and the credentials it revoked, which a share of the
/// requests keep presenting (each must answer 401 once its revocation was acknowledged).
/// </summary>
public sealed class ChurningCredentials : ICredentialSource
{
    private const int RevokedCapacity = 1024;
    private readonly Credential[] _live;
    private readonly Credential?[] _revoked = new Credential?[RevokedCapacity];
    private readonly int _revokedPerThousand;
    private long _revokedCount;

    public ChurningCredentials(IReadOnlyList<Credential> seeded, double revokedShare)
    {
        _live = [.. seeded];
        _revokedPerThousand = (int)Math.Round(revokedShare * 1000);
    }

    public int LiveCount => _live.Length;

    public long Start(int worker, int workers) => worker * 104_729L;

    public Credential Next(ref long cursor)
    {
        var n = cursor++;
        var revoked = Volatile.Read(ref _revokedCount);
        // A fixed pattern per 1000 requests: a share of revoked credentials, spread rather than bunched.
        if (revoked > 0 && (n * 7919 % 1000) < _revokedPerThousand
            && Volatile.Read(ref _revoked[(int)((n * 31) % Math.Min(revoked, RevokedCapacity))]) is { } old)
            return old;
        return Volatile.Read(ref _live[(int)(n * 2654435761 % _live.Length)]);
    }

    /// <summary>Puts a new session into the slot and answers the one it replaces (the caller revokes that).</summary>
    public Credential Replace(int slot, Credential fresh) => Interlocked.Exchange(ref _live[slot], fresh);

    /// <summary>A credential whose revocation was acknowledged joins those presented for a 401.</summary>
    public void AddRevoked(Credential credential)
    {
        var index = Interlocked.Increment(ref _revokedCount) - 1;
        Volatile.Write(ref _revoked[index % RevokedCapacity], credential);
    }
}
