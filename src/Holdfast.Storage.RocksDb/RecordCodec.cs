using System.Buffers;
using System.Buffers.Binary;
using System.Text;

namespace Holdfast.Storage.RocksDb;

/// <summary>Appends big-endian fields to a reusable buffer; <see cref="ToArray"/> takes the record and starts the next.
/// Used by one thread at a time (each change set has its own).</summary>
internal sealed class RecordWriter
{
    private readonly ArrayBufferWriter<byte> _buffer = new(256);

    public RecordWriter Byte(byte value) { _buffer.GetSpan(1)[0] = value; _buffer.Advance(1); return this; }

    public RecordWriter Bool(bool value) => Byte(value ? (byte)1 : (byte)0);

    public RecordWriter UInt16(ushort value) { BinaryPrimitives.WriteUInt16BigEndian(_buffer.GetSpan(2), value); _buffer.Advance(2); return this; }

    public RecordWriter UInt32(uint value) { BinaryPrimitives.WriteUInt32BigEndian(_buffer.GetSpan(4), value); _buffer.Advance(4); return this; }

    public RecordWriter Int64(long value) { BinaryPrimitives.WriteInt64BigEndian(_buffer.GetSpan(8), value); _buffer.Advance(8); return this; }

    /// <summary>Length-prefixed bytes (32-bit length).</summary>
    public RecordWriter Bytes(ReadOnlySpan<byte> value)
    {
        UInt32((uint)value.Length);
        return Raw(value);
    }

    /// <summary>Bytes with no length: only as the last field.</summary>
    public RecordWriter Raw(ReadOnlySpan<byte> value) { _buffer.Write(value); return this; }

    public RecordWriter String(string value)
    {
        int max = Encoding.UTF8.GetMaxByteCount(value.Length);
        var span = _buffer.GetSpan(4 + max);
        int n = Encoding.UTF8.GetBytes(value, span[4..]);
        BinaryPrimitives.WriteUInt32BigEndian(span, (uint)n);
        _buffer.Advance(4 + n);
        return this;
    }

    public RecordWriter NullableString(string? value) => value is null ? Bool(false) : Bool(true).String(value);

    public byte[] ToArray()
    {
        var bytes = _buffer.WrittenSpan.ToArray();
        _buffer.ResetWrittenCount();
        return bytes;
    }
}

/// <summary>Reads what <see cref="RecordWriter"/> wrote; a truncated or malformed record throws <see cref="FormatException"/>.</summary>
internal ref struct RecordReader(ReadOnlySpan<byte> data)
{
    private readonly ReadOnlySpan<byte> _data = data;
    private int _position;

    public readonly int Position => _position;

    /// <summary>Whether every byte has been read: a record written by an older version ends before the fields added since.</summary>
    public readonly bool AtEnd => _position == _data.Length;

    private ReadOnlySpan<byte> Take(int count)
    {
        if (count < 0 || _position + count > _data.Length) throw new FormatException("record truncated");
        var slice = _data.Slice(_position, count);
        _position += count;
        return slice;
    }

    public byte Byte() => Take(1)[0];

    public bool Bool() => Byte() switch
    {
        0 => false,
        1 => true,
        var b => throw new FormatException($"invalid flag {b}"),
    };

    public ushort UInt16() => BinaryPrimitives.ReadUInt16BigEndian(Take(2));

    public uint UInt32() => BinaryPrimitives.ReadUInt32BigEndian(Take(4));

    public long Int64() => BinaryPrimitives.ReadInt64BigEndian(Take(8));

    public ReadOnlySpan<byte> Bytes() => Take(checked((int)UInt32()));

    public ReadOnlySpan<byte> Rest() => Take(_data.Length - _position);

    public string String() => Encoding.UTF8.GetString(Bytes());

    public string? NullableString() => Bool() ? String() : null;

    public readonly void End()
    {
        if (_position != _data.Length) throw new FormatException($"{_data.Length - _position} unexpected byte(s) at the end of a record");
    }
}
