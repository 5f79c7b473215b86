using System.Reflection;

namespace OrleansSessions.Storage.Migrations;

/// <summary>One versioned schema change, for one SQL dialect.</summary>
public sealed record Migration(int Version, string Name, string Sql)
{
    /// <summary>
    /// The migrations of a dialect, in version order. They are the embedded files
    /// <c>NNNN_name.&lt;dialect&gt;.sql</c> beside this class.
    /// </summary>
    public static IReadOnlyList<Migration> For(string dialect)
    {
        var assembly = typeof(Migration).Assembly;
        var suffix = $".{dialect}.sql";
        return assembly.GetManifestResourceNames()
            .Where(n => n.EndsWith(suffix, StringComparison.Ordinal))
            .Select(n =>
            {
                var stem = n[..^suffix.Length];
                var version = int.Parse(stem[..4], System.Globalization.CultureInfo.InvariantCulture);
                return new Migration(version, stem[5..], Read(assembly, n));
            })
            .OrderBy(m => m.Version)
            .ToList();
    }

    private static string Read(Assembly assembly, string name)
    {
        using var stream = assembly.GetManifestResourceStream(name)!;
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }
}
