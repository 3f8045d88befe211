using System.Buffers.Binary;
using System.Text;

namespace Holdfast.Protocol;

/// <summary>Writes MQTT data types into a span sized beforehand by <see cref="WireSize"/>.</summary>
internal ref struct MqttSpanWriter(Span<byte> span)
{
    private readonly Span<byte> _span = span;
    private int _position;

    public readonly int Position => _position;

    public void WriteByte(byte value) => _span[_position++] = value;

    public void WriteUInt16(ushort value)
    {
        BinaryPrimitives.WriteUInt16BigEndian(_span[_position..], value);
        _position += 2;
    }

    public void WriteUInt32(uint value)
    {
        BinaryPrimitives.WriteUInt32BigEndian(_span[_position..], value);
        _position += 4;
    }

    public void WriteVariableByteInteger(uint value)
    {
        do
        {
            byte b = (byte)(value & 0x7F);
            value >>= 7;
            if (value > 0) b |= 0x80;
            _span[_position++] = b;
        } while (value > 0);
    }

    public void WriteString(string value)
    {
        int length = Encoding.UTF8.GetBytes(value, _span[(_position + 2)..]);
        BinaryPrimitives.WriteUInt16BigEndian(_span[_position..], (ushort)length);
        _position += 2 + length;
    }

    public void WriteBinary(ReadOnlySpan<byte> value)
    {
        WriteUInt16((ushort)value.Length);
        WriteBytes(value);
    }

    public void WriteBytes(ReadOnlySpan<byte> value)
    {
        value.CopyTo(_span[_position..]);
        _position += value.Length;
    }
}

/// <summary>Encoded sizes of MQTT data types.</summary>
internal static class WireSize
{
    public static int VariableByteInteger(uint value) => value < 128 ? 1 : value < 16_384 ? 2 : value < 2_097_152 ? 3 : 4;

    /// <summary>Strings and binary data carry a two-byte length: at most 65,535 bytes (MQTT 5.0 §1.5.4, §1.5.6).
    /// A longer one cannot be encoded; writing a truncated length would corrupt the stream.</summary>
    public static int String(string value) => 2 + CheckLength(Encoding.UTF8.GetByteCount(value));

    public static int Binary(ReadOnlySpan<byte> value) => 2 + CheckLength(value.Length);

    private static int CheckLength(int length) => length <= ushort.MaxValue
        ? length
        : throw new ArgumentException($"{length} bytes do not fit an MQTT string or binary field (at most 65,535)");
}
