using System.Buffers;

namespace Holdfast.Protocol;

/// <summary>What the first bytes of a connection say, before a whole CONNECT has arrived.</summary>
public enum ConnectPeekResult { Incomplete, Connect, NotConnect }

/// <summary>
/// Reads only as far as a CONNECT's protocol level (fixed header, remaining length, protocol name, level), without
/// parsing or buffering the rest: enough to answer a client the broker will not serve in its own protocol version.
/// </summary>
public static class ConnectPeek
{
    public static ConnectPeekResult ProtocolLevel(ReadOnlySequence<byte> buffer, out ProtocolVersion version)
    {
        version = default;
        var reader = new SequenceReader<byte>(buffer);
        if (!reader.TryRead(out byte type)) return ConnectPeekResult.Incomplete;
        if (type != 0x10) return ConnectPeekResult.NotConnect;
        for (int i = 0; ; i++)
        {
            if (!reader.TryRead(out byte b)) return ConnectPeekResult.Incomplete;
            if ((b & 0x80) == 0) break;
            if (i == 3) return ConnectPeekResult.NotConnect;
        }
        if (!reader.TryReadBigEndian(out short nameLength)) return ConnectPeekResult.Incomplete;
        if (nameLength is not (4 or 6)) return ConnectPeekResult.NotConnect;
        if (reader.Remaining < nameLength) return ConnectPeekResult.Incomplete;
        reader.Advance(nameLength);
        if (!reader.TryRead(out byte level)) return ConnectPeekResult.Incomplete;
        version = (ProtocolVersion)level;
        return level is 3 or 4 or 5 ? ConnectPeekResult.Connect : ConnectPeekResult.NotConnect;
    }
}
