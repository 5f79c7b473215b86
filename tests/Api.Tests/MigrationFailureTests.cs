using System.Net.Sockets;
using Npgsql;
using OrleansSessions.Api.Tests.Infrastructure;
using OrleansSessions.Tests.Store;

namespace OrleansSessions.Api.Tests;

/// <summary>
/// A migration that cannot be applied stops the node before anything listens, with one line naming the migration
/// and the database's error (never the connection string's password) and a non-zero exit code; the <c>migrate</c>
/// command reports it the same way. Real processes of the built Silo, because exit codes and output are the point.
/// </summary>
public sealed class MigrationFailureTests
{
    private static readonly TimeSpan ExitTimeout = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task A_migration_that_conflicts_with_an_existing_postgres_table_stops_start_up_and_migrate_with_one_line()
    {
        var database = await PostgresServer.CreateDatabaseAsync();
        try
        {
            // Migration 2 creates identity_credentials; a table of that name already there makes it fail (1 applies).
            await PostgresServer.ExecuteAsync(database, "CREATE TABLE identity_credentials (something INTEGER)");
            // The test server trusts local connections, so the password is never checked; it must never be printed.
            const string password = "pw-must-not-appear-7f3a";
            var connectionString = new NpgsqlConnectionStringBuilder(database) { Password = password }.ToString();
            var environment = new Dictionary<string, string> { ["store__connection_string"] = connectionString };
            var target = new NpgsqlConnectionStringBuilder(database);
            var location = $"postgres://{target.Host}:{target.Port}/{target.Database}";

            var (output, ports) = await StartExpectingFailureAsync(["--store:provider=postgres"], environment);
            var line = Assert.Single(ErrorLines(output));
            Assert.StartsWith($"stderr: OrleansSessions did not start: migrating {location} failed at migration 2 (0002_credentials.postgres.sql): 42P07: ", line);
            Assert.Contains("\"identity_credentials\" already exists", line);
            Assert.DoesNotContain(password, output);
            await AssertNothingListensAsync(ports);
            // Migration 1 was committed, the failed one was not.
            Assert.Equal(["1"], await PostgresServer.ColumnAsync(database, "SELECT version FROM schema_migrations ORDER BY version"));

            var migrate = await RunMigrateAsync(["--store:provider=postgres"], environment);
            Assert.NotEqual(0, migrate.ExitCode);
            var migrateLine = Assert.Single(ErrorLines(migrate.Output));
            Assert.StartsWith($"stderr: Migrating {location} failed at migration 2 (0002_credentials.postgres.sql): 42P07: ", migrateLine);
            Assert.DoesNotContain(password, migrate.Output);
        }
        finally
        {
            await PostgresServer.DropDatabaseAsync(database);
        }
    }

    [Fact]
    public async Task A_sqlite_file_that_is_not_a_database_stops_start_up_and_migrate_with_one_line()
    {
        var dataDirectory = ServiceNode.NewDataDirectory();
        try
        {
            var file = Path.Combine(dataDirectory, "sessions.db");
            await File.WriteAllTextAsync(file, string.Concat(Enumerable.Repeat("not a database, only text. ", 100)));
            string[] args = [$"--store:data_directory={dataDirectory}"];

            var (output, ports) = await StartExpectingFailureAsync(args, null);
            var line = Assert.Single(ErrorLines(output));
            Assert.Equal($"stderr: OrleansSessions did not start: migrating {file} failed before any migration ran (opening the store): "
                + "SQLite Error 26: 'file is not a database'.", line);
            await AssertNothingListensAsync(ports);

            var migrate = await RunMigrateAsync(args, null);
            Assert.NotEqual(0, migrate.ExitCode);
            Assert.Equal($"stderr: Migrating {file} failed before any migration ran (opening the store): SQLite Error 26: 'file is not a database'.",
                Assert.Single(ErrorLines(migrate.Output)));
        }
        finally
        {
            ServiceNode.DeleteDirectory(dataDirectory);
        }
    }

    /// <summary>Runs a node on fixed free ports; asserts it exits non-zero without ever announcing itself ready.</summary>
    private static async Task<(string Output, int[] Ports)> StartExpectingFailureAsync(string[] args, IReadOnlyDictionary<string, string>? environment)
    {
        var (ports, listen) = SiloProcess.OnFreePorts();
        await using var node = SiloProcess.Start("failing node",
        [
            .. listen,
            "--store:migrate_on_start=true", "--dev=true",
            .. args,
        ], environment);
        var exitCode = await node.WaitExitAsync(ExitTimeout);
        var output = node.Output;
        Assert.True(exitCode != 0, $"the node exited with 0. Output:\n{output}");
        Assert.DoesNotContain("OrleansSessions ready", output);
        Assert.False(node.Ready.IsCompletedSuccessfully);
        // No stack trace: the one line says it all.
        Assert.DoesNotContain("   at ", output);
        return (output, ports);
    }

    private static async Task<(int ExitCode, string Output)> RunMigrateAsync(string[] args, IReadOnlyDictionary<string, string>? environment)
    {
        await using var migrate = SiloProcess.Start("migrate", ["migrate", .. args], environment);
        var exitCode = await migrate.WaitExitAsync(ExitTimeout);
        Assert.DoesNotContain("   at ", migrate.Output);
        return (exitCode, migrate.Output);
    }

    private static IEnumerable<string> ErrorLines(string output) => output.Split('\n').Where(l => l.StartsWith("stderr: ", StringComparison.Ordinal));

    private static async Task AssertNothingListensAsync(int[] ports)
    {
        foreach (var port in ports)
        {
            using var client = new TcpClient();
            await Assert.ThrowsAsync<SocketException>(() => client.ConnectAsync("127.0.0.1", port));
        }
    }
}
