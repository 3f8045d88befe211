using System.Buffers;
using System.Net.Sockets;
using System.Threading.Channels;
using Holdfast.Protocol;

namespace Holdfast.Interop.Tests.Infrastructure;

/// <summary>
/// A bare MQTT client over TCP built on Holdfast.Protocol's codec, for what no real client library lets a test do:
/// stop between PUBREC and PUBREL, stay silent past keep-alive, exceed the broker's Receive Maximum. Every packet the
/// broker sends is recorded in order; <see cref="Closed"/> completes when the broker closes the connection.
/// </summary>
public sealed class RawMqttClient : IAsyncDisposable
{
    private readonly TcpClient _tcp;
    private readonly NetworkStream _stream;
    private readonly Channel<MqttPacket> _packets = Channel.CreateUnbounded<MqttPacket>();
    private readonly TaskCompletionSource _closed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _readLoop;
    private readonly List<MqttPacket> _all = [];

    private RawMqttClient(TcpClient tcp, ProtocolVersion version)
    {
        _tcp = tcp;
        _stream = tcp.GetStream();
        Version = version;
        _readLoop = Task.Run(ReadLoopAsync);
    }

    public ProtocolVersion Version { get; }

    /// <summary>Every packet received from the broker so far, in order.</summary>
    public IReadOnlyList<MqttPacket> AllReceived { get { lock (_all) return [.. _all]; } }

    /// <summary>Completes when the broker closes the connection (or it fails).</summary>
    public Task Closed => _closed.Task;

    /// <summary>Monotonic time of the last packet this client sent.</summary>
    public DateTime LastSentUtc { get; private set; }

    public static async Task<RawMqttClient> OpenAsync(int port, ProtocolVersion version)
    {
        var tcp = new TcpClient { NoDelay = true };
        await tcp.ConnectAsync("127.0.0.1", port).WaitAsync(Waits.Event);
        return new RawMqttClient(tcp, version);
    }

    /// <summary>Opens a connection and completes the CONNECT/CONNACK handshake; asserts the broker accepted it.</summary>
    public static async Task<(RawMqttClient Client, ConnAckPacket ConnAck)> ConnectAsync(int port, ConnectPacket connect)
    {
        var client = await OpenAsync(port, connect.ProtocolVersion);
        await client.SendAsync(connect);
        var connack = await client.ReceiveAsync<ConnAckPacket>();
        Assert.Equal(ReasonCode.Success, connack.ReasonCode);
        return (client, connack);
    }

    /// <summary>A CONNECT for this version: 3.1.1 CleanSession=!persistent; 5.0 CleanStart=!persistent with a session
    /// expiry of 300 s when persistent.</summary>
    public static ConnectPacket Connect(ProtocolVersion version, string clientId, bool persistent, ushort keepAlive = 60)
    {
        var connect = new ConnectPacket
        {
            ProtocolVersion = version,
            ClientId = clientId,
            CleanStart = !persistent,
            KeepAlive = keepAlive,
        };
        if (version == ProtocolVersion.V500 && persistent)
            connect.Properties = new MqttProperties { SessionExpiryInterval = 300 };
        return connect;
    }

    public async Task SendAsync(MqttPacket packet)
    {
        var bytes = PacketWriter.ToArray(packet, Version);
        await _stream.WriteAsync(bytes);
        await _stream.FlushAsync();
        LastSentUtc = DateTime.UtcNow;
    }

    /// <summary>Sends raw bytes (for packets the codec would refuse to write).</summary>
    public async Task SendBytesAsync(byte[] bytes)
    {
        await _stream.WriteAsync(bytes);
        LastSentUtc = DateTime.UtcNow;
    }

    /// <summary>The next packet from the broker; throws if none arrives in time or the connection closed first.</summary>
    public async Task<MqttPacket> ReceiveAsync(TimeSpan? timeout = null)
    {
        using var cts = new CancellationTokenSource(timeout ?? Waits.Event);
        try
        {
            return await _packets.Reader.ReadAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException($"no packet from the broker within {(timeout ?? Waits.Event).TotalSeconds} s");
        }
        catch (ChannelClosedException)
        {
            throw new InvalidOperationException("the broker closed the connection before sending the expected packet");
        }
    }

    public async Task<T> ReceiveAsync<T>(TimeSpan? timeout = null) where T : MqttPacket
    {
        var packet = await ReceiveAsync(timeout);
        return Assert.IsType<T>(packet);
    }

    /// <summary>The next packet, or null if the connection closed with no further packet.</summary>
    public async Task<MqttPacket?> ReceiveOrCloseAsync(TimeSpan? timeout = null)
    {
        using var cts = new CancellationTokenSource(timeout ?? Waits.Event);
        try
        {
            if (await _packets.Reader.WaitToReadAsync(cts.Token) && _packets.Reader.TryRead(out var packet)) return packet;
            return null;
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException($"neither a packet nor a close within {(timeout ?? Waits.Event).TotalSeconds} s");
        }
    }

    /// <summary>Asserts no packet arrives within <paramref name="window"/> (the connection may stay open).</summary>
    public async Task AssertNothingReceivedAsync(TimeSpan? window = null)
    {
        using var cts = new CancellationTokenSource(window ?? Waits.Quiet);
        try
        {
            if (await _packets.Reader.WaitToReadAsync(cts.Token) && _packets.Reader.TryPeek(out var packet))
                Assert.Fail($"expected nothing from the broker, received {Describe(packet)}");
        }
        catch (OperationCanceledException) { }
    }

    /// <summary>Subscribes and checks the granted QoS.</summary>
    public async Task SubscribeAsync(ushort packetId, string filter, QualityOfService qos)
    {
        await SendAsync(new SubscribePacket
        {
            PacketId = packetId,
            Subscriptions = [new TopicSubscription { TopicFilter = filter, MaximumQoS = qos }],
        });
        var suback = await ReceiveAsync<SubAckPacket>();
        Assert.Equal(packetId, suback.PacketId);
        Assert.Equal((ReasonCode)(byte)qos, Assert.Single(suback.ReasonCodes));
    }

    /// <summary>Half-closes (FIN after everything sent), then closes the socket: an abrupt end without DISCONNECT.</summary>
    public void Drop()
    {
        try { _tcp.Client.Shutdown(SocketShutdown.Send); } catch (SocketException) { } catch (ObjectDisposedException) { }
    }

    public static string Describe(MqttPacket packet) => packet switch
    {
        PublishPacket p => $"PUBLISH(m{p.PacketId}, q{(int)p.QoS}, d{(p.Dup ? 1 : 0)}, '{p.Topic}', {System.Text.Encoding.UTF8.GetString(p.Payload.Span)})",
        PublishResponsePacket r => $"{r.Type}(m{r.PacketId}, rc0x{(byte)r.ReasonCode:X2})",
        DisconnectPacket d => $"DISCONNECT(rc0x{(byte)d.ReasonCode:X2})",
        _ => packet.Type.ToString(),
    };

    private async Task ReadLoopAsync()
    {
        var buffer = new byte[64 * 1024];
        int filled = 0;
        try
        {
            while (!_stop.IsCancellationRequested)
            {
                if (filled == buffer.Length) Array.Resize(ref buffer, buffer.Length * 2);
                int n = await _stream.ReadAsync(buffer.AsMemory(filled), _stop.Token);
                if (n == 0) break;
                filled += n;
                var sequence = new ReadOnlySequence<byte>(buffer, 0, filled);
                while (PacketReader.TryRead(ref sequence, Version, 0, out var packet))
                {
                    lock (_all) _all.Add(packet!);
                    _packets.Writer.TryWrite(packet!);
                }
                int consumed = filled - (int)sequence.Length;
                if (consumed > 0)
                {
                    Buffer.BlockCopy(buffer, consumed, buffer, 0, filled - consumed);
                    filled -= consumed;
                }
            }
        }
        catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException or OperationCanceledException)
        {
        }
        finally
        {
            _packets.Writer.TryComplete();
            _closed.TrySetResult();
        }
    }

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        _tcp.Dispose();
        try { await _readLoop.WaitAsync(TimeSpan.FromSeconds(5)); } catch (Exception) { }
    }
}
