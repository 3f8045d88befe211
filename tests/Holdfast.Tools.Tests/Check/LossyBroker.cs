using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using Holdfast.Protocol;

namespace Holdfast.Tools.Tests.Check;

/// <summary>How <see cref="LossyBroker"/> misbehaves with the PUBLISH packets the broker sends to its clients.</summary>
public enum LossMode
{
    /// <summary>Forwards every packet unchanged: a correct broker.</summary>
    PassThrough,
    /// <summary>Every Nth QoS 1/2 PUBLISH is not forwarded; the relay acknowledges it to the broker itself.</summary>
    Drop,
    /// <summary>Every Nth QoS 2 PUBLISH is forwarded, then sent again under a new packet id the relay owns.</summary>
    DuplicateQoS2,
    /// <summary>Every Nth QoS 1/2 PUBLISH is held back and forwarded right after the next one on its topic.</summary>
    Reorder,
    /// <summary>The broker's first N PUBACK/PUBREC packets reach the publishers; every later one is swallowed: a broker
    /// that stops acknowledging halfway (it still delivers, and nothing it acknowledged is lost).</summary>
    StopAcknowledging,
}

/// <summary>
/// A test double for a broken broker: an MQTT-aware relay on 127.0.0.1 in front of a real broker. It forwards every
/// packet's bytes unchanged both ways, except that it misbehaves with the PUBLISH packets going from the broker to a
/// client as its <see cref="LossMode"/> says (check's publishers subscribe to nothing, so those are subscriber
/// deliveries). Every mode keeps the broker's and the subscriber's packet id flows well-formed: the relay answers for
/// what it swallows and finishes the flows it starts, so only the one misbehaviour is visible.
/// </summary>
public sealed class LossyBroker : IAsyncDisposable
{
    /// <summary>How long <see cref="LossMode.Reorder"/> holds a PUBLISH when no later one on its topic comes.</summary>
    private static readonly TimeSpan HoldAtMost = TimeSpan.FromSeconds(1);

    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly int _brokerPort;
    private readonly int _every;
    private readonly CancellationTokenSource _stopping = new();
    private readonly Lock _gate = new();
    private readonly List<RelayedConnection> _connections = [];
    private readonly List<Task> _running = [];
    private readonly List<string> _errors = [];
    private readonly long[] _dropped = new long[3];
    private readonly long[] _reordered = new long[3];
    private long _eligible;
    private long _forwarded;
    private long _duplicated;
    private long _acknowledgements;
    private long _withheld;
    private Task _acceptLoop = Task.CompletedTask;

    private LossyBroker(int brokerPort, LossMode mode, int every)
    {
        _brokerPort = brokerPort;
        Mode = mode;
        _every = every;
    }

    /// <summary>Starts relaying to the broker on 127.0.0.1:<paramref name="brokerPort"/>; misbehaves with every
    /// <paramref name="every"/>th PUBLISH the mode applies to (counted over all connections); StopAcknowledging forwards
    /// <paramref name="every"/> acknowledgements and no more.</summary>
    public static LossyBroker Start(int brokerPort, LossMode mode, int every = 10)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(every, 1);
        var relay = new LossyBroker(brokerPort, mode, every);
        relay._listener.Start();
        relay._acceptLoop = relay.AcceptLoopAsync();
        return relay;
    }

    public LossMode Mode { get; }
    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    /// <summary>QoS 1/2 PUBLISH packets from the broker that reached a client (a duplicate's second copy not counted).</summary>
    public long Forwarded => Interlocked.Read(ref _forwarded);
    /// <summary>PUBLISH packets of <paramref name="qos"/> acknowledged to the broker and never forwarded.</summary>
    public long Dropped(QualityOfService qos) => Interlocked.Read(ref _dropped[(int)qos]);
    /// <summary>QoS 2 PUBLISH packets sent to a client a second time, under a new packet id.</summary>
    public long Duplicated => Interlocked.Read(ref _duplicated);
    /// <summary>StopAcknowledging: PUBACK/PUBREC packets from the broker that never reached the publisher.</summary>
    public long Withheld => Interlocked.Read(ref _withheld);
    /// <summary>PUBLISH packets of <paramref name="qos"/> forwarded after a later one on their topic.</summary>
    public long Reordered(QualityOfService qos) => Interlocked.Read(ref _reordered[(int)qos]);

    /// <summary>What went wrong in the relay itself (a packet it could not parse, a packet id clash): must stay empty,
    /// or a failing check would prove nothing about check.</summary>
    public IReadOnlyList<string> Errors { get { lock (_gate) return [.. _errors]; } }

    private void Error(string message) { lock (_gate) _errors.Add(message); }

    /// <summary>True for every Nth PUBLISH the mode applies to.</summary>
    private bool IsNth() => Interlocked.Increment(ref _eligible) % _every == 0;

    private async Task AcceptLoopAsync()
    {
        while (true)
        {
            Socket client;
            try { client = await _listener.AcceptSocketAsync(_stopping.Token); }
            catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException) { return; }
            client.NoDelay = true;
            var broker = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            try
            {
                await broker.ConnectAsync(IPAddress.Loopback, _brokerPort, _stopping.Token);
            }
            catch (OperationCanceledException)
            {
                client.Dispose();
                broker.Dispose();
                return;
            }
            catch (SocketException e)
            {
                Error($"cannot connect to the broker on port {_brokerPort}: {e.Message}");
                client.Dispose();
                broker.Dispose();
                continue;
            }
            var connection = new RelayedConnection(this, client, broker);
            lock (_gate)
            {
                _connections.Add(connection);
                _running.Add(connection.RunAsync());
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        _stopping.Cancel();
        _listener.Stop();
        await _acceptLoop;
        Task[] running;
        lock (_gate)
        {
            foreach (var connection in _connections) connection.Close();
            running = [.. _running];
        }
        await Task.WhenAll(running);
        _stopping.Dispose();
    }

    /// <summary>One socket and the lock that keeps packets written to it whole.</summary>
    [System.Diagnostics.CodeAnalysis.SuppressMessage("Design", "CA1001:Types that own disposable fields should be disposable", Justification = "A SemaphoreSlim whose AvailableWaitHandle is never read holds no OS handle; disposing it could race a late Release.")]
    private sealed class Side(Socket socket)
    {
        private readonly SemaphoreSlim _writing = new(1, 1);

        public Socket Socket => socket;

        public async Task SendAsync(ReadOnlyMemory<byte> bytes)
        {
            await _writing.WaitAsync();
            try
            {
                for (int sent = 0; sent < bytes.Length;) sent += await socket.SendAsync(bytes[sent..], SocketFlags.None);
            }
            finally
            {
                _writing.Release();
            }
        }

        public Task SendAsync(MqttPacket packet, ProtocolVersion version) => SendAsync(PacketWriter.ToArray(packet, version));

        /// <summary>Takes the bytes to send only once no other write can come first; sends nothing if <paramref name="take"/> gives null.</summary>
        public async Task<bool> SendTakenAsync(Func<byte[]?> take)
        {
            await _writing.WaitAsync();
            try
            {
                if (take() is not { } bytes) return false;
                for (int sent = 0; sent < bytes.Length;) sent += await socket.SendAsync(bytes.AsMemory(sent), SocketFlags.None);
                return true;
            }
            finally
            {
                _writing.Release();
            }
        }
    }

    /// <summary>One client connection and its broker connection, with the packet ids the relay took over.</summary>
    private sealed class RelayedConnection(LossyBroker owner, Socket clientSocket, Socket brokerSocket)
    {
        private readonly Side _client = new(clientSocket);
        private readonly Side _broker = new(brokerSocket);
        /// <summary>Set from the CONNECT; the broker speaks only after it.</summary>
        private readonly TaskCompletionSource<ProtocolVersion> _version = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly Lock _gate = new();
        /// <summary>Drop: QoS 2 ids the relay answered PUBREC for in the subscriber's place; the broker's PUBREL for
        /// them gets PUBCOMP from the relay and never reaches the subscriber.</summary>
        private readonly HashSet<ushort> _answeredForSubscriber = [];
        /// <summary>DuplicateQoS2: ids of the relay's own QoS 2 flows toward the subscriber, from PUBLISH to PUBCOMP.
        /// Taken from the top of the id space (Holdfast numbers upward from 1); a broker id in this set is an error.</summary>
        private readonly HashSet<ushort> _ownFlows = [];
        /// <summary>Reorder: the PUBLISH held back (its bytes as the broker sent them).</summary>
        private (PublishPacket Packet, byte[] Bytes)? _held;
        private int _closed;

        public async Task RunAsync()
        {
            // Whichever direction ends first ends both: the peer then sees its connection close.
            await Task.WhenAny(PumpAsync(_client, FromClientAsync), PumpAsync(_broker, FromBrokerAsync));
            Close();
        }

        public void Close()
        {
            if (Interlocked.Exchange(ref _closed, 1) == 1) return;
            _client.Socket.Dispose();
            _broker.Socket.Dispose();
        }

        /// <summary>Reads whole packets from <paramref name="from"/> and hands each (decoded, and as its bytes) to <paramref name="handle"/>.</summary>
        private async Task PumpAsync(Side from, Func<MqttPacket, byte[], Task> handle)
        {
            var reader = PipeReader.Create(new NetworkStream(from.Socket, ownsSocket: false));
            try
            {
                // Nothing but CONNECT can come before the version is known, and CONNECT states its own.
                var version = from == _client ? ProtocolVersion.V500 : await _version.Task;
                while (true)
                {
                    var result = await reader.ReadAsync();
                    var buffer = result.Buffer;
                    while (true)
                    {
                        var before = buffer;
                        if (_version.Task.IsCompleted) version = _version.Task.Result;
                        if (!PacketReader.TryRead(ref buffer, version, 0, out var packet)) break;
                        await handle(packet!, before.Slice(0, before.Length - buffer.Length).ToArray());
                    }
                    reader.AdvanceTo(buffer.Start, buffer.End);
                    if (result.IsCompleted) return;
                }
            }
            catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException or OperationCanceledException) { }
            catch (Exception e)
            {
                owner.Error($"relay failed reading from the {(from == _client ? "client" : "broker")}: {e}");
            }
            finally
            {
                await reader.CompleteAsync();
            }
        }

        private async Task FromClientAsync(MqttPacket packet, byte[] bytes)
        {
            switch (packet)
            {
                case ConnectPacket connect:
                    _version.TrySetResult(connect.ProtocolVersion);
                    break;
                case PubRecPacket rec when IsOwnFlow(rec.PacketId):
                    await _client.SendAsync(new PubRelPacket { PacketId = rec.PacketId }, await _version.Task);
                    return;
                case PubCompPacket comp when IsOwnFlow(comp.PacketId):
                    lock (_gate) _ownFlows.Remove(comp.PacketId);
                    return;
            }
            await _broker.SendAsync(bytes);
        }

        private bool IsOwnFlow(ushort packetId) { lock (_gate) return _ownFlows.Contains(packetId); }

        private async Task FromBrokerAsync(MqttPacket packet, byte[] bytes)
        {
            var version = await _version.Task;
            switch (packet)
            {
                case PublishPacket { QoS: > QualityOfService.AtMostOnce } publish:
                    if (IsOwnFlow(publish.PacketId))
                        owner.Error($"the broker sent PUBLISH with packet id {publish.PacketId}, which the relay's own QoS 2 flow holds");
                    await MisbehaveAsync(publish, bytes, version);
                    return;
                case PubAckPacket or PubRecPacket when owner.Mode == LossMode.StopAcknowledging
                    && Interlocked.Increment(ref owner._acknowledgements) > owner._every:
                    Interlocked.Increment(ref owner._withheld);
                    return;
                case PubRelPacket rel:
                    bool answered;
                    lock (_gate) answered = _answeredForSubscriber.Remove(rel.PacketId);
                    if (answered)
                    {
                        await _broker.SendAsync(new PubCompPacket { PacketId = rel.PacketId }, version);
                        return;
                    }
                    break;
            }
            await _client.SendAsync(bytes);
        }

        private async Task MisbehaveAsync(PublishPacket publish, byte[] bytes, ProtocolVersion version)
        {
            var qos = publish.QoS;
            switch (owner.Mode)
            {
                case LossMode.Drop when owner.IsNth():
                    // The broker hears the subscriber took it; the subscriber never sees it.
                    if (qos == QualityOfService.AtLeastOnce)
                    {
                        await _broker.SendAsync(new PubAckPacket { PacketId = publish.PacketId }, version);
                    }
                    else
                    {
                        lock (_gate) _answeredForSubscriber.Add(publish.PacketId);
                        await _broker.SendAsync(new PubRecPacket { PacketId = publish.PacketId }, version);
                    }
                    Interlocked.Increment(ref owner._dropped[(int)qos]);
                    return;

                case LossMode.DuplicateQoS2 when qos == QualityOfService.ExactlyOnce && owner.IsNth():
                    await ForwardAsync(bytes);
                    var copy = new PublishPacket
                    {
                        Topic = publish.Topic,
                        QoS = qos,
                        Retain = publish.Retain,
                        Properties = publish.Properties,
                        Payload = publish.Payload,
                        PacketId = TakeOwnPacketId(),
                    };
                    await _client.SendAsync(copy, version);
                    Interlocked.Increment(ref owner._duplicated);
                    return;

                case LossMode.Reorder:
                    (PublishPacket Packet, byte[] Bytes)? overtaken = null;
                    bool hold = false;
                    lock (_gate)
                    {
                        if (_held is { } held && held.Packet.Topic == publish.Topic)
                        {
                            overtaken = held;
                            _held = null;
                        }
                        else if (_held is null && owner.IsNth())
                        {
                            _held = (publish, bytes);
                            hold = true;
                        }
                    }
                    if (hold)
                    {
                        _ = ReleaseHeldLaterAsync(publish);
                        return;
                    }
                    if (overtaken is { } o)
                    {
                        // One write: this PUBLISH, then the older one it overtook.
                        await _client.SendAsync((byte[])[.. bytes, .. o.Bytes]);
                        Interlocked.Add(ref owner._forwarded, 2);
                        Interlocked.Increment(ref owner._reordered[(int)o.Packet.QoS]);
                        return;
                    }
                    break;
            }
            await ForwardAsync(bytes);
        }

        private async Task ForwardAsync(byte[] bytes)
        {
            await _client.SendAsync(bytes);
            Interlocked.Increment(ref owner._forwarded);
        }

        private ushort TakeOwnPacketId()
        {
            lock (_gate)
            {
                for (ushort id = 65535; id > 0; id--)
                    if (_ownFlows.Add(id)) return id;
            }
            throw new InvalidOperationException("no packet id left for the relay");
        }

        /// <summary>Reorder: a held PUBLISH no later one overtook (its publisher stopped) goes out late but in order.</summary>
        private async Task ReleaseHeldLaterAsync(PublishPacket publish)
        {
            try { await Task.Delay(HoldAtMost, owner._stopping.Token); }
            catch (OperationCanceledException) { return; }
            // Taken while holding the client's write lock: a PUBLISH that arrives meanwhile cannot overtake it unnoticed.
            byte[]? Take()
            {
                lock (_gate)
                {
                    if (_held is not { } held || held.Packet != publish) return null;
                    _held = null;
                    return held.Bytes;
                }
            }
            try
            {
                if (await _client.SendTakenAsync(Take)) Interlocked.Increment(ref owner._forwarded);
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException) { }
        }
    }
}
