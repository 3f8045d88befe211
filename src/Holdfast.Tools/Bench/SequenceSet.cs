namespace Holdfast.Tools.Bench;

/// <summary>The sequence numbers one subscriber has received from one publisher, as a growing bitmap, so that loss and
/// duplicates are counted exactly whatever the order of arrival (a few hundred KiB for millions of messages).</summary>
internal sealed class SequenceSet
{
    private ulong[] _bits = new ulong[1024];

    /// <summary>False when <paramref name="sequence"/> was already there (a duplicate).</summary>
    public bool Add(long sequence)
    {
        long word = sequence >> 6;
        if (word >= _bits.Length)
        {
            long size = _bits.Length;
            while (size <= word) size *= 2;
            Array.Resize(ref _bits, (int)size);
        }
        ulong mask = 1UL << (int)(sequence & 63);
        if ((_bits[word] & mask) != 0) return false;
        _bits[word] |= mask;
        return true;
    }

    public bool Contains(long sequence)
    {
        long word = sequence >> 6;
        return word < _bits.Length && (_bits[word] & (1UL << (int)(sequence & 63))) != 0;
    }
}
