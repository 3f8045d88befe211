using System.Buffers.Binary;
using System.Text;

namespace Holdfast.Storage.RocksDb;

/// <summary>
/// The key layout: one prefix byte per kind of record, then the client id (or topic) in UTF-8. Per-session records
/// add a 0x00 separator (MQTT strings never contain U+0000) and a big-endian number, so a session's queue scans in
/// queue order and its records sit together.
/// <code>
/// s{client}              session: version, expiry, subscriptions, offline since, identity, epoch, owner
/// q{client}\0{seq:8}     a queued delivery under the session's queue sequence (refers to a message body by id)
/// i{client}\0{packetId:2} an inflight flow: original send order, state, delivery
/// r{client}\0{packetId:2} an inbound QoS 2 packet id awaiting PUBREL
/// w{client}              a delayed will
/// m{id:8}                a message body under its message id, stored once however many records refer to it
/// t{topic}               a retained message (refers to a message body by id)
/// </code>
/// </summary>
internal static class StoreKeys
{
    public const byte Session = (byte)'s';
    public const byte Queued = (byte)'q';
    public const byte Inflight = (byte)'i';
    public const byte InboundQoS2 = (byte)'r';
    public const byte Will = (byte)'w';
    public const byte Body = (byte)'m';
    public const byte Retained = (byte)'t';

    public static byte[] ForName(byte prefix, string name)
    {
        var key = new byte[1 + Encoding.UTF8.GetByteCount(name)];
        key[0] = prefix;
        Encoding.UTF8.GetBytes(name, key.AsSpan(1));
        return key;
    }

    public static byte[] ForBody(long messageId)
    {
        var key = new byte[9];
        key[0] = Body;
        BinaryPrimitives.WriteInt64BigEndian(key.AsSpan(1), messageId);
        return key;
    }

    public static byte[] ForQueued(string clientId, long sequence)
    {
        var key = ForClient(Queued, clientId, 8, out int at);
        BinaryPrimitives.WriteInt64BigEndian(key.AsSpan(at), sequence);
        return key;
    }

    public static byte[] ForPacketId(byte prefix, string clientId, ushort packetId)
    {
        var key = ForClient(prefix, clientId, 2, out int at);
        BinaryPrimitives.WriteUInt16BigEndian(key.AsSpan(at), packetId);
        return key;
    }

    private static byte[] ForClient(byte prefix, string clientId, int suffix, out int suffixAt)
    {
        int n = Encoding.UTF8.GetByteCount(clientId);
        var key = new byte[1 + n + 1 + suffix];
        key[0] = prefix;
        Encoding.UTF8.GetBytes(clientId, key.AsSpan(1));
        suffixAt = 2 + n;
        return key;
    }

    /// <summary>The name after the prefix byte (a client id or topic) of a key without a suffix.</summary>
    public static string Name(byte[] key) => Encoding.UTF8.GetString(key.AsSpan(1));

    public static long MessageId(byte[] key) => BinaryPrimitives.ReadInt64BigEndian(key.AsSpan(1));

    /// <summary>Splits a per-session key into its client id and the number after the separator.</summary>
    public static (string ClientId, long Number) ClientAndNumber(byte[] key)
    {
        int separator = Array.IndexOf(key, (byte)0, 1);
        if (separator < 0) throw new FormatException("key has no client id separator");
        var suffix = key.AsSpan(separator + 1);
        long number = suffix.Length switch
        {
            8 => BinaryPrimitives.ReadInt64BigEndian(suffix),
            2 => BinaryPrimitives.ReadUInt16BigEndian(suffix),
            _ => throw new FormatException($"key suffix of {suffix.Length} bytes"),
        };
        return (Encoding.UTF8.GetString(key.AsSpan(1, separator - 1)), number);
    }
}
