using OrleansSessions.Silo;
using OrleansSessions.Storage;

// `migrate` applies pending schema migrations and exits; anything else runs the node.
if (args.Length > 0 && args[0] == "migrate")
{
    var options = new ConfigurationBuilder().AddJsonFile("appsettings.json", optional: true)
        .AddEnvironmentVariables().AddCommandLine(args[1..]).Build()
        .GetSection(StoreOptions.Section).Get<StoreOptions>() ?? new StoreOptions();
    options.Validate();
    IReadOnlyList<int> applied;
    if (options.IsPostgres)
    {
        await using var postgres = new PostgresStore(options.ConnectionString!);
        applied = await postgres.MigrateAsync();
    }
    else
        applied = await new SqliteStore(options.SqlitePath).MigrateAsync();
    Console.WriteLine(applied.Count == 0
        ? $"Schema of {options.Describe()} is up to date."
        : $"Applied migrations {string.Join(", ", applied)} to {options.Describe()}.");
    return;
}

// `rotate-keys` adds a signing key for each generated tokenizer algorithm: published at once, signing after the lead time.
if (args.Length > 0 && args[0] == "rotate-keys")
{
    var configuration = new ConfigurationBuilder().AddJsonFile("appsettings.json", optional: true)
        .AddEnvironmentVariables().AddCommandLine(args[1..]).Build();
    await KeyRotationCommand.RunAsync(configuration);
    return;
}

var app = await SessionServiceHost.BuildAsync(SessionServiceHost.CreateBuilder(args));
await app.RunAsync();
