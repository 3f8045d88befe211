using System.Diagnostics;
using System.Net.Sockets;
using Holdfast.Client;
using Holdfast.Protocol;

namespace Holdfast.Tools.Check;

/// <summary>
/// One sequenced publisher: client id fixed, persistent session, message N of the run carries sequence number N. It
/// behaves as MQTT requires of a compliant client: after a reconnect it resends every unacknowledged PUBLISH, in
/// order, with DUP=1 and the same packet id, and PUBREL for QoS 2 flows past PUBREC, before anything new.
/// <para>Acknowledged means: QoS 1, a PUBACK with a reason code below 0x80; QoS 2, a PUBREC below 0x80 (the broker has
/// taken ownership then; PUBREL/PUBCOMP only release the packet id). A message whose connection ends before that is
/// not acknowledged until a resend is. A reason code of 0x80 or more is a refusal: counted, never acknowledged, never
/// resent (the sequence number is not reused, so ordering stays checkable).</para>
/// </summary>
[System.Diagnostics.CodeAnalysis.SuppressMessage("Design", "CA1001:Types that own disposable fields should be disposable", Justification = "A SemaphoreSlim whose AvailableWaitHandle is never read holds no OS handle; disposing it could race a late Release.")]
internal sealed class CheckPublisher
{
    private readonly int _index;
    private readonly QualityOfService _qos;
    private readonly MqttClientOptions _options;
    private readonly CheckLedger _ledger;
    private readonly string _runId;
    private readonly string _topic;
    /// <summary>Time between two messages in Stopwatch ticks, kept fractional: whole milliseconds would turn every rate
    /// above 1000/s into no limit and round 700/s to 1000/s.</summary>
    private readonly double _intervalTicks;
    private readonly int _window;
    private readonly Lock _gate = new();
    /// <summary>QoS 1/2 flows not finished, in the order they were first sent.</summary>
    private readonly List<Flow> _inflight = [];
    private readonly PacketIdPool _packetIds = new();
    private readonly SemaphoreSlim _windowOpened = new(0);
    private long _nextSequence;
    private int _receiveMaximum = 65535;

    public CheckPublisher(int index, CheckOptions options, MqttClientOptions clientOptions, CheckLedger ledger, string runId)
    {
        _index = index;
        _qos = options.QoSOf(index);
        _options = clientOptions;
        _ledger = ledger;
        _runId = runId;
        _topic = CheckLedger.TopicOf(runId, index);
        _intervalTicks = Stopwatch.Frequency / options.Rate;
        _window = options.Window;
    }

    public string ClientId => _options.ClientId;
    public int Connections { get; private set; }
    public int Inflight { get { lock (_gate) return _inflight.Count; } }
    /// <summary>QoS 2 flows acknowledged with PUBREC whose PUBCOMP never came.</summary>
    public int AwaitingCompletion { get { lock (_gate) return _inflight.Count(f => f.Released); } }

    /// <summary>Publishes until <paramref name="stopPublishing"/>, then finishes the flows in flight; gives up on them at
    /// <paramref name="stop"/>. Reconnects whenever the connection ends.</summary>
    public async Task RunAsync(CancellationToken stopPublishing, CancellationToken stop)
    {
        var backoff = new Backoff();
        while (!stop.IsCancellationRequested && !(stopPublishing.IsCancellationRequested && Inflight == 0))
        {
            var options = _options.Clone();
            // The first connection starts a new session; every later one resumes it.
            options.CleanStart = Connections == 0 && options.Version == ProtocolVersion.V500;
            MqttClientConnection connection;
            try
            {
                connection = await MqttClientConnection.ConnectAsync(options, stop);
            }
            catch (Exception e) when (IsConnectionFailure(e, stop))
            {
                await backoff.WaitAsync(stop);
                continue;
            }
            catch (OperationCanceledException)
            {
                return;
            }
            await using (connection)
            {
                Connections++;
                if (Connections > 1 && !connection.ConnAck.SessionPresent) _ledger.SessionLost(ClientId, Connections);
                // A session lost by the broker changes nothing here: the resends below then arrive as new messages.
                backoff.Reset();
                Resend(connection, connection.ConnAck.Properties?.ReceiveMaximum ?? 65535);
                using var closed = CancellationTokenSource.CreateLinkedTokenSource(connection.Closed, stop);
                var sending = SendLoopAsync(connection, stopPublishing, closed.Token);
                try
                {
                    while (await connection.ReceiveAsync(stop) is { } packet) Handle(connection, packet);
                }
                catch (OperationCanceledException) { }
                catch (MqttProtocolException) { }
                connection.Abort();
                await sending;
            }
        }
    }

    /// <summary>Starts a new connection's share of the flows in flight: resends them in order, but no more than the
    /// broker's Receive Maximum (a restarted broker may advertise less than the flows we hold); the rest follow, still in
    /// order, as acknowledgements free slots (<see cref="SendWaiting"/>).</summary>
    private void Resend(MqttClientConnection connection, int receiveMaximum)
    {
        lock (_gate)
        {
            _receiveMaximum = receiveMaximum;
            foreach (var flow in _inflight) flow.OnConnection = false;
            SendWaiting(connection);
        }
    }

    /// <summary>Sends flows not yet sent on this connection, oldest first, while the Receive Maximum has room. Every
    /// flow in flight counts against it until PUBACK or PUBCOMP, including QoS 2 flows past PUBREC (MQTT 5 §4.9).</summary>
    private void SendWaiting(MqttClientConnection connection)
    {
        int onConnection = _inflight.Count(f => f.OnConnection);
        foreach (var flow in _inflight)
        {
            if (onConnection >= _receiveMaximum) return;
            if (flow.OnConnection) continue;
            bool sent = flow.Released
                ? connection.Send(new PubRelPacket { PacketId = flow.PacketId })
                : connection.Send(flow.ToPublish(dup: flow.Sent));
            if (!sent) return; // the connection has ended: the next one starts over
            flow.Sent = flow.OnConnection = true;
            onConnection++;
        }
    }

    /// <summary>New messages at the configured rate, while the window has room; after <paramref name="stopPublishing"/>,
    /// waits for the flows in flight to finish and disconnects.</summary>
    private async Task SendLoopAsync(MqttClientConnection connection, CancellationToken stopPublishing, CancellationToken closed)
    {
        double nextDue = Stopwatch.GetTimestamp();
        try
        {
            while (!closed.IsCancellationRequested)
            {
                if (stopPublishing.IsCancellationRequested)
                {
                    if (Inflight == 0) { await connection.DisconnectAsync(); return; }
                    await _windowOpened.WaitAsync(TimeSpan.FromMilliseconds(100), closed);
                    continue;
                }
                long now = Stopwatch.GetTimestamp();
                if (nextDue > now)
                {
                    // Task.Delay cannot wait less than about a millisecond (shorter waits complete at once and would spin):
                    // wait at least that, then send every message that has come due meanwhile, without waiting in between.
                    var wait = TimeSpan.FromSeconds((nextDue - now) / Stopwatch.Frequency);
                    await Task.Delay(wait < TimeSpan.FromMilliseconds(1) ? TimeSpan.FromMilliseconds(1) : wait, closed);
                    continue;
                }
                if (_qos != QualityOfService.AtMostOnce && Inflight >= Math.Min(_window, _receiveMaximum))
                {
                    await _windowOpened.WaitAsync(TimeSpan.FromMilliseconds(100), closed);
                    continue;
                }
                PublishNext(connection);
                // A publisher held back by its window or a dead connection catches up by at most a second's worth.
                nextDue = Math.Max(nextDue, now - Stopwatch.Frequency) + _intervalTicks;
            }
        }
        catch (OperationCanceledException) { }
    }

    private void PublishNext(MqttClientConnection connection)
    {
        lock (_gate)
        {
            long sequence = _nextSequence++;
            var payload = new CheckPayload(_runId, _index, sequence, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds()).Encode();
            // Recorded before it is sent: a subscriber may receive it before this publisher hears back.
            _ledger.Published(_index, sequence);
            if (_qos == QualityOfService.AtMostOnce)
            {
                // Expected only if it went out; one the ended connection did not take is withdrawn (no subscriber can have it).
                if (connection.Send(new PublishPacket { Topic = _topic, QoS = _qos, Payload = payload })) _ledger.SentAtMostOnce(_index, sequence);
                else
                {
                    _ledger.Withdrawn(_index, sequence);
                    _nextSequence--;
                }
                return;
            }
            _packetIds.TryTake(out ushort packetId);
            var flow = new Flow(_topic, _qos, sequence, packetId, payload);
            _inflight.Add(flow);
            // The send loop adds a new flow only when every flow in flight is on this connection (the window is below the
            // Receive Maximum then), so this one goes out after every resend.
            flow.Sent = flow.OnConnection = connection.Send(flow.ToPublish(dup: false));
        }
    }

    private void Handle(MqttClientConnection connection, MqttPacket packet)
    {
        lock (_gate)
        {
            switch (packet)
            {
                case PubAckPacket ack when Find(ack.PacketId) is { QoS: QualityOfService.AtLeastOnce } flow:
                    if (IsRefusal(ack.ReasonCode)) _ledger.Refused(_index, ack.ReasonCode);
                    else _ledger.Acknowledged(_index, flow.Sequence);
                    Finish(connection, flow);
                    break;
                case PubRecPacket rec when Find(rec.PacketId) is { QoS: QualityOfService.ExactlyOnce } flow:
                    if (IsRefusal(rec.ReasonCode))
                    {
                        _ledger.Refused(_index, rec.ReasonCode);
                        Finish(connection, flow);
                        break;
                    }
                    if (!flow.Released) _ledger.Acknowledged(_index, flow.Sequence);
                    flow.Released = true;
                    connection.Send(new PubRelPacket { PacketId = flow.PacketId });
                    break;
                case PubCompPacket comp when Find(comp.PacketId) is { Released: true } flow:
                    Finish(connection, flow);
                    break;
            }
        }
    }

    private Flow? Find(ushort packetId) => _inflight.Find(f => f.PacketId == packetId);

    private void Finish(MqttClientConnection connection, Flow flow)
    {
        _inflight.Remove(flow);
        _packetIds.Release(flow.PacketId);
        // A slot of the Receive Maximum is free: a flow held back after a reconnect goes before any new message.
        SendWaiting(connection);
        _windowOpened.Release();
    }

    private static bool IsRefusal(ReasonCode code) => (byte)code >= 0x80;

    internal static bool IsConnectionFailure(Exception e, CancellationToken stop) =>
        MqttClientConnection.IsConnectFailure(e) || (e is OperationCanceledException && !stop.IsCancellationRequested);

    /// <summary>One QoS 1/2 message from its first PUBLISH until PUBACK or PUBCOMP.</summary>
    private sealed class Flow(string topic, QualityOfService qos, long sequence, ushort packetId, byte[] payload)
    {
        public QualityOfService QoS { get; } = qos;
        public long Sequence { get; } = sequence;
        public ushort PacketId { get; } = packetId;
        /// <summary>Handed to a connection at least once: any later PUBLISH of it is a resend (DUP=1).</summary>
        public bool Sent { get; set; }
        /// <summary>Sent on the current connection (counts against its Receive Maximum); cleared on every reconnect.</summary>
        public bool OnConnection { get; set; }
        /// <summary>QoS 2: PUBREC came, PUBREL is owed; after a reconnect the flow resumes at PUBREL.</summary>
        public bool Released { get; set; }

        public PublishPacket ToPublish(bool dup) => new() { Topic = topic, QoS = QoS, PacketId = PacketId, Payload = payload, Dup = dup };
    }
}

/// <summary>Waits between reconnect attempts: from 50 ms, doubling to 1 s, randomised so clients do not reconnect in step.</summary>
internal sealed class Backoff
{
    private int _ms = 50;

    public void Reset() => _ms = 50;

    public async Task WaitAsync(CancellationToken cancellationToken)
    {
        int wait = _ms / 2 + Random.Shared.Next(_ms / 2 + 1);
        _ms = Math.Min(_ms * 2, 1000);
        try { await Task.Delay(wait, cancellationToken); } catch (OperationCanceledException) { }
    }
}
