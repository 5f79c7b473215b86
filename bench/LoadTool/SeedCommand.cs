using Spectre.Console;

namespace OrleansSessions.Bench;

/// <summary>
/// seed: the whoami scenarios' seeding without their load, for another load generator (wrk, bench/wrk/tokens.lua).
/// Seeds a running node (and a baseline with the node's own answers), then writes each credential's header value
/// (the token, or <c>name=value</c> of the cookie) one per line to --credentials-out, readable by its owner only.
/// This is the one place the tool writes credentials, and only to the file it was asked for.
/// </summary>
public static class SeedCommand
{
    public static async Task RunAsync(BenchRun run)
    {
        var settings = run.Settings;
        if (settings.CredentialsOut is not { Length: > 0 } path)
            throw new InvalidOperationException("seed needs --credentials-out <FILE>");
        if (settings.SpawnService is not null || settings.SpawnBaseline)
            throw new InvalidOperationException("seed works on running nodes: give --target/--admin (and --baseline), not --spawn-*");
        await run.UseServiceAsync();
        List<SeededIdentity> identities;
        using (var admin = run.CreateAdmin())
            identities = await Seeding.SeedAsync(admin, settings.Sessions, settings.SessionsPerIdentity ?? 1, settings.Cookies, settings.SeedParallelism, run.Cancellation);
        var credentials = identities.SelectMany(i => i.Sessions).ToList();
        if (settings.Baseline is { } baseline)
            await Nodes.SeedBaselineAsync(new Uri(baseline), run.Targets[0], credentials, run.Cancellation);

        var options = new FileStreamOptions { Mode = FileMode.Create, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        await using (var file = new StreamWriter(path, options))
            foreach (var credential in credentials)
                await file.WriteLineAsync(credential.HeaderValue);
        AnsiConsole.MarkupLineInterpolated($"{credentials.Count} {(settings.Cookies ? "browser" : "token")} sessions seeded{(settings.Baseline is null ? "" : " (and the baseline)")}; credentials in {path}");
    }
}
