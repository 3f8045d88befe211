using System.Security.Cryptography;
using System.Text;

namespace Holdfast.Server.Security;

/// <summary>A password as Mosquitto 2 hashes it: PBKDF2-HMAC-SHA512 with a 12-byte salt and an iteration count (101 for
/// new passwords, Mosquitto's default). The password file writes it as <c>$7$ITERATIONS$SALT$HASH</c>, dynamic security
/// in its JSON file; both in base64.</summary>
internal sealed class PasswordHash
{
    public const int SaltLength = 12;
    public const int HashLength = 64;
    public const int DefaultIterations = 101;

    public PasswordHash(byte[] hash, byte[] salt, int iterations)
    {
        Hash = hash;
        Salt = salt;
        Iterations = iterations;
    }

    public byte[] Hash { get; }
    public byte[] Salt { get; }
    public int Iterations { get; }

    /// <summary>A new password: a fresh salt, so that the same password set twice is stored differently.</summary>
    public static PasswordHash Create(string password)
    {
        var salt = RandomNumberGenerator.GetBytes(SaltLength);
        return new PasswordHash(Derive(Encoding.UTF8.GetBytes(password), salt, DefaultIterations), salt, DefaultIterations);
    }

    public bool Verify(ReadOnlySpan<byte> password) =>
        CryptographicOperations.FixedTimeEquals(Derive(password, Salt, Iterations, Hash.Length), Hash);

    private static byte[] Derive(ReadOnlySpan<byte> password, byte[] salt, int iterations, int length = HashLength) =>
        Rfc2898DeriveBytes.Pbkdf2(password, salt, iterations, HashAlgorithmName.SHA512, length);
}
