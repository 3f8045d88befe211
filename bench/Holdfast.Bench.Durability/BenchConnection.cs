using System.Buffers;
using System.IO.Pipelines;
using System.Net.Sockets;
using Holdfast.Protocol;

namespace Holdfast.Bench;

/// <summary>A minimal pipelined MQTT 5 client on Holdfast.Protocol's codec: packets are written into a pipe and flushed
/// by the caller (one write for a burst), and read by <see cref="ReadAsync"/>. Enough for a load generator.</summary>
internal sealed class BenchConnection : IAsyncDisposable
{
    private readonly TcpClient _tcp;
    private readonly PipeReader _input;
    private readonly PipeWriter _output;

    private BenchConnection(TcpClient tcp)
    {
        _tcp = tcp;
        var stream = tcp.GetStream();
        _input = PipeReader.Create(stream);
        _output = PipeWriter.Create(stream);
    }

    public static async Task<BenchConnection> ConnectAsync(int port, string clientId, uint sessionExpiry)
    {
        var tcp = new TcpClient { NoDelay = true };
        await tcp.ConnectAsync("127.0.0.1", port);
        var connection = new BenchConnection(tcp);
        connection.Write(new ConnectPacket
        {
            ProtocolVersion = ProtocolVersion.V500,
            ClientId = clientId,
            CleanStart = true,
            KeepAlive = 60,
            Properties = sessionExpiry > 0 ? new MqttProperties { SessionExpiryInterval = sessionExpiry } : null,
        });
        await connection.FlushAsync();
        await connection.ReadAsync(p =>
        {
            if (p is not ConnAckPacket { ReasonCode: ReasonCode.Success }) throw new InvalidOperationException($"connect refused: {p}");
            return false;
        });
        return connection;
    }

    public void Write(MqttPacket packet) => PacketWriter.Write(packet, ProtocolVersion.V500, _output);

    public ValueTask<FlushResult> FlushAsync() => _output.FlushAsync();

    /// <summary>Reads packets and hands each to <paramref name="onPacket"/> until it returns false or the connection ends.
    /// With <paramref name="flushAfterBurst"/>, what the callback wrote (acknowledgements) is flushed after each burst read.</summary>
    public async Task ReadAsync(Func<MqttPacket, bool> onPacket, bool flushAfterBurst = false)
    {
        while (true)
        {
            var result = await _input.ReadAsync();
            var buffer = result.Buffer;
            bool more = true;
            while (more && PacketReader.TryRead(ref buffer, ProtocolVersion.V500, 0, out var packet)) more = onPacket(packet!);
            _input.AdvanceTo(buffer.Start, buffer.End);
            if (flushAfterBurst) await _output.FlushAsync();
            if (!more || result.IsCompleted) return;
        }
    }

    /// <summary>Closes the socket (no DISCONNECT: a read loop may still be writing acknowledgements).</summary>
    public ValueTask DisposeAsync()
    {
        _tcp.Dispose();
        return ValueTask.CompletedTask;
    }
}
