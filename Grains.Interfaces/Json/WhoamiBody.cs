using System.Buffers;

namespace OrleansSessions.Json;

/// <summary>
/// A whoami body (Kratos's session JSON) in three pieces written one after the other: the session's JSON up to and
/// including <c>"identity":</c>, the identity's JSON, and the rest of the session's. A silo renders an identity's
/// piece once per copy of the identity it holds and every session of that identity there shares the same array,
/// so a resident session keeps only its own bytes.
/// </summary>
[GenerateSerializer, Immutable, Alias("os.WhoamiBody")]
public sealed class WhoamiBody
{
    [Id(0)] public required byte[] Head { get; init; }
    [Id(1)] public required byte[] Identity { get; init; }
    [Id(2)] public required byte[] Tail { get; init; }

    /// <summary>The body's length in bytes.</summary>
    public int Length => Head.Length + Identity.Length + Tail.Length;

    /// <summary>Writes the body to <paramref name="writer"/> (the response's pipe: no copy into one array first).</summary>
    public void CopyTo(IBufferWriter<byte> writer)
    {
        writer.Write(Head);
        writer.Write(Identity);
        writer.Write(Tail);
    }

    /// <summary>The body as one array (for what needs it whole: a tokenized answer, a test).</summary>
    public byte[] ToArray()
    {
        var whole = new byte[Length];
        Head.CopyTo(whole, 0);
        Identity.CopyTo(whole, Head.Length);
        Tail.CopyTo(whole, Head.Length + Identity.Length);
        return whole;
    }
}
