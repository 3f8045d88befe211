using System.Text;

namespace Holdfast.Protocol;

/// <summary>
/// The topic names one connection published lately, so that a client publishing to the same topics again and again
/// (the usual telemetry stream) gets the same string back instead of a new one per message. Only names that were
/// decoded and validated go in; a name found here needs neither again. Direct-mapped and small: a client cycling
/// through many topics just misses, and pays what it would without the cache.
/// </summary>
public sealed class TopicNameCache
{
    /// <summary>Slots, and the longest name kept (in UTF-8 bytes): bounds what a connection holds to a few KiB.</summary>
    public const int Slots = 8;
    public const int MaxNameBytes = 128;

    private readonly string?[] _names = new string?[Slots];

    /// <summary>The cached name whose UTF-8 encoding is exactly <paramref name="utf8"/>, if any.</summary>
    public bool TryGet(ReadOnlySpan<byte> utf8, out string name)
    {
        name = "";
        if (utf8.Length == 0 || utf8.Length > MaxNameBytes) return false;
        var cached = _names[SlotOf(utf8)];
        if (cached is null || !Matches(cached, utf8)) return false;
        name = cached;
        return true;
    }

    /// <summary>Remembers a decoded and validated name (replacing whatever shared its slot).</summary>
    public void Add(ReadOnlySpan<byte> utf8, string name)
    {
        if (utf8.Length == 0 || utf8.Length > MaxNameBytes) return;
        _names[SlotOf(utf8)] = name;
    }

    private static int SlotOf(ReadOnlySpan<byte> utf8)
    {
        var hash = new HashCode();
        hash.AddBytes(utf8);
        return (int)((uint)hash.ToHashCode() % Slots);
    }

    private static bool Matches(string name, ReadOnlySpan<byte> utf8)
    {
        // A UTF-8 encoding has at least as many bytes as the string has UTF-16 chars.
        if (name.Length > utf8.Length) return false;
        Span<byte> encoded = stackalloc byte[MaxNameBytes];
        return Encoding.UTF8.TryGetBytes(name, encoded, out int length) && encoded[..length].SequenceEqual(utf8);
    }
}
