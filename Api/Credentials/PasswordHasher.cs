using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Konscious.Security.Cryptography;
using Microsoft.Extensions.Configuration;

namespace OrleansSessions.Api.Credentials;

/// <summary>Kratos's <c>hashers.argon2.*</c> keys.</summary>
public sealed class Argon2Settings
{
    public const string Section = "hashers:argon2";

    /// <summary>Memory in KiB (default 64 MiB).</summary>
    [ConfigurationKeyName("memory_kib")]
    public int MemoryKib { get; set; } = 64 * 1024;

    public int Iterations { get; set; } = 1;

    public int Parallelism { get; set; } = 2;

    [ConfigurationKeyName("salt_length")]
    public int SaltLength { get; set; } = 16;

    [ConfigurationKeyName("key_length")]
    public int KeyLength { get; set; } = 32;
}

/// <summary>What checking a password against a stored hash found.</summary>
/// <param name="Matches">The password is right.</param>
/// <param name="NeedsRehash">Right, but hashed with another algorithm or other parameters than today's.</param>
public readonly record struct PasswordCheck(bool Matches, bool NeedsRehash);

/// <summary>
/// Password hashes as PHC strings: Argon2id for new ones (<c>$argon2id$v=19$m=..,t=..,p=..$salt$hash</c>),
/// and imported Argon2id or bcrypt (<c>$2a$</c>, <c>$2b$</c>, <c>$2y$</c>) hashes verified as they are.
/// </summary>
public sealed class PasswordHasher
{
    private readonly Argon2Settings _settings;
    private readonly string _decoy;

    public PasswordHasher(IOptions<Argon2Settings> settings)
    {
        _settings = settings.Value;
        _decoy = Hash(Convert.ToBase64String(RandomNumberGenerator.GetBytes(16)));
    }

    public string Hash(string password)
    {
        var salt = RandomNumberGenerator.GetBytes(_settings.SaltLength);
        var hash = Argon2(password, salt, _settings.MemoryKib, _settings.Iterations, _settings.Parallelism, _settings.KeyLength);
        return string.Create(CultureInfo.InvariantCulture,
            $"$argon2id$v=19$m={_settings.MemoryKib},t={_settings.Iterations},p={_settings.Parallelism}${Unpadded(salt)}${Unpadded(hash)}");
    }

    public PasswordCheck Verify(string password, string phc)
    {
        if (phc.StartsWith("$argon2id$", StringComparison.Ordinal))
            return VerifyArgon2id(password, phc);
        if (phc.StartsWith("$2a$", StringComparison.Ordinal) || phc.StartsWith("$2b$", StringComparison.Ordinal) || phc.StartsWith("$2y$", StringComparison.Ordinal))
        {
            try
            {
                return new PasswordCheck(BCrypt.Net.BCrypt.Verify(password, phc), NeedsRehash: true);
            }
            catch (BCrypt.Net.SaltParseException)
            {
                return default;
            }
        }
        return default;
    }

    /// <summary>Spends the time of a verification without a hash, so an unknown identifier answers as slowly as a wrong password.</summary>
    public void VerifyDecoy(string password) => Verify(password, _decoy);

    /// <summary>True when <paramref name="phc"/> is a hash we can verify (for imports).</summary>
    public static bool IsSupported(string phc) =>
        phc.StartsWith("$argon2id$", StringComparison.Ordinal) ? TryParseArgon2id(phc, out _)
        : phc.Length == 60 && (phc.StartsWith("$2a$", StringComparison.Ordinal) || phc.StartsWith("$2b$", StringComparison.Ordinal) || phc.StartsWith("$2y$", StringComparison.Ordinal));

    private PasswordCheck VerifyArgon2id(string password, string phc)
    {
        if (!TryParseArgon2id(phc, out var p))
            return default;
        var actual = Argon2(password, p.Salt, p.Memory, p.Iterations, p.Parallelism, p.Hash.Length);
        var matches = CryptographicOperations.FixedTimeEquals(actual, p.Hash);
        var current = p.Memory == _settings.MemoryKib && p.Iterations == _settings.Iterations && p.Parallelism == _settings.Parallelism
            && p.Salt.Length == _settings.SaltLength && p.Hash.Length == _settings.KeyLength;
        return new PasswordCheck(matches, matches && !current);
    }

    private readonly record struct Argon2Parameters(int Memory, int Iterations, int Parallelism, byte[] Salt, byte[] Hash);

    private static bool TryParseArgon2id(string phc, out Argon2Parameters parameters)
    {
        parameters = default;
        // $argon2id$v=19$m=65536,t=1,p=2$salt$hash
        var parts = phc.Split('$');
        if (parts.Length != 6 || parts[2] != "v=19")
            return false;
        int m = 0, t = 0, p = 0;
        foreach (var pair in parts[3].Split(','))
        {
            var kv = pair.Split('=');
            if (kv.Length != 2 || !int.TryParse(kv[1], NumberStyles.None, CultureInfo.InvariantCulture, out var value))
                return false;
            switch (kv[0])
            {
                case "m": m = value; break;
                case "t": t = value; break;
                case "p": p = value; break;
                default: return false;
            }
        }
        // Bounds keep a hostile import from costing more than a generous login.
        if (m is < 8 or > 4 * 1024 * 1024 || t is < 1 or > 64 || p is < 1 or > 64)
            return false;
        if (!TryUnpadded(parts[4], out var salt) || !TryUnpadded(parts[5], out var hash) || salt.Length < 8 || hash.Length is < 16 or > 128)
            return false;
        parameters = new Argon2Parameters(m, t, p, salt, hash);
        return true;
    }

    private static byte[] Argon2(string password, byte[] salt, int memoryKib, int iterations, int parallelism, int length)
    {
        using var argon = new Argon2id(Encoding.UTF8.GetBytes(password))
        {
            Salt = salt,
            MemorySize = memoryKib,
            Iterations = iterations,
            DegreeOfParallelism = parallelism,
        };
        return argon.GetBytes(length);
    }

    private static string Unpadded(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=');

    private static bool TryUnpadded(string text, out byte[] bytes)
    {
        var padded = text.PadRight(text.Length + (4 - text.Length % 4) % 4, '=');
        bytes = new byte[padded.Length];
        if (!Convert.TryFromBase64String(padded, bytes, out var written))
            return false;
        bytes = bytes[..written];
        return true;
    }
}
