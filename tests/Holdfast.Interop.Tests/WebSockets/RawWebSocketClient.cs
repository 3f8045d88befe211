using System.Buffers;
using System.Net.WebSockets;
using Holdfast.Interop.Tests.Infrastructure;
using Holdfast.Protocol;

namespace Holdfast.Interop.Tests.WebSockets;

/// <summary>.NET's ClientWebSocket with the frames under the test's control (where a packet is split, what shares a
/// frame), and the broker's packets decoded from whatever frames they arrive in.</summary>
internal sealed class RawWebSocketClient : IAsyncDisposable
{
    private readonly byte[] _receiveBuffer = new byte[64 * 1024];
    private byte[] _pending = [];

    private RawWebSocketClient(ClientWebSocket socket) => Socket = socket;

    public ClientWebSocket Socket { get; }

    public static async Task<RawWebSocketClient> OpenAsync(int port, params string[] subProtocols)
    {
        var socket = new ClientWebSocket();
        foreach (var p in subProtocols) socket.Options.AddSubProtocol(p);
        using var timeout = new CancellationTokenSource(Waits.Event);
        await socket.ConnectAsync(new Uri($"ws://127.0.0.1:{port}/mqtt"), timeout.Token);
        return new RawWebSocketClient(socket);
    }

    public static byte[] Encode(params MqttPacket[] packets)
    {
        var writer = new ArrayBufferWriter<byte>();
        foreach (var packet in packets) PacketWriter.Write(packet, ProtocolVersion.V311, writer);
        return writer.WrittenSpan.ToArray();
    }

    public Task SendFrameAsync(ReadOnlyMemory<byte> bytes, bool endOfMessage = true, WebSocketMessageType type = WebSocketMessageType.Binary) =>
        Socket.SendAsync(bytes, type, endOfMessage, CancellationToken.None).AsTask();

    /// <summary>The next packet from the broker, or null when it closed the WebSocket.</summary>
    public async Task<MqttPacket?> ReceiveAsync()
    {
        using var timeout = new CancellationTokenSource(Waits.Event);
        while (true)
        {
            var sequence = new ReadOnlySequence<byte>(_pending);
            if (PacketReader.TryRead(ref sequence, ProtocolVersion.V311, 1 << 20, out var packet))
            {
                _pending = sequence.ToArray();
                return packet;
            }
            var result = await Socket.ReceiveAsync(_receiveBuffer, timeout.Token);
            if (result.MessageType == WebSocketMessageType.Close) return null;
            Assert.Equal(WebSocketMessageType.Binary, result.MessageType);
            _pending = [.. _pending, .. _receiveBuffer.AsSpan(0, result.Count)];
        }
    }

    /// <summary>One whole WebSocket message, however many frames it came in (null once the broker closes).</summary>
    public async Task<byte[]?> ReceiveMessageAsync()
    {
        Assert.Empty(_pending);
        using var timeout = new CancellationTokenSource(Waits.Event);
        var message = new List<byte>();
        while (true)
        {
            var result = await Socket.ReceiveAsync(_receiveBuffer, timeout.Token);
            if (result.MessageType == WebSocketMessageType.Close) return null;
            message.AddRange(_receiveBuffer.AsSpan(0, result.Count));
            if (result.EndOfMessage) return [.. message];
        }
    }

    public async ValueTask DisposeAsync()
    {
        Socket.Abort();
        Socket.Dispose();
        await Task.CompletedTask;
    }
}
