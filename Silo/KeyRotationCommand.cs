using OrleansSessions.Json;
using OrleansSessions.Silo.KeyRing;
using OrleansSessions.Storage;
using OrleansSessions.Tokenizer;

namespace OrleansSessions.Silo;

/// <summary>
/// <c>rotate-keys</c>: what <c>POST /admin/jwks/rotate</c> does, from the command line against the store, for
/// an operator without the admin API at hand. Silos see the new keys at their next key refresh, well before
/// they sign (the lead time is at least twice the refresh interval).
/// </summary>
public static class KeyRotationCommand
{
    public static async Task RunAsync(IConfiguration configuration)
    {
        var settings = TokenizerConfiguration.Read(configuration);
        var options = configuration.GetSection(StoreOptions.Section).Get<StoreOptions>() ?? new StoreOptions();
        options.Validate();
        if (settings.GeneratedAlgorithms.IsEmpty)
        {
            Console.WriteLine("No tokenizer template uses generated keys (session:whoami:tokenizer:templates); nothing to rotate.");
            return;
        }
        var now = Rfc3339.Truncate(DateTimeOffset.UtcNow);
        var encryption = KeyEncryptionSettings.Read(configuration);
        var createsKeys = RegionSettings.Read(configuration, options.IsPostgres).CreatesKeys;
        await using var store = options.Open();
        // Sealed as the nodes seal them (secrets:key_encryption), so the nodes open them.
        await using var services = KeyRingProtection.CommandServices(store, encryption, createsKeys);
        await RotateAsync(store, services.GetRequiredService<IPrivateKeyProtection>(), settings, now, options);
    }

    private static async Task RotateAsync(ISigningKeyStore store, IPrivateKeyProtection protection, TokenizerSettings settings, DateTimeOffset now,
        StoreOptions options)
    {
        var existing = await store.ListSigningKeysAsync();
        foreach (var algorithm in settings.GeneratedAlgorithms)
        {
            // The first key of an algorithm has nothing to take over from: it signs at once.
            var activatesAt = existing.Any(k => k.Algorithm == algorithm) ? now + settings.RotationLeadTime : SigningKeyRing.FirstKeyActivation;
            var rotation = await TokenizerKeysGrain.CreateKeyAsync(store, protection, algorithm, now, activatesAt);
            Console.WriteLine($"New {rotation.Algorithm} key {rotation.Kid} in {options.Describe()}: published now, signs from {Rfc3339.Write(rotation.ActivatesAt)}.");
        }
    }
}
