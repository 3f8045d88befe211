using System.Buffers;
using System.IO.Pipelines;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Threading.Channels;
using Holdfast.Protocol;

namespace Holdfast.Client;

/// <summary>
/// One MQTT connection, client side, on Holdfast.Protocol's codec. It does the transport (TCP or TLS), CONNECT/CONNACK,
/// keep-alive, and the byte-level send and receive; the caller owns every flow (acknowledgements, packet ids, resends),
/// so a tool can do exactly what it means to, including the wrong thing on purpose (not acknowledging).
/// Sends are queued and written by one loop that flushes when the queue drains: a burst goes out in one write.
/// Receives are for one reader at a time.
/// </summary>
public sealed class MqttClientConnection : IAsyncDisposable
{
    private readonly Socket _socket;
    private readonly Stream _stream;
    private readonly PipeReader _input;
    private readonly PipeWriter _output;
    private readonly Channel<MqttPacket> _outbound = Channel.CreateUnbounded<MqttPacket>(new UnboundedChannelOptions { SingleReader = true });
    private readonly Action<bool, MqttPacket>? _trace;
    private readonly CancellationTokenSource _closing = new();
    private Task _writeLoop = Task.CompletedTask;
    private Task _keepAliveLoop = Task.CompletedTask;
    private ReadOnlySequence<byte> _buffer;
    private bool _holdingBuffer;
    private bool _inputCompleted;
    private long _lastSentTicks = Environment.TickCount64;
    private long _lastReceivedTicks = Environment.TickCount64;
    // When the outstanding PINGREQ went out (0: none); anything received answers it.
    private long _pingSentTicks;

    private MqttClientConnection(Socket socket, Stream stream, ProtocolVersion version, ushort keepAlive, Action<bool, MqttPacket>? trace, int receiveBufferSize)
    {
        _socket = socket;
        _stream = stream;
        _input = PipeReader.Create(stream, new StreamPipeReaderOptions(bufferSize: receiveBufferSize, minimumReadSize: Math.Min(16 * 1024, receiveBufferSize / 4)));
        _output = PipeWriter.Create(stream, new StreamPipeWriterOptions(minimumBufferSize: 16 * 1024));
        Version = version;
        KeepAlive = keepAlive;
        _trace = trace;
    }

    public ProtocolVersion Version { get; }
    /// <summary>The keep-alive in force: the broker's Server Keep Alive if it set one (MQTT 5), else ours.</summary>
    public ushort KeepAlive { get; private set; }
    public ConnAckPacket ConnAck { get; private set; } = null!;
    /// <summary>The client id in force: ours, or the one the broker assigned.</summary>
    public string ClientId { get; private set; } = "";
    /// <summary>Why the write loop stopped, if it was not the connection ending (a packet that cannot be encoded).</summary>
    public Exception? WriteError { get; private set; }
    /// <summary>Cancelled when the connection ends, from either side.</summary>
    public CancellationToken Closed => _closing.Token;

    /// <summary>Connects, sends CONNECT and waits for CONNACK. Throws <see cref="MqttConnectException"/> when the broker
    /// refuses; IOException/SocketException when it cannot be reached or hangs up; AuthenticationException when TLS fails;
    /// TimeoutException; MqttProtocolException when its answer is malformed.</summary>
    public static async Task<MqttClientConnection> ConnectAsync(MqttClientOptions options, CancellationToken cancellationToken = default)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(options.ConnectTimeout);
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        MqttClientConnection? connection = null;
        try
        {
            await socket.ConnectAsync(options.Host, options.Port, timeout.Token);
            Stream stream = new NetworkStream(socket, ownsSocket: true);
            if (options.Tls is { } tls)
            {
                var ssl = new SslStream(stream, leaveInnerStreamOpen: false);
                await ssl.AuthenticateAsClientAsync(tls.ToAuthenticationOptions(options.Host), timeout.Token);
                stream = ssl;
            }
            connection = new MqttClientConnection(socket, stream, options.Version, options.KeepAlive, options.Trace, options.ReceiveBufferSize);
            connection._writeLoop = connection.WriteLoopAsync();
            connection.ClientId = options.ClientId;
            connection.Send(options.ToConnectPacket());
            var first = await connection.ReceiveAsync(timeout.Token);
            if (first is not ConnAckPacket connAck)
                throw new IOException(first is null ? "the broker closed the connection without a CONNACK" : $"the broker sent {first.Type} before CONNACK");
            connection.ConnAck = connAck;
            if (connAck.ReasonCode != ReasonCode.Success)
                throw new MqttConnectException(connAck.ReasonCode, $"connection refused: {Describe(connAck.ReasonCode)}"
                    + (connAck.Properties?.ReasonString is { } why ? $" ({why})" : ""));
            if (connAck.Properties?.AssignedClientIdentifier is { } assigned) connection.ClientId = assigned;
            if (connAck.Properties?.ServerKeepAlive is { } serverKeepAlive) connection.KeepAlive = serverKeepAlive;
            if (connection.KeepAlive > 0) connection._keepAliveLoop = connection.KeepAliveLoopAsync();
            return connection;
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            if (connection is not null) await connection.DisposeAsync(); else socket.Dispose();
            throw new TimeoutException($"no CONNACK from {options.Host}:{options.Port} within {options.ConnectTimeout.TotalSeconds:0.#} s");
        }
        catch
        {
            if (connection is not null) await connection.DisposeAsync(); else socket.Dispose();
            throw;
        }
    }

    /// <summary>Whether <paramref name="e"/> is one of the ways <see cref="ConnectAsync"/> reports a connection that did not come
    /// up (refused, unreachable, hung up, TLS failed, timed out, malformed answer), as opposed to a bug.</summary>
    public static bool IsConnectFailure(Exception e) =>
        e is MqttConnectException or IOException or SocketException or TimeoutException or AuthenticationException or MqttProtocolException;

    /// <summary>Queues a packet; it goes out with whatever else is queued, in order. Returns false once the connection has ended.</summary>
    public bool Send(MqttPacket packet) => _outbound.Writer.TryWrite(packet);

    /// <summary>The next packet from the broker (PINGRESP is taken care of here), or null when the connection has ended.
    /// Throws <see cref="MqttProtocolException"/> if the broker sends something malformed.</summary>
    public async ValueTask<MqttPacket?> ReceiveAsync(CancellationToken cancellationToken = default)
    {
        while (true)
        {
            if (_holdingBuffer)
            {
                if (PacketReader.TryRead(ref _buffer, Version, 0, out var packet))
                {
                    _lastReceivedTicks = Environment.TickCount64;
                    Volatile.Write(ref _pingSentTicks, 0);
                    _trace?.Invoke(false, packet!);
                    if (packet is PingRespPacket) continue;
                    return packet;
                }
                _input.AdvanceTo(_buffer.Start, _buffer.End);
                _holdingBuffer = false;
                if (_inputCompleted) { Close(); return null; }
            }
            try
            {
                var result = await _input.ReadAsync(cancellationToken);
                _buffer = result.Buffer;
                _holdingBuffer = true;
                _inputCompleted = result.IsCompleted;
            }
            catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException or InvalidOperationException)
            {
                Close();
                return null;
            }
        }
    }

    /// <summary>Sends DISCONNECT (after everything queued before it) and closes the connection gracefully: our side is shut
    /// first so every byte written still reaches the broker, and the socket closes once the broker has closed its side
    /// (a close with unread input, or with linger 0, would reset the connection and could lose the DISCONNECT itself).
    /// Someone must be reading (<see cref="ReceiveAsync"/>) to see the broker's close; without it this waits a second.</summary>
    public async Task DisconnectAsync(ReasonCode reasonCode = ReasonCode.NormalDisconnection, MqttProperties? properties = null)
    {
        if (Send(new DisconnectPacket { ReasonCode = reasonCode, Properties = properties }))
            _outbound.Writer.TryComplete();
        try { await _writeLoop.WaitAsync(TimeSpan.FromSeconds(5)); } catch (Exception) { /* closing anyway */ }
        try
        {
            _socket.Shutdown(SocketShutdown.Send);
            await Task.Delay(TimeSpan.FromSeconds(1), _closing.Token);
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException or OperationCanceledException) { }
        CloseGracefully();
    }

    /// <summary>Drops the connection without DISCONNECT, as a crash or a cut cable would (the broker publishes the will).</summary>
    public void Abort() => Close();

    /// <summary>Ends the connection at once with a reset: what is still unsent is dropped.</summary>
    private void Close() => End(linger: 0);

    private void CloseGracefully() => End(linger: null);

    private void End(int? linger)
    {
        _outbound.Writer.TryComplete();
        if (_closing.IsCancellationRequested) return;
        try { _closing.Cancel(); } catch (ObjectDisposedException) { }
        try { if (linger is { } seconds) _socket.Close(seconds); else _socket.Close(); } catch (ObjectDisposedException) { }
    }

    private async Task WriteLoopAsync()
    {
        var reader = _outbound.Reader;
        try
        {
            while (await reader.WaitToReadAsync())
            {
                while (reader.TryRead(out var packet))
                {
                    _trace?.Invoke(true, packet);
                    PacketWriter.Write(packet, Version, _output);
                }
                _lastSentTicks = Environment.TickCount64;
                var flush = await _output.FlushAsync();
                if (flush.IsCompleted) break;
            }
        }
        catch (Exception e)
        {
            // Not only I/O: a packet the codec cannot encode (a payload over 256 MB) or a failing trace callback must not
            // leave a connection that accepts sends and never writes them.
            if (e is not (IOException or SocketException or ObjectDisposedException or OperationCanceledException))
                WriteError = e;
            Close();
        }
    }

    /// <summary>PINGREQ when nothing has been sent or received for three quarters of the keep-alive (a client that only
    /// publishes QoS 0 hears nothing otherwise); and when a PINGREQ has gone a whole keep-alive without anything coming
    /// back, the broker is gone and the connection is closed, as MQTT says a client should.</summary>
    private async Task KeepAliveLoopAsync()
    {
        long keepAliveMs = KeepAlive * 1000L;
        using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(Math.Clamp(keepAliveMs / 4, 100, 5000)));
        try
        {
            while (await timer.WaitForNextTickAsync(_closing.Token))
            {
                long now = Environment.TickCount64;
                long pingSent = Volatile.Read(ref _pingSentTicks);
                if (pingSent != 0)
                {
                    if (now - pingSent > keepAliveMs) { Close(); return; }
                    continue;
                }
                if (now - _lastSentTicks >= keepAliveMs * 3 / 4 || now - _lastReceivedTicks >= keepAliveMs * 3 / 4)
                {
                    Volatile.Write(ref _pingSentTicks, now);
                    Send(PingReqPacket.Instance);
                }
            }
        }
        catch (OperationCanceledException) { }
    }

    /// <summary>The MQTT 5 name of a reason code, for messages a person reads.</summary>
    public static string Describe(ReasonCode code) => $"{code} (0x{(byte)code:x2})";

    public async ValueTask DisposeAsync()
    {
        Close();
        try { await Task.WhenAll(_writeLoop, _keepAliveLoop).WaitAsync(TimeSpan.FromSeconds(5)); } catch (Exception) { }
        await _stream.DisposeAsync();
        _closing.Dispose();
    }
}
