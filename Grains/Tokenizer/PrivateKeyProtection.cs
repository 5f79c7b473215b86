using System.Security.Cryptography;

namespace OrleansSessions.Tokenizer;

/// <summary>
/// What the store keeps of a generated signing key's private JWK. With key encryption on, the host seals it (under the
/// Data Protection key ring, itself encrypted with a certificate); without it, <see cref="PlaintextPrivateKeys"/> keeps
/// it as it is. The grains know nothing of Data Protection: the host brings the implementation.
/// </summary>
public interface IPrivateKeyProtection
{
    /// <summary>The stored form of a private JWK.</summary>
    string Seal(string privateJwk);

    /// <summary>The private JWK of a sealed value; a <see cref="CryptographicException"/> when this node cannot open it.</summary>
    string Unseal(string sealedJwk);
}

/// <summary>Key encryption off (the default): private JWKs are stored as they are.</summary>
public sealed class PlaintextPrivateKeys : IPrivateKeyProtection
{
    public static readonly PlaintextPrivateKeys Instance = new();

    public string Seal(string privateJwk) => privateJwk;

    public string Unseal(string sealedJwk) =>
        throw new CryptographicException("The key is sealed with Data Protection (key encryption was on when it was created), "
            + "and this node has no key encryption configured (secrets:key_encryption).");
}

public static class PrivateKeyProtection
{
    /// <summary>
    /// The private JWK of a stored value in either form: a JSON object is a JWK stored as it is (key encryption off, or
    /// a key from before it was turned on), so clusters that turn it on keep their keys; anything else was sealed.
    /// </summary>
    public static string Open(this IPrivateKeyProtection protection, string stored) =>
        stored.StartsWith('{') ? stored : protection.Unseal(stored);
}
