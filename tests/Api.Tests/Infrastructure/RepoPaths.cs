namespace OrleansSessions.Api.Tests.Infrastructure;

/// <summary>Where the repository and the built service are, seen from the test assembly.</summary>
public static class RepoPaths
{
    /// <summary>The folder holding <c>OrleansSessions.sln</c>, above the test assembly.</summary>
    public static string Root { get; } = FindRoot();

    /// <summary>The Silo build of the same configuration as this test assembly (Debug or Release).</summary>
    public static string SiloDll
    {
        get
        {
            // bin/<configuration>/net10.0/ of the test project.
            var configuration = new DirectoryInfo(Path.TrimEndingDirectorySeparator(AppContext.BaseDirectory)).Parent?.Name ?? "Debug";
            var dll = Path.Combine(Root, "Silo", "bin", configuration, "net10.0", "OrleansSessions.Silo.dll");
            return File.Exists(dll) ? dll : throw new FileNotFoundException($"The Silo is not built: {dll} (dotnet build first).", dll);
        }
    }

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "OrleansSessions.sln")))
                return dir.FullName;
        }
        throw new InvalidOperationException($"No OrleansSessions.sln above {AppContext.BaseDirectory}.");
    }
}
