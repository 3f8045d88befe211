using System.IO.Pipelines;
using Holdfast.Broker;
using Holdfast.Protocol;
using Microsoft.AspNetCore.Connections;

namespace Holdfast.Server.Connections;

/// <summary>
/// One client connection: reads packets from the transport and hands them to the broker, which decides everything MQTT
/// says about them. The writing half is <see cref="OutputProducer"/>, the read deadline <see cref="TimeoutControl"/>;
/// this class runs the two loops and ends the connection.
/// </summary>
internal sealed class MqttConnection : IClientConnection
{
    /// <summary>The largest first packet (CONNECT) accepted, so an unauthenticated peer cannot make us buffer 256 MB.</summary>
    private const int MaxConnectPacketSize = 1024 * 1024;

    /// <summary>How long the write loop may take to drain after the read side ended, before the socket is aborted.</summary>
    private static readonly TimeSpan DrainTimeout = TimeSpan.FromSeconds(5);

    /// <summary>How long, after the broker's goodbye (a DISCONNECT or refusing CONNACK), the connection keeps reading (and
    /// discarding) what the client still sends before the socket closes; it closes at once when the client closes first.
    /// See <see cref="LingerAsync"/>.</summary>
    private static readonly TimeSpan LingerTimeout = TimeSpan.FromSeconds(1);

    /// <summary>How long a CONNECT taking over a client id waits for the old connection to handle what it had received
    /// (<see cref="ReadSettling"/>). Only an old connection busy or held back takes that long.</summary>
    private static readonly TimeSpan SettleTimeout = TimeSpan.FromSeconds(1);

    private readonly ClientTransport _transport;
    private readonly MqttBroker _broker;
    private readonly ListenerPolicy _policy;
    private readonly IBrokerLog _log;
    private readonly PipeReader _input;
    private readonly OutputProducer _output;
    private readonly TimeoutControl _timeout;
    private readonly ReadDeadlines _readDeadlines;
    /// <summary>Lets PUBLISHes and acknowledgements the broker did not keep be read into the same packet objects, with
    /// cached topic strings.</summary>
    private readonly PacketReaderCache _readerCache = new();
    private readonly ReadSettling _settling = new();
    private ProtocolVersion _version = ProtocolVersion.V311;
    private ConnectedClient? _client;
    // The CONNACK (and a resumed session's resends) are queued inside HandleConnect, before _client is set, and the
    // write loop may trace them at once: name the client by the id it asked for until then, as Mosquitto does.
    private string? _connectingClientId;

    public MqttConnection(ClientTransport transport, MqttBroker broker, ListenerPolicy policy, ReadDeadlines readDeadlines, IBrokerLog log)
    {
        _transport = transport;
        _broker = broker;
        _policy = policy;
        _log = log;
        _readDeadlines = readDeadlines;
        _input = transport.Pipe.Input;
        _output = new OutputProducer(transport.Pipe.Output, broker, log, () => ClientName)
        {
            StoreWriteFailed = () => { if (_client is { } client) _broker.StoreWriteFailed(client); else Close(); },
        };
        _timeout = new TimeoutControl(broker.Clock, _input.CancelPendingRead);
        RemoteAddress = transport.RemoteAddress;
    }

    public string RemoteAddress { get; }
    public long PendingBytes => _output.PendingBytes;
    private string ClientName => _client?.ClientId ?? _connectingClientId ?? RemoteAddress;

    public void Send(OutboundPacket packet, long durableAt = 0) => _output.Send(packet, durableAt);

    public void Close(MqttPacket? goodbye = null) => _output.Close(goodbye);

    /// <summary>Completes once this connection has handled every packet it had received (or has ended), or after
    /// <see cref="SettleTimeout"/>: called by a connection whose CONNECT is about to take over this one's client id.</summary>
    private async Task SettleAsync() =>
        await Task.WhenAny(_settling.RequestAsync(_input.CancelPendingRead), Task.Delay(SettleTimeout));

    public async Task RunAsync()
    {
        _broker.Metrics.SocketOpened();
        if (_broker.Options.ConnectionMessages && _log.IsEnabled(LogType.Notice))
            _log.Notice($"New connection from {RemoteAddress} on port {_transport.LocalPort}.");
        var writer = _output.RunAsync();
        string lostReason = "closed its connection";
        _readDeadlines.Add(_timeout);
        try
        {
            lostReason = await ReadLoopAsync();
        }
        catch (Exception e) when (e is IOException or ConnectionResetException or ConnectionAbortedException or ObjectDisposedException)
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
            _readDeadlines.Remove(_timeout);
            if (_client is not null) _broker.ConnectionLost(_client, lostReason);
            // After the loss is recorded, so that a CONNECT waiting for this connection finds it gone, never half-gone.
            _settling.Ended();
            Close();
        }
        // A peer that stopped reading must not keep the connection (and its socket) forever.
        if (await Task.WhenAny(writer, Task.Delay(DrainTimeout)) != writer)
        {
            _transport.Pipe.Output.CancelPendingFlush();
            _transport.Abort();
        }
        await writer;
        // Wake the read side so the connection ends even if the peer keeps the socket open.
        _input.CancelPendingRead();
        if (_output.WroteGoodbye)
        {
            await LingerAsync();
            await _transport.Pipe.Output.CompleteAsync();
        }
    }

    /// <summary>
    /// After the broker's goodbye, reads and discards whatever the client still sends until the client closes or
    /// <see cref="LingerTimeout"/> passes; only then does the socket close. Closing at once would make TCP answer the
    /// client's packets already in flight (a PUBREL, the next PUBLISH of a stream) with a reset: the client's next write
    /// then fails before it has read the goodbye, and some stacks drop received data on a reset, so the Reason Code never
    /// reaches it. Nothing read here is processed [MQTT-3.14.4-1], [MQTT-3.14.4-2].
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
                // IsCanceled without IsCompleted is the wake-up above (CancelPendingRead): keep draining.
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
        _timeout.StartConnectWait();
        int configuredMax = _broker.EffectiveMaxPacketSize;
        while (true)
        {
            int maxPacketSize = _client is not null ? configuredMax
                : configuredMax > 0 ? Math.Min(configuredMax, MaxConnectPacketSize) : MaxConnectPacketSize;
            var result = await _input.ReadAsync();
            long settleRequests = _settling.Seen();
            if (result.IsCanceled && _timeout.Expired)
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
                while (!_output.IsClosing && PacketReader.TryRead(ref buffer, _version, maxPacketSize, out var packet, _readerCache))
                {
                    packets++;
                    if (!await HandOverAsync(packet!)) break;
                }
            }
            catch (MqttProtocolException e)
            {
                _broker.HandleMalformedPacket(this, _client, e);
            }
            _input.AdvanceTo(buffer.Start, buffer.End);
            // Counted once per read, not per packet: the counters are shared by every connection.
            _broker.Metrics.Received(packets, available - buffer.Length);
            if (_output.IsClosing) return "disconnected";
            if (result.IsCompleted) return "closed its connection";
            // Everything received so far is handled. A cancelled read (other than the deadline's, above) is only ever
            // a settle request's wake-up; CancelPendingRead also cancels the next read when none is waiting, so one
            // can come after its request was already answered, and is harmless then.
            _settling.Settled(settleRequests);
            // Only bytes from the client count as a sign of life: a wake-up is someone else's doing.
            if (_client is not null && available > 0) _timeout.ResetKeepAlive(_client.KeepAlive);
        }
    }

    /// <summary>Hands one packet to the broker. False stops reading (the connection is closing).</summary>
    private async ValueTask<bool> HandOverAsync(MqttPacket packet)
    {
        if (_log.IsEnabled(LogType.Debug))
            foreach (var line in PacketTrace.Received(packet, ClientName)) _log.Write(LogType.Debug, line);
        if (_client is null)
        {
            if (packet is ConnectPacket connect)
            {
                // The rest of the connection is read and written in the version CONNECT named.
                _version = _output.Version = connect.ProtocolVersion;
                if (connect.ClientId.Length > 0) _connectingClientId = connect.ClientId;
                if (connect.ClientId.Length > 0 && _broker.ConnectionOf(connect.ClientId) is MqttConnection earlier && earlier != this)
                {
                    await earlier.SettleAsync();
                    // The CONNECT deadline passed meanwhile: the read loop closes the connection at its next read.
                    if (_timeout.Expired) return false;
                }
            }
            _client = _broker.HandleConnect(this, packet, _policy, _transport.Identity);
            if (_client is null) return false;
            _timeout.ResetKeepAlive(_client.KeepAlive);
            return true;
        }
        if (packet is PublishPacket publish)
        {
            var receipt = _broker.HandlePublish(_client, publish);
            if (!receipt.PacketKept) _readerCache.Return(publish);
            if (!receipt.ReadingResumes.IsCompleted)
            {
                // The broker takes no more from this client until its held publishes are accepted.
                _timeout.Suspend();
                await receipt.ReadingResumes;
            }
        }
        else if (_broker.HandlePacket(_client, packet) is { } done) _readerCache.Return(done);
        return !_output.IsClosing;
    }
}
