using System.Buffers.Text;
using System.Globalization;
using System.Text;
using System.Text.Json;
using OrleansSessions.Api.Errors;

namespace OrleansSessions.Api.Sessions;

/// <summary>
/// Kratos's "migration" pagination (ory/x <c>migrationpagination</c>) for <c>GET /sessions</c> and
/// <c>GET /admin/identities/{id}/sessions</c>: token mode (<c>page_token</c> = base64url of
/// <c>{"offset":"n","v":2}</c>, <c>page_size</c>) when either is present, else the legacy
/// <c>page</c> (from 0) and <c>per_page</c>. Nothing is refused: bad values fall back to defaults,
/// sizes are clamped to 1..1000. Answers carry <c>X-Total-Count</c> and a <c>Link</c> header whose
/// links each carry all four parameters.
/// </summary>
public readonly record struct OffsetPage(int Page, int PerPage)
{
    public const int DefaultSize = 250;
    public const int MaxSize = 1000;

    /// <summary>The index of the first item; beyond <see cref="int.MaxValue"/> there is nothing to list anyway.</summary>
    public int Offset => (int)Math.Min((long)Page * PerPage, int.MaxValue);

    public static OffsetPage Parse(IQueryCollection query)
    {
        if (query.ContainsKey("page_token") || query.ContainsKey("page_size"))
        {
            var offset = query["page_token"].FirstOrDefault() is { Length: > 0 } token ? DecodeToken(token) : 0;
            var size = Clamp(TryParseGoInt(query["page_size"].FirstOrDefault(), out var s) ? s : DefaultSize);
            return new OffsetPage((int)Math.Max(0, Math.Min(offset / size, int.MaxValue)), size);
        }
        var page = TryParseGoInt(query["page"].FirstOrDefault(), out var p) ? p : 0;
        var perPage = Clamp(TryParseGoInt(query["per_page"].FirstOrDefault(), out var pp) ? pp : DefaultSize);
        return new OffsetPage((int)Math.Clamp(page, 0, int.MaxValue), perPage);
    }

    public static string EncodeToken(long offset) =>
        Base64Url.EncodeToString(Encoding.UTF8.GetBytes($$"""{"offset":"{{offset.ToString(CultureInfo.InvariantCulture)}}","v":2}"""));

    /// <summary>ory/x's tokens: a broken one reads as offset 0, as there.</summary>
    private static long DecodeToken(string token)
    {
        try
        {
            using var document = JsonDocument.Parse(Base64Url.DecodeFromChars(token));
            if (document.RootElement.ValueKind != JsonValueKind.Object || !document.RootElement.TryGetProperty("offset", out var offset))
                return 0;
            return offset.ValueKind switch
            {
                JsonValueKind.Number when offset.TryGetInt64(out var n) => n,
                JsonValueKind.String when long.TryParse(offset.GetString(), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var n) => n,
                _ => 0,
            };
        }
        catch (Exception e) when (e is FormatException or JsonException)
        {
            return 0;
        }
    }

    /// <summary>Go's <c>strconv.ParseInt(s, 10, 0)</c>: an optional sign and decimal digits, nothing else.</summary>
    private static bool TryParseGoInt(string? text, out long value) =>
        long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out value);

    private static int Clamp(long size) => (int)Math.Clamp(size, 1, MaxSize);

    /// <summary>
    /// <c>X-Total-Count</c> and <c>Link</c> exactly as ory/x's <c>HeaderWithFormatter</c> computes them
    /// (including its quirks: a single <c>first</c> link sized to the total when everything fits, and a
    /// negative <c>prev</c> for an empty list).
    /// </summary>
    public void WriteHeaders(HttpContext context, long total)
    {
        long size = PerPage;
        var offset = (long)Page * size;
        var lastOffset = total % size == 0 ? total - size : total / size * size;
        var request = context.Request;
        string Link(string rel, long itemsPerPage, long linkOffset) =>
            GoQuery.Link(request, rel, new()
            {
                ["page_size"] = itemsPerPage.ToString(CultureInfo.InvariantCulture),
                ["page_token"] = EncodeToken(linkOffset),
                ["per_page"] = itemsPerPage.ToString(CultureInfo.InvariantCulture),
                ["page"] = (linkOffset / itemsPerPage).ToString(CultureInfo.InvariantCulture),
            });

        string[] links;
        if (offset >= lastOffset)
        {
            if (total == 0)
                links = [Link("first", size, 0), Link("next", size, (offset / size + 1) * size), Link("prev", size, (offset / size - 1) * size)];
            else if (total <= size)
                links = [Link("first", total, 0)];
            else
                links = [Link("first", size, 0), Link("prev", size, lastOffset - size)];
        }
        else if (offset < size)
        {
            links = [Link("next", size, size), Link("last", size, lastOffset)];
        }
        else
        {
            links = [Link("first", size, 0), Link("next", size, (offset / size + 1) * size),
                Link("prev", size, (offset / size - 1) * size), Link("last", size, lastOffset)];
        }
        context.Response.Headers["X-Total-Count"] = total.ToString(CultureInfo.InvariantCulture);
        context.Response.Headers["Link"] = string.Join(",", links);
    }
}

/// <summary>The position after which a keyset page starts: the last session of the previous page.</summary>
/// <remarks>
/// <c>page_token</c> is base64url (unpadded) of <c>id=&lt;uuid&gt;/created_at=&lt;yyyy-MM-dd HH:mm:ss.fffffff&gt;</c>
/// in UTC, Kratos's layout with the full precision of the store, so that a page never repeats or skips a
/// session that shares its predecessor's second. Anything else is refused with Kratos's 400.
/// </remarks>
public static class KeysetPage
{
    public const int DefaultSize = 250;
    public const int MaxSize = 1000;
    private const int MaxTokenLength = 256;
    private const string TimestampFormat = "yyyy'-'MM'-'dd' 'HH':'mm':'ss.FFFFFFF";

    /// <summary>Kratos's first-page token: before every session there can be.</summary>
    public static readonly SessionCursor First = new()
    {
        Id = Guid.Empty,
        CreatedAt = new DateTimeOffset(2200, 12, 31, 23, 59, 59, TimeSpan.Zero),
    };

    public static readonly OryError InvalidToken = OryError.BadRequest("The page token is invalid, do not craft your own page tokens");

    public static readonly OryError InvalidSize = new(StatusCodes.Status400BadRequest, "could not parse parameter page_size");

    /// <summary><c>page_size</c> (1..1000, default 250) and <c>page_token</c> (null for the first page).</summary>
    public static bool TryParse(IQueryCollection query, out int size, out SessionCursor? after, out OryError? error)
    {
        size = DefaultSize;
        after = null;
        error = null;
        if (query["page_size"].FirstOrDefault() is { Length: > 0 } sizeText)
        {
            if (!int.TryParse(sizeText, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out size) || size is < 1 or > MaxSize)
            {
                error = InvalidSize;
                return false;
            }
        }
        if (query["page_token"].FirstOrDefault() is { Length: > 0 } token)
        {
            if (!TryDecode(token, out var cursor))
            {
                error = InvalidToken;
                return false;
            }
            after = cursor == First ? null : cursor;
        }
        return true;
    }

    public static string Encode(SessionCursor cursor) => Base64Url.EncodeToString(Encoding.UTF8.GetBytes(
        $"id={cursor.Id:D}/created_at={cursor.CreatedAt.UtcDateTime.ToString(TimestampFormat, CultureInfo.InvariantCulture)}"));

    private static bool TryDecode(string token, out SessionCursor cursor)
    {
        cursor = First;
        if (token.Length > MaxTokenLength || !Base64Url.IsValid(token))
            return false;
        string text;
        try
        {
            text = new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(Base64Url.DecodeFromChars(token));
        }
        catch (Exception e) when (e is FormatException or ArgumentException)
        {
            return false;
        }
        Guid? id = null;
        DateTimeOffset? createdAt = null;
        foreach (var part in text.Split('/'))
        {
            var equals = part.IndexOf('=');
            if (equals < 0)
                return false;
            var value = part[(equals + 1)..];
            switch (part[..equals])
            {
                case "id" when id is null && Guid.TryParseExact(value, "D", out var parsed):
                    id = parsed;
                    break;
                case "created_at" when createdAt is null && DateTime.TryParseExact(value, TimestampFormat, CultureInfo.InvariantCulture,
                        DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal, out var at):
                    createdAt = new DateTimeOffset(at, TimeSpan.Zero);
                    break;
                default:
                    return false;
            }
        }
        if (id is not { } cursorId || createdAt is not { } cursorCreatedAt)
            return false;
        cursor = new SessionCursor { Id = cursorId, CreatedAt = cursorCreatedAt };
        return true;
    }

    /// <summary>Kratos's keyset <c>Link</c>: <c>rel="first"</c> always, <c>rel="next"</c> when there is more. No total.</summary>
    public static void WriteHeaders(HttpContext context, int size, SessionCursor? next)
    {
        var sizeText = size.ToString(CultureInfo.InvariantCulture);
        var first = GoQuery.Link(context.Request, "first", new() { ["page_token"] = Encode(First), ["page_size"] = sizeText });
        context.Response.Headers["Link"] = next is null
            ? first
            : first + "," + GoQuery.Link(context.Request, "next", new() { ["page_token"] = Encode(next), ["page_size"] = sizeText });
    }
}

/// <summary>Links as Go's <c>net/url</c> writes them: the request's path, its query with some values set, keys sorted.</summary>
internal static class GoQuery
{
    public static string Link(HttpRequest request, string rel, Dictionary<string, string> set)
    {
        var values = new SortedDictionary<string, IEnumerable<string?>>(StringComparer.Ordinal);
        foreach (var (key, value) in request.Query)
            values[key] = value;
        foreach (var (key, value) in set)
            values[key] = [value];
        var query = string.Join("&", values.SelectMany(kv => kv.Value.Select(v => Escape(kv.Key) + "=" + Escape(v ?? ""))));
        return $"<{request.PathBase.Add(request.Path).ToUriComponent()}?{query}>; rel=\"{rel}\"";
    }

    /// <summary>Go's <c>url.QueryEscape</c>: unreserved characters as they are, space as <c>+</c>, the rest percent-encoded.</summary>
    private static string Escape(string value)
    {
        var builder = new StringBuilder(value.Length);
        foreach (var b in Encoding.UTF8.GetBytes(value))
        {
            if (char.IsAsciiLetterOrDigit((char)b) || b is (byte)'-' or (byte)'_' or (byte)'.' or (byte)'~')
                builder.Append((char)b);
            else if (b == ' ')
                builder.Append('+');
            else
                builder.Append('%').Append(b.ToString("X2", CultureInfo.InvariantCulture));
        }
        return builder.ToString();
    }
}
