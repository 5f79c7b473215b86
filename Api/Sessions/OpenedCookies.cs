using System.Collections.Concurrent;
using OrleansSessions.Api.Configuration;

namespace OrleansSessions.Api.Sessions;

/// <summary>
/// Cookie values this node opened recently, with what they opened to. Opening a cookie (Data Protection's
/// authenticated decryption, then the lookup key's hash) is most of what a cookie whoami costs beyond a token one;
/// a browser sends the same value until the cookie is re-sealed, so the next whoami finds it here.
/// Only values that opened are kept: garbage cannot fill it. An entry lives at most <see cref="MaxAge"/>, so a
/// Data Protection key revoked in the ring stops opening cookies here within that time (the ring itself is
/// refreshed less often). When full it starts over empty: cheap, and the next requests open their cookies again.
/// Values are credentials: held in memory only, never logged.
/// </summary>
public sealed class OpenedCookies(IOptions<SessionSettings> settings, TimeProvider clock)
{
    public static readonly TimeSpan MaxAge = TimeSpan.FromMinutes(5);

    private readonly int _capacity = Math.Max(0, settings.Value.Cookie.OpenedCacheSize);
    private ConcurrentDictionary<string, Entry> _entries = new(StringComparer.Ordinal);

    private sealed record Entry(PresentedCredential Credential, long OpenedAt);

    public int Count => _entries.Count;

    public bool TryGet(ReadOnlySpan<char> value, out PresentedCredential credential)
    {
        if (_capacity > 0
            && _entries.GetAlternateLookup<ReadOnlySpan<char>>().TryGetValue(value, out var entry)
            && clock.GetElapsedTime(entry.OpenedAt) < MaxAge)
        {
            credential = entry.Credential;
            return true;
        }
        credential = default;
        return false;
    }

    public void Add(ReadOnlySpan<char> value, PresentedCredential credential)
    {
        if (_capacity == 0)
            return;
        var entries = _entries;
        if (entries.Count >= _capacity)
        {
            // Start over; a concurrent Add may land in the old dictionary and is simply opened again next time.
            entries = new ConcurrentDictionary<string, Entry>(StringComparer.Ordinal);
            _entries = entries;
        }
        entries[value.ToString()] = new Entry(credential, clock.GetTimestamp());
    }
}
