using System.Security.Cryptography;
using Microsoft.AspNetCore.DataProtection;
using OrleansSessions.Silo.KeyRing;
using OrleansSessions.Tokenizer;

namespace OrleansSessions.Api.Tests;

/// <summary>How a stored private key is read: a JWK as it is, a sealed one through Data Protection, in either setting.</summary>
public sealed class SealedPrivateKeyTests
{
    private static readonly string Jwk;

    static SealedPrivateKeyTests()
    {
        using var key = SigningKey.Generate(TokenizerSettings.Es256);
        Jwk = key.ExportPrivateJwk();
    }

    [Fact]
    public void With_key_encryption_a_sealed_key_and_a_plaintext_key_from_before_both_open()
    {
        var sealing = new DataProtectedPrivateKeys(new EphemeralDataProtectionProvider());

        var stored = sealing.Seal(Jwk);

        Assert.False(stored.StartsWith('{'));
        Assert.DoesNotContain("\"d\"", stored);
        Assert.Equal(Jwk, sealing.Open(stored));
        Assert.Equal(Jwk, sealing.Open(Jwk));
    }

    [Fact]
    public void Without_key_encryption_a_key_is_stored_as_it_is_and_a_sealed_one_is_refused_naming_the_setting()
    {
        var sealedKey = new DataProtectedPrivateKeys(new EphemeralDataProtectionProvider()).Seal(Jwk);

        Assert.Equal(Jwk, PlaintextPrivateKeys.Instance.Seal(Jwk));
        Assert.Equal(Jwk, PlaintextPrivateKeys.Instance.Open(Jwk));
        var refused = Assert.Throws<CryptographicException>(() => PlaintextPrivateKeys.Instance.Open(sealedKey));
        Assert.Contains("secrets:key_encryption", refused.Message);
    }

    [Fact]
    public void A_key_sealed_under_another_key_ring_is_refused()
    {
        var sealedKey = new DataProtectedPrivateKeys(new EphemeralDataProtectionProvider()).Seal(Jwk);

        Assert.ThrowsAny<CryptographicException>(() => new DataProtectedPrivateKeys(new EphemeralDataProtectionProvider()).Open(sealedKey));
        Assert.ThrowsAny<CryptographicException>(() => new DataProtectedPrivateKeys(new EphemeralDataProtectionProvider()).Open("not base64url!"));
    }
}
