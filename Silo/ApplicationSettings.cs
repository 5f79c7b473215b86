using Microsoft.Extensions.Configuration.Json;
using Microsoft.Extensions.FileProviders;

namespace OrleansSessions.Silo;

/// <summary>
/// The <c>appsettings.json</c> shipped beside the Silo's assembly is the base configuration wherever the node is started
/// from. ASP.NET Core reads it from the content root, which is the current folder: <c>dotnet /opt/x/OrleansSessions.Silo.dll</c>
/// run from another folder would otherwise start without it (per-request Information logs, among others). A file of
/// the same name in the content root still wins, then the environment and the command line, as before.
/// </summary>
public static class ApplicationSettings
{
    public const string FileName = "appsettings.json";

    /// <summary>Puts the application folder's settings files beneath the content root's in <paramref name="configuration"/>.</summary>
    public static void AddBeneath(IConfigurationManager configuration, string contentRoot, string environmentName, string applicationFolder)
    {
        if (SameFolder(contentRoot, applicationFolder))
            return;
        var sources = configuration.Sources;
        var at = 0;
        for (var i = 0; i < sources.Count; i++)
        {
            if (sources[i] is JsonConfigurationSource { Path: FileName })
            {
                at = i;
                break;
            }
        }
        var files = new PhysicalFileProvider(applicationFolder);
        sources.Insert(at, Json(files, $"appsettings.{environmentName}.json"));
        sources.Insert(at, Json(files, FileName));
    }

    /// <summary>For the commands: the application folder's file, then the current folder's.</summary>
    public static IConfigurationBuilder AddBoth(IConfigurationBuilder configuration, string applicationFolder)
    {
        if (!SameFolder(Directory.GetCurrentDirectory(), applicationFolder))
            configuration.Add(Json(new PhysicalFileProvider(applicationFolder), FileName));
        return configuration.AddJsonFile(FileName, optional: true);
    }

    private static JsonConfigurationSource Json(IFileProvider files, string path) =>
        new() { FileProvider = files, Path = path, Optional = true, ReloadOnChange = false };

    private static bool SameFolder(string a, string b) =>
        string.Equals(Path.TrimEndingDirectorySeparator(Path.GetFullPath(a)), Path.TrimEndingDirectorySeparator(Path.GetFullPath(b)), StringComparison.Ordinal);
}
