using System.Net;
using OrleansSessions.Api.Tests.Infrastructure;

namespace OrleansSessions.Api.Tests;

/// <summary>
/// An operator starts the node as <c>dotnet /path/to/OrleansSessions.Silo.dll</c> from any folder. The appsettings.json
/// beside the assembly is its base configuration all the same (ASP.NET Core alone reads it from the current folder
/// only, and without it every request is logged at Information); a relative data directory stays under the folder the
/// node was started from.
/// </summary>
public sealed class StartFolderTests
{
    [Fact]
    public async Task A_node_started_from_another_folder_reads_the_appsettings_beside_its_assembly()
    {
        var folder = ServiceNode.NewDataDirectory();
        try
        {
            var (_, listen) = SiloProcess.OnFreePorts();
            await using var node = SiloProcess.Start("node started elsewhere",
            [
                .. listen,
                "--dev=true",
                // A template with a generated key, so that a rotation writes an Information line of our own.
                "--session:whoami:tokenizer:templates:jwt:ttl=1m",
            ], workingDirectory: folder);
            var (publicUrl, adminUrl) = await node.WaitReadyAsync();

            using var http = new HttpClient();
            using (var whoami = await http.GetAsync(new Uri(publicUrl, "/sessions/whoami")))
                Assert.Equal(HttpStatusCode.Unauthorized, whoami.StatusCode);
            using (var rotate = await http.PostAsync(new Uri(adminUrl, "/admin/jwks/rotate"), null))
                Assert.True(rotate.IsSuccessStatusCode, $"rotate answered {(int)rotate.StatusCode}");
            // Logged after the whoami's request lines would have been: the console logger writes in order.
            await node.LineAsync(l => l.Contains("signing key", StringComparison.Ordinal)).WaitAsync(SiloProcess.StartTimeout);

            // appsettings.json sets Microsoft.AspNetCore to Warning (and its Hosting.Diagnostics to None): no per-request lines.
            Assert.DoesNotContain("Request starting", node.Output);
            Assert.DoesNotContain("info: Microsoft.AspNetCore", node.Output);
            // The relative data directory ("data") is under the folder the node was started from.
            Assert.True(File.Exists(Path.Combine(folder, "data", "sessions.db")), $"no sessions.db under {folder}/data");
        }
        finally
        {
            ServiceNode.DeleteDirectory(folder);
        }
    }
}
