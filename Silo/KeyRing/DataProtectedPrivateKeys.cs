using System.Security.Cryptography;
using Microsoft.AspNetCore.DataProtection;
using OrleansSessions.Tokenizer;

namespace OrleansSessions.Silo.KeyRing;

/// <summary>
/// Key encryption on: a tokenizer private key is sealed under the Data Protection key ring (itself encrypted to the
/// configured certificate), with a purpose of its own, so no other use of the ring (the session cookie) opens it.
/// </summary>
public sealed class DataProtectedPrivateKeys(IDataProtectionProvider provider) : IPrivateKeyProtection
{
    private readonly IDataProtector _protector = provider.CreateProtector("OrleansSessions.Tokenizer.SigningKey.v1");

    public string Seal(string privateJwk) => _protector.Protect(privateJwk);

    public string Unseal(string sealedJwk)
    {
        try
        {
            return _protector.Unprotect(sealedJwk);
        }
        catch (FormatException e)
        {
            throw new CryptographicException("The stored key is neither a JWK nor a sealed one.", e);
        }
    }
}
