using System.Buffers;
using System.IO.Pipelines;
using Holdfast.Broker;
using Holdfast.Broker.Storage;
using Holdfast.Protocol;
using Microsoft.AspNetCore.Connections;

namespace Holdfast.Server.Connections;

/// <summary>
/// One client connection: reads packets from the transport pipe and hands them to the broker; writes what
/// the broker queues. The broker decides; this class only moves bytes, enforces keep-alive and turns
/// protocol errors into the spec's DISCONNECT (MQTT 5) or a plain close (3.1.1).
/// </summary>
internal sealed class MqttConnection : IClientConnection, IReadDeadline
{
    /// <summary>How long a new connection may take to send CONNECT.</summary>
    internal static readonly TimeSpan ConnectTimeout = TimeSpan.FromSeconds(10);

    /// <summary>The largest first packet (CONNECT) accepted, so an unauthenticated peer cannot make us buffer 256 MB.</summary>
    private const int MaxConnectPacketSize = 1024 * 1024;

    /// <summary>PUBLISHes read while an earlier one is held back, before reading stops altogether.</summary>
    private const int MaxHeldPublishes = 64;

    /// <summary>How long the write loop may take to drain after the read side ended, before the socket is aborted.</summary>
    private static readonly TimeSpan DrainTimeout = TimeSpan.FromSeconds(5);

    /// <summary>How long, after sending a DISCONNECT, the connection keeps reading (and discarding) what the client
    /// still sends before the socket closes; it closes at once when the client closes first. See <see cref="LingerAsync"/>.</summary>
    private static readonly TimeSpan LingerTimeout = TimeSpan.FromSeconds(1);

    private readonly ClientTransport _transport;
    private readonly MqttBroker _broker;
    private readonly ListenerPolicy _policy;
    private readonly IBrokerLog _log;
    private readonly PipeReader _input;
    private readonly PipeWriter _output;
    private readonly OutboundQueue _outbound = new();
    private readonly ReadDeadlines _readDeadlines;
    /// <summary>See <see cref="IReadDeadline.ReadDeadline"/>; set by the read loop, ended by <see cref="ReadDeadlines"/>.</summary>
    private long _readDeadline = long.MaxValue;
    private int _readDeadlinePassed;
    private readonly CancellationTokenSource _closed = new();
    private ProtocolVersion _version = ProtocolVersion.V311;
    /// <summary>Lets PUBLISHes and acknowledgements the broker did not keep be read into the same packet objects, with
    /// cached topic strings.</summary>
    private readonly PacketReaderCache _readerCache = new();
    private ConnectedClient? _client;
    private long _pendingBytes;
    private int _closing;
    private ReasonCode? _closeReason;
    private string? _closeReasonString;
    // Back-pressure (MQTT 3.1.1, queue_full_policy block): while a PUBLISH waits for queue room, later PUBLISHes wait
    // behind it in order, but acknowledgements, PINGREQ and DISCONNECT are still read and handled, so a client can
    // never block itself (or its peers) by not being able to deliver its own PUBACKs.
    private readonly Queue<PublishPacket> _heldPublishes = new();
    private bool _publishHeld;
    private Task _heldDrain = Task.CompletedTask;
    /// <summary>The last thing sent was a DISCONNECT or a refusing CONNACK: linger before closing (see <see cref="LingerAsync"/>).</summary>
    private bool _lingerBeforeClose;

    public MqttConnection(ClientTransport transport, MqttBroker broker, ListenerPolicy policy, ReadDeadlines readDeadlines, IBrokerLog log)
    {
        _readDeadlines = readDeadlines;
        _transport = transport;
        _broker = broker;
        _policy = policy;
        _log = log;
        _input = transport.Pipe.Input;
        _output = transport.Pipe.Output;
        RemoteAddress = transport.RemoteAddress;
    }

    public string RemoteAddress { get; }
    public long PendingBytes => Interlocked.Read(ref _pendingBytes);
    // The CONNACK (and a resumed session's resends) are queued inside HandleConnect, before _client is set, and the
    // write loop may trace them at once: name the client by the id it asked for until then, as Mosquitto does.
    private string? _connectingClientId;
    private string ClientName => _client?.ClientId ?? _connectingClientId ?? RemoteAddress;

    public void Send(OutboundPacket packet, long durableAt = 0)
    {
        // Counted before it is queued, so the write loop never subtracts it first; taken back if the connection is closing.
        long weight = PendingWeight(packet);
        if (weight > 0) Interlocked.Add(ref _pendingBytes, weight);
        if (!_outbound.TryAdd(new Outbound(packet, durableAt)) && weight > 0) Interlocked.Add(ref _pendingBytes, -weight);
    }

    /// <summary>What a queued packet counts in <see cref="PendingBytes"/>: a PUBLISH's payload and topic.</summary>
    private static int PendingWeight(in OutboundPacket packet) =>
        packet.Message is { } m ? m.Payload.Length + m.Topic.Length
        : packet.Packet is PublishPacket p ? p.Payload.Length + p.Topic.Length
        : 0;

    public void Close(ReasonCode? reason, string? reasonString = null)
    {
        if (Interlocked.Exchange(ref _closing, 1) == 1) return;
        _closeReason = reason;
        _closeReasonString = reasonString;
        // Everything queued before the close still goes out, then the DISCONNECT, then the socket closes.
        _outbound.Complete();
        // Ends a back-pressure wait too. Off the caller's thread: the broker calls Close under its lock.
        ThreadPool.QueueUserWorkItem(static cts => { try { cts.Cancel(); } catch (ObjectDisposedException) { } }, _closed, preferLocal: false);
    }

    public async Task RunAsync()
    {
        _broker.Metrics.SocketOpened();
        if (_broker.Options.ConnectionMessages && _log.IsEnabled(LogType.Notice))
            _log.Notice($"New connection from {RemoteAddress} on port {_transport.LocalPort}.");
        var writer = WriteLoopAsync();
        string lostReason = "closed its connection";
        _readDeadlines.Add(this);
        try
        {
            lostReason = await ReadLoopAsync();
        }
        catch (Exception e) when (e is IOException or ConnectionResetException or ObjectDisposedException)
        {
            lostReason = "closed its connection";
        }
        catch (Exception e)
        {
            _log.Error($"Connection {ClientName}: unexpected error: {e}");
            lostReason = "dropped after an internal error";
        }
        finally
        {
            _readDeadlines.Remove(this);
            _closed.Cancel();
            if (_client is not null) _broker.ConnectionLost(_client, lostReason);
            Close(null);
        }
        // A peer that stopped reading must not keep the connection (and its socket) forever.
        if (await Task.WhenAny(writer, Task.Delay(DrainTimeout)) != writer)
        {
            _output.CancelPendingFlush();
            _transport.Abort();
        }
        await writer;
        if (_lingerBeforeClose)
        {
            await LingerAsync();
            await _output.CompleteAsync();
        }
    }

    /// <summary>
    /// After a DISCONNECT (or a CONNACK refusing the connection) the broker sent, reads and discards whatever the client still sends until the client
    /// closes or <see cref="LingerTimeout"/> passes; only then does the socket close. Closing at once would make TCP
    /// answer the client's packets already in flight (a PUBREL, the next PUBLISH of a stream) with a reset: the
    /// client's next write then fails before it has read the DISCONNECT, and some stacks drop received data on a
    /// reset, so the Reason Code never reaches it. Nothing read here is processed [MQTT-3.14.4-1], [MQTT-3.14.4-2].
    /// </summary>
    private async Task LingerAsync()
    {
        using var deadline = new CancellationTokenSource(LingerTimeout);
        try
        {
            while (true)
            {
                var result = await _input.ReadAsync(deadline.Token);
                _input.AdvanceTo(result.Buffer.End);
                if (result.IsCompleted) return;
                // IsCanceled without IsCompleted is the write loop's wake-up (CancelPendingRead): keep draining.
            }
        }
        catch (Exception e) when (e is OperationCanceledException or IOException or ConnectionResetException
                                       or ObjectDisposedException or InvalidOperationException)
        {
            // Linger time over, or the transport is gone: close now.
        }
    }

    /// <summary>Returns the reason the connection ended, for the broker's log line.</summary>
    private async Task<string> ReadLoopAsync()
    {
        ArmReadDeadline();
        int configuredMax = _broker.EffectiveMaxPacketSize;
        while (true)
        {
            int maxPacketSize = _client is not null ? configuredMax
                : configuredMax > 0 ? Math.Min(configuredMax, MaxConnectPacketSize) : MaxConnectPacketSize;
            var result = await _input.ReadAsync();
            if (result.IsCanceled && Volatile.Read(ref _readDeadlinePassed) == 1)
            {
                if (_client is null) { _log.Notice($"Client {RemoteAddress} did not send CONNECT in time, closing."); return "timed out before CONNECT"; }
                _broker.KeepAliveExpired(_client);
                return "has exceeded timeout";
            }
            var buffer = result.Buffer;
            long available = buffer.Length;
            int packets = 0;
            try
            {
                while (_closing == 0 && PacketReader.TryRead(ref buffer, _version, maxPacketSize, out var packet, _readerCache))
                {
                    packets++;
                    if (!await DispatchAsync(packet!)) break;
                }
            }
            catch (MqttProtocolException e)
            {
                OnProtocolError(e);
            }
            _input.AdvanceTo(buffer.Start, buffer.End);
            // Counted once per read, not per packet: the counters are shared by every connection.
            _broker.Metrics.Received(packets, available - buffer.Length);
            if (_closing == 1) return "disconnected";
            if (result.IsCompleted || result.IsCanceled) return "closed its connection";
            // Before CONNECT the deadline is not extended: trickling bytes must not keep a connection open.
            if (_client is not null) ArmReadDeadline();
        }
    }

    /// <summary>Restarts the wait for the next bytes: CONNECT within <see cref="ConnectTimeout"/>, then anything within
    /// 1.5 × the keep-alive in force [MQTT-3.1.2-22]; no limit with keep-alive 0.</summary>
    private void ArmReadDeadline() => Volatile.Write(ref _readDeadline,
        _client is null ? Environment.TickCount64 + (long)ConnectTimeout.TotalMilliseconds
        : _client.KeepAlive > 0 ? Environment.TickCount64 + _client.KeepAlive * 1500L
        : long.MaxValue);

    long IReadDeadline.ReadDeadline => Volatile.Read(ref _readDeadline);

    void IReadDeadline.ReadDeadlinePassed(long deadline)
    {
        // Only the deadline that was seen: a read that arrived meanwhile has set a new one.
        if (Interlocked.CompareExchange(ref _readDeadline, long.MaxValue, deadline) != deadline) return;
        Volatile.Write(ref _readDeadlinePassed, 1);
        _input.CancelPendingRead();
    }

    private void OnProtocolError(MqttProtocolException e)
    {
        _log.Notice($"Client {ClientName} sent a bad packet: {e.Message}; disconnecting (0x{(byte)e.ReasonCode:X2}).");
        if (_client is not null)
        {
            _broker.Disconnect(_client, e.ReasonCode, e.Message);
            return;
        }
        // Before CONNECT completed: an unsupported protocol level gets a CONNACK saying so [MQTT-3.1.2-2]; anything else is just closed.
        if (e.ReasonCode == ReasonCode.UnsupportedProtocolVersion)
            Send(new ConnAckPacket { ReasonCode = ReasonCode.UnsupportedProtocolVersion });
        Close(null);
    }

    /// <summary>Hands one packet to the broker. False stops reading (the connection is closing).</summary>
    private async ValueTask<bool> DispatchAsync(MqttPacket packet)
    {
        if (_log.IsEnabled(LogType.Debug))
            foreach (var line in PacketTrace.Received(packet, ClientName)) _log.Write(LogType.Debug, line);
        if (_client is null)
        {
            if (packet is not ConnectPacket connect)
            {
                // The first packet must be CONNECT [MQTT-3.1.0-1].
                _log.Notice($"Client {RemoteAddress} sent {packet.Type} before CONNECT, closing.");
                Close(null);
                return false;
            }
            _version = connect.ProtocolVersion;
            if (connect.ClientId.Length > 0) _connectingClientId = connect.ClientId;
            if (_transport.UseIdentityAsUsername && !UseCertificateIdentity(connect)) return false;
            _client = _broker.HandleConnect(this, connect, _policy);
            if (_client is null) return false;
            ArmReadDeadline();
            return true;
        }

        var client = _client;
        switch (packet)
        {
            case PublishPacket publish:
                bool stopReading;
                lock (_heldPublishes)
                {
                    if (_publishHeld)
                    {
                        _heldPublishes.Enqueue(publish);
                        stopReading = _heldPublishes.Count >= MaxHeldPublishes;
                    }
                    else
                    {
                        var handled = _broker.HandlePublish(client, publish, _closed.Token);
                        if (!handled.IsCompletedSuccessfully)
                        {
                            _publishHeld = true;
                            _heldDrain = DrainHeldPublishesAsync(client, handled);
                        }
                        // Handled at once: the broker kept the topic, payload and properties, not the packet.
                        else _readerCache.Return(publish);
                        stopReading = false;
                    }
                }
                if (stopReading)
                {
                    // Enough is waiting: stop reading until the held messages are accepted. The client's silence is
                    // our doing now, so keep-alive is suspended meanwhile.
                    Volatile.Write(ref _readDeadline, long.MaxValue);
                    await _heldDrain;
                }
                break;
            // The broker keeps nothing of an acknowledgement: the reader may read the next one into it.
            case PubAckPacket a: _broker.HandlePubAck(client, a); _readerCache.Return(a); break;
            case PubRecPacket a: _broker.HandlePubRec(client, a); _readerCache.Return(a); break;
            case PubRelPacket a: _broker.HandlePubRel(client, a); _readerCache.Return(a); break;
            case PubCompPacket a: _broker.HandlePubComp(client, a); _readerCache.Return(a); break;
            case SubscribePacket s: _broker.HandleSubscribe(client, s); break;
            case UnsubscribePacket u: _broker.HandleUnsubscribe(client, u); break;
            case PingReqPacket: _broker.HandlePingReq(client); break;
            case DisconnectPacket d: _broker.HandleDisconnect(client, d); return false;
            case AuthPacket a: _broker.HandleAuth(client, a); break;
            default:
                // CONNECT twice, or a packet only a server sends [MQTT-3.1.0-2].
                _broker.Disconnect(client, ReasonCode.ProtocolError, $"unexpected {packet.Type} from a client");
                return false;
        }
        return _closing == 0;
    }

    /// <summary>use_identity_as_username: the verified certificate's CN replaces the user name and the password is not
    /// used, as in Mosquitto. A certificate without a CN gets CONNACK 0x86 Bad user name or password (3.1.1: code 4), as
    /// Mosquitto answers it.</summary>
    private bool UseCertificateIdentity(ConnectPacket connect)
    {
        if (_transport.CertificateCommonName is { } name)
        {
            connect.UserName = name;
            connect.Password = null;
            return true;
        }
        _log.Notice($"Client connection from {RemoteAddress} refused: its certificate has no CN to use as user name (use_identity_as_username).");
        Send(new ConnAckPacket { ReasonCode = ReasonCode.BadUserNameOrPassword });
        Close(null);
        return false;
    }

    /// <summary>Waits for the held PUBLISH, then hands the ones read meanwhile to the broker in order (each may be held again).</summary>
    private async Task DrainHeldPublishesAsync(ConnectedClient client, ValueTask held)
    {
        try
        {
            await held;
            while (true)
            {
                PublishPacket next;
                lock (_heldPublishes)
                {
                    if (!_heldPublishes.TryDequeue(out next!))
                    {
                        _publishHeld = false;
                        return;
                    }
                }
                await _broker.HandlePublish(client, next, _closed.Token);
            }
        }
        catch (OperationCanceledException)
        {
            // The connection ended while held: the messages were never acknowledged, so the publisher still owns them.
        }
        catch (Exception e)
        {
            _log.Error($"Connection {ClientName}: held PUBLISH failed: {e}");
            Close(ReasonCode.UnspecifiedError);
        }
    }

    /// <summary>Encodes queued packets straight into the transport and flushes once the queue is drained: one
    /// write for a burst of packets, not one per packet. A packet that must wait for the durable store (an
    /// acknowledgement, an outbound QoS 1/2 flow) holds itself and everything behind it until its batch is on disk:
    /// order is kept, and many packets share the wait for one group commit.</summary>
    private async Task WriteLoopAsync()
    {
        bool refused = false;
        int packets = 0;
        long bytes = 0;
        try
        {
            try
            {
                while (await _outbound.WaitToReadAsync())
                {
                    while (_outbound.TryTakeAll(out var batch))
                    {
                        for (int i = 0; i < batch.Count; i++)
                        {
                            var item = batch.Items[i];
                            if (item.DurableAt > 0 && !_broker.IsDurable(item.DurableAt))
                            {
                                // Let the client have what is already written while the store catches up.
                                if ((await _output.FlushAsync()).IsCompleted) return;
                                // Checked again after each wake-up: the packet leaves only once its own sequence is durable.
                                do await _broker.WhenDurable(item.DurableAt);
                                while (!_broker.IsDurable(item.DurableAt));
                            }
                            var packet = item.Packet;
                            if (_log.IsEnabled(LogType.Debug)) _log.Write(LogType.Debug, PacketTrace.Sending(packet.ToPacket(_version), ClientName));
                            bytes += PacketWriter.Write(packet, _version, _output);
                            packets++;
                            if (PendingWeight(packet) is > 0 and var weight) Interlocked.Add(ref _pendingBytes, -weight);
                            refused = packet.Packet is ConnAckPacket c && (byte)c.ReasonCode >= 0x80;
                        }
                        _outbound.Recycle(batch);
                    }
                    // Counted once per batch, not per packet: the counters are shared by every connection.
                    _broker.Metrics.Sent(packets, bytes);
                    packets = 0;
                    bytes = 0;
                    var flush = await _output.FlushAsync();
                    if (flush.IsCompleted) return;
                    _lingerBeforeClose = refused;
                }
            }
            catch (StoreWriteException e)
            {
                // The store could not keep what this packet vouches for: it and everything behind it are discarded, never
                // sent (an acknowledgement would be a lie). The client is disconnected; on its next connection it resends
                // what it still holds, while the store retries the write.
                if (_log.IsEnabled(LogType.Warning)) _log.Warning($"Client {ClientName}: disconnecting, {e.Message}.");
                if (_client is { } client) _broker.StoreWriteFailed(client);
                else Close(null);
                while (await _outbound.WaitToReadAsync()) while (_outbound.TryTakeAll(out var discarded)) _outbound.Recycle(discarded);
            }
            if (_closeReason is { } reason && _version == ProtocolVersion.V500 && _client is not null)
            {
                var disconnect = new DisconnectPacket
                {
                    ReasonCode = reason,
                    Properties = _closeReasonString is null ? null : new MqttProperties { ReasonString = _closeReasonString },
                };
                // The reason string is optional: leave it out rather than exceed the client's Maximum Packet Size [MQTT-3.14.2-3].
                if (_client.MaximumPacketSize > 0 && PacketWriter.GetSize(disconnect, _version) > _client.MaximumPacketSize)
                    disconnect.Properties = null;
                if (_log.IsEnabled(LogType.Debug)) _log.Write(LogType.Debug, PacketTrace.Sending(disconnect, ClientName));
                _broker.Metrics.Sent(1, PacketWriter.Write(disconnect, _version, _output));
                var flushed = await _output.FlushAsync();
                _lingerBeforeClose = !flushed.IsCompleted && !flushed.IsCanceled;
            }
        }
        catch (Exception e) when (e is IOException or ConnectionResetException or ObjectDisposedException or InvalidOperationException)
        {
            // The peer went away; the read loop reports it.
        }
        finally
        {
            // After a DISCONNECT or a refusal the socket stays open for the linger; RunAsync closes it.
            if (!_lingerBeforeClose) await _output.CompleteAsync();
            // Wake the read loop so the connection ends even if the peer keeps the socket open.
            _input.CancelPendingRead();
        }
    }
}
