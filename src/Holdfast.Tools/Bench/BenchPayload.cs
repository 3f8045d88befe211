using System.Buffers.Binary;

namespace Holdfast.Tools.Bench;

/// <summary>
/// What a benchmark message carries, in its first 20 bytes (little-endian), padded with zeros to the payload size:
/// the publisher's sequence number (from 0), the publisher's index in the run, and the send time in Stopwatch ticks.
/// Publishers and subscribers share one process, so the clock is the same on both ends and latency needs no sync.
/// </summary>
internal readonly record struct BenchPayload(long Sequence, int Publisher, long SentTicks)
{
    public const int MinimumSize = 20;

    public byte[] Encode(int size)
    {
        var bytes = new byte[Math.Max(size, MinimumSize)];
        BinaryPrimitives.WriteInt64LittleEndian(bytes, Sequence);
        BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(8), Publisher);
        BinaryPrimitives.WriteInt64LittleEndian(bytes.AsSpan(12), SentTicks);
        return bytes;
    }

    /// <summary>False for a payload too short to be one of ours.</summary>
    public static bool TryDecode(ReadOnlySpan<byte> bytes, out BenchPayload payload)
    {
        if (bytes.Length < MinimumSize) { payload = default; return false; }
        payload = new BenchPayload(BinaryPrimitives.ReadInt64LittleEndian(bytes), BinaryPrimitives.ReadInt32LittleEndian(bytes[8..]),
            BinaryPrimitives.ReadInt64LittleEndian(bytes[12..]));
        return true;
    }
}
