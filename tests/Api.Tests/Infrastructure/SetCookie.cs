namespace OrleansSessions.Api.Tests.Infrastructure;

/// <summary>A Set-Cookie header: name, value, and its attributes (lower-case names).</summary>
public sealed record SetCookie(string Name, string Value, IReadOnlyDictionary<string, string> Attributes)
{
    public static SetCookie Parse(string header)
    {
        var parts = header.Split(';').Select(p => p.Trim()).ToArray();
        var equals = parts[0].IndexOf('=');
        var attributes = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var part in parts.Skip(1))
        {
            var eq = part.IndexOf('=');
            attributes[eq < 0 ? part.ToLowerInvariant() : part[..eq].Trim().ToLowerInvariant()] = eq < 0 ? "" : part[(eq + 1)..].Trim();
        }
        return new SetCookie(parts[0][..equals], parts[0][(equals + 1)..], attributes);
    }
}
