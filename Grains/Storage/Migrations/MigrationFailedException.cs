using System.Data.Common;

namespace OrleansSessions.Storage.Migrations;

/// <summary>
/// A schema migration could not be applied: which one (null when the failure came before any migration, while
/// opening the store or preparing its bookkeeping) and the database's own error. Nothing of the failed
/// migration was committed: each migration runs in a transaction of its own.
/// </summary>
public sealed class MigrationFailedException(string dialect, Migration? migration, DbException error)
    : Exception(Describe(dialect, migration, error), error)
{
    /// <summary>The version that failed; null when no migration had started.</summary>
    public int? Version { get; } = migration?.Version;

    /// <summary>The embedded file of the migration that failed (<c>0001_initial.postgres.sql</c>); null when none had started.</summary>
    public string? File { get; } = migration is null ? null : FileName(dialect, migration);

    /// <summary>The database's message, on one line.</summary>
    public string DatabaseError { get; } = OneLine(error.Message);

    /// <summary>Where it stopped: <c>at migration 1 (0001_initial.postgres.sql)</c>, or before any migration.</summary>
    public string Where => Describe(Version, File);

    public static string FileName(string dialect, Migration migration) => $"{migration.Version:D4}_{migration.Name}.{dialect}.sql";

    private static string Describe(string dialect, Migration? migration, DbException error) =>
        $"schema migration failed {Describe(migration?.Version, migration is null ? null : FileName(dialect, migration))}: {OneLine(error.Message)}";

    private static string Describe(int? version, string? file) =>
        file is null ? "before any migration ran (opening the store)" : $"at migration {version} ({file})";

    private static string OneLine(string text) => string.Join(' ', text.Split((char[])['\r', '\n'], StringSplitOptions.RemoveEmptyEntries).Select(s => s.Trim()));
}
