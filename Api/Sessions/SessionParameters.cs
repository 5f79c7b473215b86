using System.Globalization;
using System.Text;
using OrleansSessions.Api.Errors;

namespace OrleansSessions.Api.Sessions;

/// <summary>What <c>expand</c> asks a session to include (Kratos's <c>SessionExpandable</c>).</summary>
public readonly record struct SessionExpansion(bool Identity, bool Devices);

/// <summary>
/// The path and query parameters of the session endpoints, read as Kratos reads them, with Kratos's
/// error for each: ids as gofrs/uuid parses them, <c>active</c> as Go's <c>strconv.ParseBool</c>,
/// <c>expand</c> repeatable and case-insensitive.
/// </summary>
public static class SessionParameters
{
    /// <summary>Kratos's 400 for a malformed id: herodot's bad request with the parser's message.</summary>
    public static OryError MalformedUuid(string message) => new(StatusCodes.Status400BadRequest, message);

    /// <summary>
    /// gofrs/uuid's <c>FromString</c>: canonical, 32 hex digits, either braced, or as a <c>urn:uuid:</c>;
    /// on failure its error text, which Kratos answers as the message of a 400.
    /// </summary>
    public static bool TryParseUuid(string text, out Guid id, out OryError? error)
    {
        // Byte-wise, as Go: lengths and the messages' quoted excerpts are in UTF-8 bytes.
        id = default;
        error = null;
        ReadOnlySpan<byte> s = Encoding.UTF8.GetBytes(text);
        switch (s.Length)
        {
            case 32 or 36:
                break;
            case 34 or 38:
                if (s[0] != '{' || s[^1] != '}')
                    return Fail($"uuid: incorrect UUID format in string {GoQuote(s)}", out error);
                s = s[1..^1];
                break;
            case 41 or 45:
                if (!s.StartsWith("urn:uuid:"u8))
                    return Fail($"uuid: incorrect UUID format in string {GoQuote(s[..9])}", out error);
                s = s[9..];
                break;
            default:
                return Fail($"uuid: incorrect UUID length {s.Length} in string {GoQuote(s)}", out error);
        }
        Span<byte> hex = stackalloc byte[32];
        if (s.Length == 36)
        {
            if (s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-')
                return Fail($"uuid: incorrect UUID format in string {GoQuote(s)}", out error);
            s[..8].CopyTo(hex);
            s[9..13].CopyTo(hex[8..]);
            s[14..18].CopyTo(hex[12..]);
            s[19..23].CopyTo(hex[16..]);
            s[24..].CopyTo(hex[20..]);
        }
        else
        {
            s.CopyTo(hex);
        }
        foreach (var b in hex)
            if (!char.IsAsciiHexDigit((char)b))
                return Fail("uuid: invalid UUID format", out error);
        id = Guid.ParseExact(Encoding.ASCII.GetString(hex), "N");
        return true;
    }

    /// <summary>
    /// <c>active</c> as Go's <c>strconv.ParseBool</c>; absent or empty means no filter. Kratos's 400 otherwise.
    /// </summary>
    public static bool TryParseActive(IQueryCollection query, out ActiveFilter filter, out OryError? error)
    {
        error = null;
        filter = ActiveFilter.All;
        var raw = query["active"].FirstOrDefault();
        switch (raw)
        {
            case null or "":
                return true;
            case "1" or "t" or "T" or "TRUE" or "true" or "True":
                filter = ActiveFilter.Active;
                return true;
            case "0" or "f" or "F" or "FALSE" or "false" or "False":
                filter = ActiveFilter.Inactive;
                return true;
            default:
                error = new OryError(StatusCodes.Status400BadRequest, "could not parse parameter active");
                return false;
        }
    }

    /// <summary>Every <c>expand</c> value must be <c>identity</c> or <c>devices</c>, in any case.</summary>
    public static bool TryParseExpand(IQueryCollection query, out SessionExpansion expansion, out OryError? error)
    {
        error = null;
        bool identity = false, devices = false;
        foreach (var value in query["expand"])
        {
            if (string.Equals(value, "identity", StringComparison.OrdinalIgnoreCase))
                identity = true;
            else if (string.Equals(value, "devices", StringComparison.OrdinalIgnoreCase))
                devices = true;
            else
            {
                expansion = default;
                error = OryError.BadRequest($"Could not parse expand option: {value}");
                return false;
            }
        }
        expansion = new SessionExpansion(identity, devices);
        return true;
    }

    private static bool Fail(string message, out OryError? error)
    {
        error = MalformedUuid(message);
        return false;
    }

    /// <summary>Go's <c>%q</c> of a byte string: double-quoted, Go escapes, invalid UTF-8 as <c>\x</c> bytes.</summary>
    internal static string GoQuote(ReadOnlySpan<byte> value)
    {
        var builder = new StringBuilder(value.Length + 2).Append('"');
        while (!value.IsEmpty)
        {
            if (Rune.DecodeFromUtf8(value, out var rune, out var consumed) != System.Buffers.OperationStatus.Done)
            {
                builder.Append(CultureInfo.InvariantCulture, $"\\x{value[0]:x2}");
                value = value[1..];
                continue;
            }
            value = value[consumed..];
            switch (rune.Value)
            {
                case '"': builder.Append("\\\""); break;
                case '\\': builder.Append("\\\\"); break;
                case '\a': builder.Append("\\a"); break;
                case '\b': builder.Append("\\b"); break;
                case '\f': builder.Append("\\f"); break;
                case '\n': builder.Append("\\n"); break;
                case '\r': builder.Append("\\r"); break;
                case '\t': builder.Append("\\t"); break;
                case '\v': builder.Append("\\v"); break;
                default:
                    if (rune.Value < 0x20 || rune.Value == 0x7f)
                        builder.Append(CultureInfo.InvariantCulture, $"\\x{rune.Value:x2}");
                    else if (rune.Value == ' ' || IsGoPrintable(Rune.GetUnicodeCategory(rune)))
                        builder.Append(rune.ToString());
                    else
                        builder.Append(rune.Value <= 0xffff
                            ? string.Create(CultureInfo.InvariantCulture, $"\\u{rune.Value:x4}")
                            : string.Create(CultureInfo.InvariantCulture, $"\\U{rune.Value:x8}"));
                    break;
            }
        }
        return builder.Append('"').ToString();
    }

    /// <summary>Go's <c>unicode.IsPrint</c> beyond ASCII space: letters, marks, numbers, punctuation, symbols.</summary>
    private static bool IsGoPrintable(UnicodeCategory category) => category is
        UnicodeCategory.UppercaseLetter or UnicodeCategory.LowercaseLetter or UnicodeCategory.TitlecaseLetter
        or UnicodeCategory.ModifierLetter or UnicodeCategory.OtherLetter
        or UnicodeCategory.NonSpacingMark or UnicodeCategory.SpacingCombiningMark or UnicodeCategory.EnclosingMark
        or UnicodeCategory.DecimalDigitNumber or UnicodeCategory.LetterNumber or UnicodeCategory.OtherNumber
        or UnicodeCategory.ConnectorPunctuation or UnicodeCategory.DashPunctuation or UnicodeCategory.OpenPunctuation
        or UnicodeCategory.ClosePunctuation or UnicodeCategory.InitialQuotePunctuation or UnicodeCategory.FinalQuotePunctuation
        or UnicodeCategory.OtherPunctuation
        or UnicodeCategory.MathSymbol or UnicodeCategory.CurrencySymbol or UnicodeCategory.ModifierSymbol or UnicodeCategory.OtherSymbol;
}
