using System.Net.Sockets;
using System.Text;

namespace Holdfast.Interop.Tests.Infrastructure;

/// <summary>One packet as read off the wire: the fixed header's first byte and the body.</summary>
internal sealed record RawPacket(byte First, byte[] Body)
{
    public int Type => First >> 4;

    public override string ToString() => $"type {Type} flags {First & 0x0F:X} body [{Convert.ToHexString(Body)}]";
}

/// <summary>
/// A deliberately dumb MQTT peer over a plain socket: it sends exactly the bytes a test gives it, so malformed
/// packets reach the broker as written, and it reports exactly what came back and whether the socket closed.
/// </summary>
internal sealed class RawByteClient : IAsyncDisposable
{
    private static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(15);
    private readonly TcpClient _tcp;
    private readonly NetworkStream _stream;
    private readonly List<byte> _pending = [];

    private RawByteClient(TcpClient tcp)
    {
        _tcp = tcp;
        _stream = tcp.GetStream();
    }

    public static async Task<RawByteClient> ConnectAsync(int port)
    {
        var tcp = new TcpClient { NoDelay = true };
        await tcp.ConnectAsync("127.0.0.1", port);
        return new RawByteClient(tcp);
    }

    public async Task SendAsync(params byte[] bytes)
    {
        await _stream.WriteAsync(bytes);
        await _stream.FlushAsync();
    }

    /// <summary>Sends a CONNECT and returns the CONNACK, failing the test if the broker does not accept.</summary>
    public async Task<RawPacket> ConnectMqttAsync(int level, string clientId, bool cleanStart = true, ushort keepAlive = 60, uint? sessionExpiry = null)
    {
        await SendAsync(Connect(level, clientId, cleanStart, keepAlive, sessionExpiry));
        var connack = await ReadPacketAsync() ?? throw new InvalidOperationException("closed instead of CONNACK");
        Assert.Equal(2, connack.Type);
        Assert.True(connack.Body[1] == 0, $"CONNACK refused: {connack}");
        return connack;
    }

    /// <summary>The next packet, or null if the broker closed the connection first. Throws on timeout.</summary>
    public async Task<RawPacket?> ReadPacketAsync(TimeSpan? timeout = null)
    {
        using var cts = new CancellationTokenSource(timeout ?? DefaultTimeout);
        while (true)
        {
            if (TryTakePacket(out var packet)) return packet;
            var buffer = new byte[4096];
            int n;
            try
            {
                n = await _stream.ReadAsync(buffer, cts.Token);
            }
            catch (OperationCanceledException)
            {
                throw new TimeoutException($"no packet and no close within the timeout; {_pending.Count} bytes pending [{Convert.ToHexString(_pending.ToArray())}]");
            }
            catch (IOException)
            {
                n = 0; // reset by the broker: closed
            }
            if (n == 0)
            {
                Assert.True(_pending.Count == 0, $"connection closed in the middle of a packet: [{Convert.ToHexString(_pending.ToArray())}]");
                return null;
            }
            _pending.AddRange(buffer.AsSpan(0, n));
        }
    }

    /// <summary>Every packet the broker sends until it closes the connection (fails the test if it never does).</summary>
    public async Task<List<RawPacket>> ReadUntilClosedAsync(TimeSpan? timeout = null)
    {
        var packets = new List<RawPacket>();
        while (await ReadPacketAsync(timeout) is { } packet) packets.Add(packet);
        return packets;
    }

    private bool TryTakePacket(out RawPacket? packet)
    {
        packet = null;
        if (_pending.Count < 2) return false;
        int length = 0, i = 1;
        for (int shift = 0; ; shift += 7, i++)
        {
            if (i >= _pending.Count) return false;
            if (i > 4) throw new InvalidDataException("broker sent a remaining length over four bytes");
            length |= (_pending[i] & 0x7F) << shift;
            if ((_pending[i] & 0x80) == 0) break;
        }
        int total = i + 1 + length;
        if (_pending.Count < total) return false;
        packet = new RawPacket(_pending[0], _pending.GetRange(i + 1, length).ToArray());
        _pending.RemoveRange(0, total);
        return true;
    }

    public async ValueTask DisposeAsync()
    {
        await _stream.DisposeAsync();
        _tcp.Dispose();
    }

    // ---- packet builders (raw bytes, so tests can break any rule on purpose) ----

    public static byte[] Str(string s) => Bytes(Encoding.UTF8.GetBytes(s));

    /// <summary>A length-prefixed field with arbitrary (possibly invalid UTF-8) content.</summary>
    public static byte[] Bytes(byte[] content) => [(byte)(content.Length >> 8), (byte)content.Length, .. content];

    public static byte[] Packet(byte first, params byte[][] parts)
    {
        var body = parts.SelectMany(p => p).ToArray();
        var header = new List<byte> { first };
        int length = body.Length;
        do
        {
            byte b = (byte)(length % 128);
            length /= 128;
            if (length > 0) b |= 0x80;
            header.Add(b);
        } while (length > 0);
        return [.. header, .. body];
    }

    /// <summary>CONNECT with protocol name "MQTT" (or <paramref name="protocolName"/>) and the given level; v5
    /// layout (with a properties block) when <paramref name="v5Layout"/>, else 3.1.1 layout.</summary>
    public static byte[] Connect(int level, string clientId, bool cleanStart = true, ushort keepAlive = 60, uint? sessionExpiry = null,
        string protocolName = "MQTT", bool? v5Layout = null)
    {
        bool v5 = v5Layout ?? level == 5;
        byte[] properties = !v5 ? [] : sessionExpiry is { } e
            ? [5, 0x11, (byte)(e >> 24), (byte)(e >> 16), (byte)(e >> 8), (byte)e]
            : [0];
        return Packet(0x10, Str(protocolName), [(byte)level, (byte)(cleanStart ? 0x02 : 0x00), (byte)(keepAlive >> 8), (byte)keepAlive],
            properties, Str(clientId));
    }

    /// <summary>PUBLISH with a raw topic field; <paramref name="v5"/> adds an empty properties block.</summary>
    public static byte[] Publish(byte[] topicField, string payload, bool v5, int qos = 0, ushort packetId = 1)
    {
        byte[] id = qos > 0 ? [(byte)(packetId >> 8), (byte)packetId] : [];
        return Packet((byte)(0x30 | (qos << 1)), topicField, id, v5 ? [0] : [], Encoding.UTF8.GetBytes(payload));
    }
}
