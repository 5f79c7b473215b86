using System.Buffers;
using System.Text.Json;

namespace OrleansSessions.Json;

/// <summary>
/// A whoami body (Kratos's session JSON, always <c>"active": true</c>). In the silo that holds the session it is
/// the held <see cref="SessionRecord"/> and its identity's JSON (the silo's copy, shared by every session of the
/// identity there), and the session's own part is written on each use: a resident session keeps no rendered bytes.
/// Sent to another process it travels as bytes in three pieces (the session's JSON up to <c>"identity":</c>, the
/// identity's, the rest), written once on the sending side.
/// </summary>
/// <remarks>
/// Immutable (Orleans passes it by reference within a process): the record and the arrays it holds are never changed.
/// </remarks>
[Immutable, Alias("os.WhoamiBody")]
public sealed class WhoamiBody
{
    [ThreadStatic] private static Scratch? t_scratch;

    private readonly byte[]? _head;
    private readonly byte[]? _tail;

    private WhoamiBody(SessionRecord? session, byte[]? head, byte[] identity, byte[]? tail)
    {
        Session = session;
        _head = head;
        Identity = identity;
        _tail = tail;
    }

    /// <summary>The body of <paramref name="session"/>, written from it on each use, with <paramref name="identityJson"/> (from <see cref="SessionJson.RenderIdentity"/>) as its identity.</summary>
    public static WhoamiBody Of(SessionRecord session, byte[] identityJson) => new(session, null, identityJson, null);

    /// <summary>A body as bytes: the session's JSON up to <c>"identity":</c>, the identity's, and the rest.</summary>
    public static WhoamiBody FromPieces(byte[] head, byte[] identity, byte[] tail) => new(null, head, identity, tail);

    /// <summary>The session the body is written from; null for a body that is bytes (it came from another process, or is tokenized).</summary>
    public SessionRecord? Session { get; }

    /// <summary>The identity's JSON: the array given, not a copy.</summary>
    public byte[] Identity { get; }

    /// <summary>
    /// The whole body in a buffer of this thread's, valid until the next call on the thread: for the response, its
    /// length (Content-Length) and then its bytes, with nothing in between that writes another body.
    /// </summary>
    public ReadOnlySpan<byte> Written() => Write(out _, out _);

    /// <summary>The whole body as one array (for what needs it whole: a tokenized answer, a test).</summary>
    public byte[] ToArray() => Written().ToArray();

    /// <summary>The session's two pieces around the identity's JSON, as arrays of their own.</summary>
    public (byte[] Head, byte[] Tail) OwnPieces()
    {
        if (Session is null)
            return (_head!, _tail!);
        var whole = Write(out var identityAt, out var tailAt);
        return (whole[..identityAt].ToArray(), whole[tailAt..].ToArray());
    }

    private ReadOnlySpan<byte> Write(out int identityAt, out int tailAt)
    {
        var scratch = t_scratch ??= new Scratch();
        var buffer = scratch.Buffer;
        buffer.ResetWrittenCount();
        if (Session is { } session)
        {
            var w = scratch.WriterFor();
            SessionJson.WriteHead(w, session, active: true);
            w.Flush();
            identityAt = buffer.WrittenCount;
            w.WriteRawValue(Identity, skipInputValidation: true);
            w.Flush();
            tailAt = buffer.WrittenCount;
            SessionJson.WriteTail(w, session, SessionJsonShape.Full);
            w.Flush();
        }
        else
        {
            buffer.Write(_head);
            identityAt = buffer.WrittenCount;
            buffer.Write(Identity);
            tailAt = buffer.WrittenCount;
            buffer.Write(_tail);
        }
        return buffer.WrittenSpan;
    }

    /// <summary>This thread's buffer and JSON writer, reused for every body it writes.</summary>
    private sealed class Scratch
    {
        private Utf8JsonWriter? _writer;

        public ArrayBufferWriter<byte> Buffer { get; } = new(2048);

        public Utf8JsonWriter WriterFor()
        {
            if (_writer is null)
                _writer = new Utf8JsonWriter(Buffer);
            else
                _writer.Reset(Buffer);
            return _writer;
        }
    }
}

/// <summary>How a <see cref="WhoamiBody"/> crosses to another process: its three pieces, written on the sending side.</summary>
[GenerateSerializer, Alias("os.WhoamiBody.Pieces")]
public struct WhoamiBodyPieces
{
    [Id(0)] public byte[] Head;
    [Id(1)] public byte[] Identity;
    [Id(2)] public byte[] Tail;
}

/// <summary>Orleans' converter between a <see cref="WhoamiBody"/> and the pieces it travels as.</summary>
[RegisterConverter]
public sealed class WhoamiBodyConverter : IConverter<WhoamiBody, WhoamiBodyPieces>
{
    public WhoamiBody ConvertFromSurrogate(in WhoamiBodyPieces surrogate) =>
        WhoamiBody.FromPieces(surrogate.Head, surrogate.Identity, surrogate.Tail);

    public WhoamiBodyPieces ConvertToSurrogate(in WhoamiBody value)
    {
        var (head, tail) = value.OwnPieces();
        return new WhoamiBodyPieces { Head = head, Identity = value.Identity, Tail = tail };
    }
}
