using OrleansSessions.Silo;
using OrleansSessions.Storage;
using OrleansSessions.Storage.Migrations;

// `migrate` applies pending schema migrations and exits; anything else runs the node.
if (args.Length > 0 && args[0] == "migrate")
{
    var options = CommandConfiguration(args).GetSection(StoreOptions.Section).Get<StoreOptions>() ?? new StoreOptions();
    options.Validate();
    IReadOnlyList<int> applied;
    try
    {
        await using var store = options.Open();
        applied = await store.MigrateAsync();
    }
    catch (MigrationFailedException e)
    {
        return MigrationFailed("Migrating", e, options);
    }
    Console.WriteLine(applied.Count == 0
        ? $"Schema of {options.Describe()} is up to date."
        : $"Applied migrations {string.Join(", ", applied)} to {options.Describe()}.");
    return 0;
}

// `rotate-keys` adds a signing key for each generated tokenizer algorithm: published at once, signing after the lead time.
if (args.Length > 0 && args[0] == "rotate-keys")
{
    await KeyRotationCommand.RunAsync(CommandConfiguration(args));
    return 0;
}

// `regions link` creates and checks the replication between this region's database and its peers'; `regions status` reports it.
if (args.Length > 1 && args[0] == "regions")
    return await RegionsCommand.RunAsync(args[1], ApplicationSettings.AddBoth(new ConfigurationBuilder(), AppContext.BaseDirectory)
        .AddEnvironmentVariables().AddCommandLine(args[2..]).Build());

var builder = SessionServiceHost.CreateBuilder(args, AppContext.BaseDirectory);
try
{
    var app = await SessionServiceHost.BuildAsync(builder);
    await app.RunAsync();
    return 0;
}
catch (MigrationFailedException e)
{
    // store:migrate_on_start: nothing is listening yet, and nothing will.
    var store = builder.Configuration.GetSection(StoreOptions.Section).Get<StoreOptions>() ?? new StoreOptions();
    store.DataDirectory = Path.Combine(builder.Environment.ContentRootPath, store.DataDirectory);
    return MigrationFailed("OrleansSessions did not start: migrating", e, store);
}

// One line on stderr an operator can act on (which migration, what the database said), then a non-zero exit.
static int MigrationFailed(string what, MigrationFailedException e, StoreOptions store)
{
    Console.Error.WriteLine(store.WithoutPassword($"{what} {store.Describe()} failed {e.Where}: {e.DatabaseError}"));
    return 1;
}

// A command's settings: appsettings.json (the Silo's own, then the current folder's), the environment, then the arguments after the command's name.
static IConfiguration CommandConfiguration(string[] args) =>
    ApplicationSettings.AddBoth(new ConfigurationBuilder(), AppContext.BaseDirectory).AddEnvironmentVariables().AddCommandLine(args[1..]).Build();
