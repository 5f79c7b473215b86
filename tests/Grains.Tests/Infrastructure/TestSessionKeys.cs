namespace OrleansSessions.Tests.Infrastructure;

/// <summary>
/// The lookup key of a session a test made itself and put straight into the store: a <see cref="SessionRecord"/>
/// does not carry its key (the session grain's id is the key), so a test-made session's key is derived from its id,
/// the same every time it is asked for.
/// </summary>
public static class TestSessionKeys
{
    extension(SessionRecord session)
    {
        /// <summary>The key the session is stored under by <see cref="InsertSessionAsync"/>, and its grain's key.</summary>
        public string TestKey => $"test-session-{session.Id:N}";
    }

    /// <summary>Inserts <paramref name="session"/> under its test key (<c>session.TestKey</c>).</summary>
    public static Task InsertSessionAsync(this ISessionStore store, SessionRecord session, CancellationToken ct = default) =>
        store.InsertSessionAsync(session.TestKey, session, ct);
}
