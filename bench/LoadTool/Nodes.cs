using System.Net.Http.Json;
using System.Text.Json.Serialization;

namespace OrleansSessions.Bench;

/// <summary>Starting the things under test: the service in dev mode, the baseline; finding the repository.</summary>
public static class Nodes
{
    /// <summary>
    /// One co-hosted node (silo + both APIs) on free ports: in dev mode with a fresh SQLite folder, unless
    /// <paramref name="store"/> gives other store (and cluster) arguments, or <paramref name="adminKey"/> an admin key (then not in dev mode).
    /// </summary>
    public static async Task<(SpawnedProcess Process, Uri Public, Uri Admin)> SpawnServiceAsync(string siloDll, string? cpus, string workDirectory,
        IReadOnlyList<string>? store = null, string? adminKey = null)
    {
        var dll = Path.GetFullPath(siloDll);
        int publicPort = SpawnedProcess.FreePort(), adminPort = SpawnedProcess.FreePort();
        int siloPort = SpawnedProcess.FreePort(), gatewayPort = SpawnedProcess.FreePort();
        var data = Path.Combine(workDirectory, "service-data");
        Directory.CreateDirectory(data);
        string[] arguments =
        [
            dll, adminKey is null ? "--dev=true" : "--dev=false", .. store ?? [$"--store:data_directory={data}"],
            "--serve:public:host=127.0.0.1", $"--serve:public:port={publicPort}",
            "--serve:admin:host=127.0.0.1", $"--serve:admin:port={adminPort}",
            $"--orleans:silo_port={siloPort}", $"--orleans:gateway_port={gatewayPort}",
            .. adminKey is null ? Array.Empty<string>() : [$"--serve:admin:api_keys:0={adminKey}"],
        ];
        var process = await SpawnedProcess.StartAsync("service", "dotnet", arguments, Path.GetDirectoryName(dll), null, cpus,
            "OrleansSessions ready:", TimeSpan.FromMinutes(2), workDirectory);
        return (process, new Uri($"http://127.0.0.1:{publicPort}/"), new Uri($"http://127.0.0.1:{adminPort}/"));
    }

    /// <summary>The baseline app on a free port.</summary>
    public static async Task<(SpawnedProcess Process, Uri Url)> SpawnBaselineAsync(string? baselineDll, string? cpus, string workDirectory)
    {
        var dll = baselineDll is not null ? Path.GetFullPath(baselineDll) : DefaultBaselineDll();
        if (!File.Exists(dll)) throw new FileNotFoundException($"baseline not built: {dll} (dotnet build bench/Baseline -c Release, or --baseline-dll)");
        var port = SpawnedProcess.FreePort();
        var process = await SpawnedProcess.StartAsync("baseline", "dotnet", [dll, "--urls", $"http://127.0.0.1:{port}"], Path.GetDirectoryName(dll), null, cpus,
            "Baseline ready", TimeSpan.FromMinutes(1), workDirectory);
        return (process, new Uri($"http://127.0.0.1:{port}/"));
    }

    /// <summary>bench/Baseline/bin/&lt;configuration&gt;/net10.0 beside this tool's own bench/LoadTool/bin/&lt;configuration&gt;/net10.0.</summary>
    private static string DefaultBaselineDll()
    {
        var toolDirectory = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar));
        var framework = toolDirectory.Name;
        var configuration = toolDirectory.Parent?.Name ?? "Release";
        var bench = toolDirectory.Parent?.Parent?.Parent?.Parent?.FullName ?? ".";
        return Path.Combine(bench, "Baseline", "bin", configuration, framework, "OrleansSessions.Baseline.dll");
    }

    /// <summary>
    /// Gives the baseline the exact whoami bodies of the service: each credential is presented to the service once and
    /// the answer's bytes and identity header are posted to the baseline's /seed, credential by credential.
    /// </summary>
    public static async Task SeedBaselineAsync(Uri baseline, Uri service, IReadOnlyList<Credential> credentials, CancellationToken cancellation)
    {
        using var http = new HttpClient(new SocketsHttpHandler { UseCookies = false, MaxConnectionsPerServer = 16 });
        var entries = new BaselineEntry[credentials.Count];
        await Parallel.ForEachAsync(Enumerable.Range(0, credentials.Count), new ParallelOptions { MaxDegreeOfParallelism = 16, CancellationToken = cancellation },
            async (i, token) =>
            {
                var credential = credentials[i];
                using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(service, "/sessions/whoami"));
                request.Headers.TryAddWithoutValidation(credential.HeaderName, credential.HeaderValue);
                using var response = await http.SendAsync(request, token);
                if (!response.IsSuccessStatusCode)
                    throw new InvalidOperationException($"the service answered {(int)response.StatusCode} to a seeded session's whoami");
                var identity = response.Headers.TryGetValues("X-Kratos-Authenticated-Identity-Id", out var values) ? values.First() : "";
                entries[i] = new BaselineEntry(credential.RawValue, credential.IsCookie, identity, await response.Content.ReadAsByteArrayAsync(token));
            });
        foreach (var batch in entries.Chunk(500))
        {
            using var response = await http.PostAsJsonAsync(new Uri(baseline, "/seed"), batch, cancellation);
            response.EnsureSuccessStatusCode();
        }
    }

    /// <summary>Walks up from the working directory, then from the tool, to the folder of OrleansSessions.sln.</summary>
    public static string? RepositoryRoot()
    {
        foreach (var start in new[] { Environment.CurrentDirectory, AppContext.BaseDirectory })
            for (var directory = new DirectoryInfo(start); directory is not null; directory = directory.Parent)
                if (File.Exists(Path.Combine(directory.FullName, "OrleansSessions.sln"))) return directory.FullName;
        return null;
    }
}

/// <summary>One whoami answer for the baseline (its /seed takes a JSON array of these).</summary>
public sealed record BaselineEntry(
    [property: JsonPropertyName("credential")] string Credential,
    [property: JsonPropertyName("cookie")] bool Cookie,
    [property: JsonPropertyName("identity_id")] string IdentityId,
    [property: JsonPropertyName("body")] byte[] Body);
