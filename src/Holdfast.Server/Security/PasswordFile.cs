using System.Security.Cryptography;
using System.Text;
using Holdfast.Server.Configuration;

namespace Holdfast.Server.Security;

/// <summary>
/// Mosquitto's password file: one <c>username:hash</c> line per user. The hash is <c>$7$ITERATIONS$SALT$HASH</c>
/// (PBKDF2-HMAC-SHA512, base64 salt and 64-byte hash; what mosquitto_passwd writes since 2.0) or the older
/// <c>$6$SALT$HASH</c> (SHA-512 of the password then the salt). Files written by mosquitto_passwd load unchanged, and
/// <see cref="Hash"/> writes lines Mosquitto reads.
/// </summary>
public sealed class PasswordFile
{
    // The lines in file order (edits keep it), and the same by user name: CONNECT and a reload's re-check of every
    // connected client look users up, which must not cost a scan of the file each.
    private readonly List<(string User, string Hash)> _entries;
    private readonly Dictionary<string, string> _hashes;

    private PasswordFile(List<(string User, string Hash)> entries)
    {
        _entries = entries;
        _hashes = entries.ToDictionary(e => e.User, e => e.Hash, StringComparer.Ordinal);
    }

    public IEnumerable<string> Users => _entries.Select(e => e.User);

    public static PasswordFile Empty() => new([]);

    /// <summary>Reads a password file; a bad line throws <see cref="ConfigException"/> naming the file, the line and why.</summary>
    public static PasswordFile Load(string path)
    {
        string[] lines;
        try { lines = File.ReadAllLines(path); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ConfigException(path, 0, $"cannot read {path}: {e.Message}");
        }
        var entries = new List<(string, string)>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        for (int i = 0; i < lines.Length; i++)
        {
            string line = lines[i].TrimEnd('\r');
            if (line.Length == 0 || line.StartsWith('#')) continue;
            int colon = line.IndexOf(':');
            if (colon <= 0) throw new ConfigException(path, i + 1, "expected 'username:hash'");
            string user = line[..colon], hash = line[(colon + 1)..];
            if (!IsKnownHash(hash))
                throw new ConfigException(path, i + 1, $"the password of '{user}' is not a $7$ or $6$ hash (use holdfast passwd or mosquitto_passwd to write it)");
            if (!seen.Add(user)) throw new ConfigException(path, i + 1, $"user '{user}' appears twice");
            entries.Add((user, hash));
        }
        return new PasswordFile(entries);
    }

    /// <summary>Whether <paramref name="user"/> exists and <paramref name="password"/> is theirs (constant-time compare).</summary>
    public bool Verify(string user, ReadOnlySpan<byte> password) =>
        _hashes.TryGetValue(user, out var hash) && Matches(hash, password);

    /// <summary>The user's line as stored (salt and hash); null when the user is not in the file. Equal lines accept the
    /// same passwords.</summary>
    public string? HashOf(string user) => _hashes.GetValueOrDefault(user);

    /// <summary>Adds the user, or replaces their password; the file keeps its order.</summary>
    public void Set(string user, string password)
    {
        if (user.Length == 0 || user.Contains(':')) throw new ArgumentException("a username cannot be empty or contain ':'");
        string hash = Hash(password);
        int index = _entries.FindIndex(e => e.User == user);
        if (index >= 0) _entries[index] = (user, hash); else _entries.Add((user, hash));
        _hashes[user] = hash;
    }

    public bool Remove(string user)
    {
        _hashes.Remove(user);
        return _entries.RemoveAll(e => e.User == user) > 0;
    }

    public void Save(string path) => File.WriteAllText(path, string.Concat(_entries.Select(e => $"{e.User}:{e.Hash}\n")));

    /// <summary>mosquitto_passwd -U: every <c>user:password</c> line in plain text becomes <c>user:$7$...</c>; hashed lines,
    /// blank lines and comments stay as they are. Returns how many lines were hashed.</summary>
    public static int HashPlainText(string path)
    {
        string[] lines = File.ReadAllLines(path);
        int hashed = 0;
        for (int i = 0; i < lines.Length; i++)
        {
            string line = lines[i].TrimEnd('\r');
            int colon = line.IndexOf(':');
            if (line.Length == 0 || line.StartsWith('#') || colon <= 0 || IsKnownHash(line[(colon + 1)..])) continue;
            lines[i] = $"{line[..colon]}:{Hash(line[(colon + 1)..])}";
            hashed++;
        }
        File.WriteAllText(path, string.Concat(lines.Select(l => l + "\n")));
        return hashed;
    }

    /// <summary>A new <c>$7$</c> hash with a fresh random salt.</summary>
    public static string Hash(string password)
    {
        var hash = PasswordHash.Create(password);
        return $"$7${hash.Iterations}${Convert.ToBase64String(hash.Salt)}${Convert.ToBase64String(hash.Hash)}";
    }

    private static bool IsKnownHash(string hash)
    {
        string[] parts = hash.Split('$');
        return parts switch
        {
            ["", "7", var iterations, var salt, var digest] => int.TryParse(iterations, out int n) && n > 0 && IsBase64(salt) && IsBase64(digest),
            ["", "6", var salt, var digest] => IsBase64(salt) && IsBase64(digest),
            _ => false,
        };
    }

    private static bool Matches(string hash, ReadOnlySpan<byte> password)
    {
        string[] parts = hash.Split('$');
        if (parts[1] == "7")
            return new PasswordHash(Convert.FromBase64String(parts[4]), Convert.FromBase64String(parts[3]), int.Parse(parts[2])).Verify(password);
        byte[] expected = Convert.FromBase64String(parts[3]);
        byte[] salt = Convert.FromBase64String(parts[2]);
        return CryptographicOperations.FixedTimeEquals(expected, SHA512.HashData([.. password, .. salt]));
    }

    private static bool IsBase64(string text)
    {
        Span<byte> buffer = stackalloc byte[text.Length];
        return text.Length > 0 && Convert.TryFromBase64String(text, buffer, out _);
    }
}
