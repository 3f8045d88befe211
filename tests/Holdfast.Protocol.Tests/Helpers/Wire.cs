using System.Buffers;
using System.Text;

namespace Holdfast.Protocol.Tests.Helpers;

/// <summary>Builds raw MQTT bytes by hand (independently of <see cref="PacketWriter"/>) and slices them into
/// multi-segment <see cref="ReadOnlySequence{T}"/>s the way a socket would deliver them.</summary>
public static class Wire
{
    public static byte[] Vbi(uint value)
    {
        var bytes = new List<byte>();
        do
        {
            byte b = (byte)(value & 0x7F);
            value >>= 7;
            if (value > 0) b |= 0x80;
            bytes.Add(b);
        } while (value > 0);
        return [.. bytes];
    }

    public static byte[] U16(int value) => [(byte)(value >> 8), (byte)value];

    public static byte[] U32(uint value) => [(byte)(value >> 24), (byte)(value >> 16), (byte)(value >> 8), (byte)value];

    /// <summary>An MQTT UTF-8 string: two-byte length, then the bytes.</summary>
    public static byte[] Str(string value) => LenPrefixed(Encoding.UTF8.GetBytes(value));

    /// <summary>Two-byte length, then <paramref name="raw"/> (for strings with deliberately invalid UTF-8).</summary>
    public static byte[] LenPrefixed(params byte[] raw) => [.. U16(raw.Length), .. raw];

    /// <summary>A property block: Variable Byte Integer length, then the given property bytes.</summary>
    public static byte[] Props(params byte[] content) => [.. Vbi((uint)content.Length), .. content];

    public static byte[] Cat(params byte[][] parts) => parts.SelectMany(p => p).ToArray();

    /// <summary>A whole packet: first byte, remaining length, body.</summary>
    public static byte[] Packet(byte first, params byte[][] bodyParts)
    {
        var body = Cat(bodyParts);
        return [first, .. Vbi((uint)body.Length), .. body];
    }

    /// <summary>Length of the fixed header (first byte plus remaining-length bytes) of an encoded packet.</summary>
    public static int FixedHeaderLength(ReadOnlySpan<byte> packet)
    {
        int i = 1;
        while ((packet[i] & 0x80) != 0) i++;
        return i + 1;
    }

    public static byte[] Body(byte[] packet) => packet[FixedHeaderLength(packet)..];

    /// <summary>Re-wraps a body with a correct remaining length.</summary>
    public static byte[] Rewrap(byte first, ReadOnlySpan<byte> body) => Packet(first, body.ToArray());

    public static string Hex(ReadOnlySpan<byte> bytes) => Convert.ToHexString(bytes);

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(ReadOnlyMemory<byte> memory, long runningIndex)
        {
            Memory = memory;
            RunningIndex = runningIndex;
        }

        public Segment Append(ReadOnlyMemory<byte> memory)
        {
            var next = new Segment(memory, RunningIndex + Memory.Length);
            Next = next;
            return next;
        }
    }

    /// <summary>A sequence over <paramref name="data"/> cut at the given (sorted, possibly repeated, in-range) offsets.
    /// Repeated offsets create empty segments, which a pipe can also produce.</summary>
    public static ReadOnlySequence<byte> Segmented(byte[] data, IEnumerable<int> cuts)
    {
        var points = cuts.Where(c => c >= 0 && c <= data.Length).Order().ToList();
        int start = 0;
        Segment? first = null, last = null;
        foreach (int cut in points.Append(data.Length))
        {
            // Each segment gets its own array so that no code can accidentally read past its end.
            var memory = data.AsSpan(start, cut - start).ToArray();
            if (first is null) first = last = new Segment(memory, 0);
            else last = last!.Append(memory);
            start = cut;
        }
        return new ReadOnlySequence<byte>(first!, 0, last!, last!.Memory.Length);
    }

    /// <summary>Every byte in its own segment.</summary>
    public static ReadOnlySequence<byte> ByteByByte(byte[] data) => Segmented(data, Enumerable.Range(1, Math.Max(0, data.Length - 1)));
}
