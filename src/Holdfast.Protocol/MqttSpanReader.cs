using System.Buffers.Binary;
using System.Text;
using System.Text.Unicode;

namespace Holdfast.Protocol;

/// <summary>Reads MQTT data types (MQTT 5.0 §1.5) from one packet's bytes. Running out of bytes or
/// breaking a data-type rule is a Malformed Packet.</summary>
internal ref struct MqttSpanReader(ReadOnlySpan<byte> data)
{
    private readonly ReadOnlySpan<byte> _data = data;
    private int _position;

    public readonly int Remaining => _data.Length - _position;
    public readonly bool End => _position >= _data.Length;

    public byte ReadByte()
    {
        if (_position >= _data.Length) throw MqttProtocolException.Malformed("packet ends early");
        return _data[_position++];
    }

    public ushort ReadUInt16() => BinaryPrimitives.ReadUInt16BigEndian(ReadBytes(2));

    public uint ReadUInt32() => BinaryPrimitives.ReadUInt32BigEndian(ReadBytes(4));

    public ReadOnlySpan<byte> ReadBytes(int count)
    {
        if (count < 0 || count > Remaining) throw MqttProtocolException.Malformed("packet ends early");
        var span = _data.Slice(_position, count);
        _position += count;
        return span;
    }

    public ReadOnlySpan<byte> ReadToEnd() => ReadBytes(Remaining);

    /// <summary>Variable Byte Integer: at most four bytes, no more than needed is not enforced by the spec for reading.</summary>
    public uint ReadVariableByteInteger()
    {
        uint value = 0;
        for (int shift = 0; shift < 28; shift += 7)
        {
            byte b = ReadByte();
            value |= (uint)(b & 0x7F) << shift;
            if ((b & 0x80) == 0) return value;
        }
        throw MqttProtocolException.Malformed("variable byte integer longer than four bytes");
    }

    public string ReadString()
    {
        var bytes = ReadBytes(ReadUInt16());
        return DecodeUtf8(bytes);
    }

    public byte[] ReadBinary() => ReadBytes(ReadUInt16()).ToArray();

    /// <summary>MQTT strings are well-formed UTF-8 (which excludes encoded surrogates and overlong forms) with no U+0000 [MQTT-1.5.4-1, -2].</summary>
    public static string DecodeUtf8(ReadOnlySpan<byte> bytes)
    {
        if (!Utf8.IsValid(bytes)) throw MqttProtocolException.Malformed("string is not well-formed UTF-8");
        if (bytes.IndexOf((byte)0) >= 0) throw MqttProtocolException.Malformed("string contains U+0000");
        return Encoding.UTF8.GetString(bytes);
    }
}
