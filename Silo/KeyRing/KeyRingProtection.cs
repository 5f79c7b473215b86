using System.Data.Common;
using System.Security.Cryptography;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.DataProtection.KeyManagement;
using Microsoft.Extensions.DependencyInjection.Extensions;
using OrleansSessions.Storage;
using OrleansSessions.Tokenizer;

namespace OrleansSessions.Silo.KeyRing;

/// <summary>
/// The Data Protection key ring every node shares (in the store), which seals the session cookie and, with key
/// encryption on, the tokenizer's private keys; with it on, the ring's keys are encrypted to a certificate at rest.
/// </summary>
public static class KeyRingProtection
{
    /// <summary>
    /// Data Protection over the store's key ring. <paramref name="createsKeys"/> false: one ring for every region,
    /// created in one and replicated to the others, which must not make their own.
    /// </summary>
    public static void Add(IServiceCollection services, KeyEncryption? encryption, bool createsKeys)
    {
        var protection = services.AddDataProtection().SetApplicationName("OrleansSessions");
        if (!createsKeys)
            protection.DisableAutomaticKeyGeneration();
        services.AddOptions<KeyManagementOptions>().Configure<IKeyRingStore>((o, keys) => o.XmlRepository = new KeyRingXmlRepository(keys));
        if (encryption is null)
            return;
        protection.ProtectKeysWithCertificate(encryption.Certificate).UnprotectKeysWithAnyCertificate(encryption.Decrypting);
        services.AddSingleton<IPrivateKeyProtection, DataProtectedPrivateKeys>();
    }

    /// <summary>
    /// How the <c>rotate-keys</c> command, which has no host, stores private keys: as a node configured alike does.
    /// </summary>
    public static ServiceProvider CommandServices(IKeyRingStore store, KeyEncryption? encryption, bool createsKeys)
    {
        var services = new ServiceCollection();
        services.AddSingleton(store);
        if (encryption is not null)
            Add(services, encryption, createsKeys);
        services.TryAddSingleton<IPrivateKeyProtection>(PlaintextPrivateKeys.Instance);
        return services.BuildServiceProvider();
    }

    /// <summary>
    /// Stops start-up when a key of the stored ring that can still become the default cannot be decrypted here (no
    /// certificate configured, or not one it was encrypted to). Data Protection would leave such a key aside and make
    /// one of its own, unencrypted or to a certificate the other nodes lack, that every node then picks up.
    /// </summary>
    public static void EnsureOpens(IServiceProvider services)
    {
        if (services.GetService<IKeyManager>() is not { } manager)
            return;
        IReadOnlyCollection<IKey> keys;
        try
        {
            keys = manager.GetAllKeys();
        }
        catch (DbException)
        {
            // No schema yet (an API node started before its silos migrated): Data Protection reads the ring when it needs it.
            return;
        }
        var now = services.GetRequiredService<TimeProvider>().GetUtcNow();
        foreach (var key in keys.Where(k => !k.IsRevoked && k.ExpirationDate > now))
        {
            try
            {
                _ = key.Descriptor;
            }
            catch (CryptographicException e)
            {
                throw new InvalidOperationException($"Key {key.KeyId} of the Data Protection key ring in the store cannot be decrypted on this node "
                    + $"({e.Message}). The ring is encrypted to a certificate: give this node that certificate with its private key under "
                    + $"{KeyEncryptionSettings.Section}:certificate (or :previous, during a rotation).", e);
            }
        }
    }
}
