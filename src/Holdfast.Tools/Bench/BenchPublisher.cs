using System.Diagnostics;
using Holdfast.Client;
using Holdfast.Protocol;

namespace Holdfast.Tools.Bench;

/// <summary>
/// One publishing client. Its send loop keeps at most <c>window</c> messages in flight, a message being in flight until
/// the broker has acknowledged it (QoS 1/2; never more than the broker's Receive Maximum) and every subscriber meant to
/// get it has received it (any QoS, seen through <see cref="DeliveryStream"/>s). Bounding delivery too means QoS 0 runs
/// measure throughput rather than how much a broker can buffer, and latency is not queueing behind a backlog.
/// With a rate it sends on a <see cref="SendSchedule"/> (open loop, still bounded by the window) and stamps each message with
/// its scheduled time, so a broker's pause shows in the latency. Acknowledgements are read by a second loop, which also
/// notices a connection the broker ends before the run does (reported to the run's <see cref="RunFailure"/>).
/// </summary>
[System.Diagnostics.CodeAnalysis.SuppressMessage("Design", "CA1001:Types that own disposable fields should be disposable", Justification = "A SemaphoreSlim whose AvailableWaitHandle is never read holds no OS handle; disposing it could race a late Release.")]
internal sealed class BenchPublisher
{
    /// <summary>How long a full window may see no delivery before the publisher gives up on the messages in it (counted in
    /// <see cref="Stalls"/>; a QoS 1/2 message given up on and never received is reported as lost at the end).</summary>
    private static readonly long StallTicks = 2 * Stopwatch.Frequency;
    private static readonly long AckTimeoutTicks = 10 * Stopwatch.Frequency;

    private readonly MqttClientConnection _connection;
    private readonly QualityOfService _qos;
    private readonly int _payloadSize;
    private readonly int _window;
    private readonly int _ackWindow;
    // A full window is refilled an eighth at a time: one wake-up and one write per batch rather than per message, which
    // is what keeps the generator's CPU (and the broker's system calls) per message low.
    private readonly int _deliveryBatch;
    private readonly int _ackBatch;
    private readonly double _ratePerSecond;
    private readonly RunFailure _failure;
    private readonly List<DeliveryStream> _streams = [];
    private readonly PacketIdPool _packetIds = new();
    private readonly long[] _sequenceOf = new long[65536];
    private readonly HashSet<long> _refused = [];
    private readonly SemaphoreSlim _progress = new(0);
    private Task _reading = Task.CompletedTask;
    private int _waiting;
    private DeliveryStream? _wakeStream;
    private long _wakeAtDelivered;
    private long _wakeAtResolved;
    private long _sent;
    private long _acked;
    private long _resolved;     // acknowledged or refused: no longer holding a packet id
    private long _givenUpBelow; // sequence numbers below this no longer count against the window
    private long _stopTicks = long.MaxValue;
    private SendSchedule _schedule;
    private long _wakeAtTicks = long.MaxValue;  // waiting for the schedule: the Pacer wakes the send loop at this time
    private long _unknownAcks;  // acknowledgements of packet ids not in flight
    private int _ending;        // 1 once we disconnect or abort: the connection ending is no longer a failure

    private BenchPublisher(int index, MqttClientConnection connection, string topic, BenchSettings settings, double ratePerSecond, RunFailure failure)
    {
        Index = index;
        _connection = connection;
        Topic = topic;
        _qos = settings.QoS;
        _payloadSize = settings.PayloadSize;
        _window = settings.Window;
        _ratePerSecond = ratePerSecond;
        _failure = failure;
        // The broker's Receive Maximum (MQTT 5) caps the QoS 1/2 messages it will take unacknowledged from us.
        int receiveMaximum = connection.ConnAck.Properties?.ReceiveMaximum ?? 65535;
        _ackWindow = Math.Min(_window, receiveMaximum);
        _deliveryBatch = Math.Max(1, _window / 8);
        _ackBatch = Math.Max(1, _ackWindow / 8);
        Array.Fill(_sequenceOf, -1);
    }

    public int Index { get; }
    public string Topic { get; }
    public long Sent => Volatile.Read(ref _sent);
    public long Acked => Volatile.Read(ref _acked);
    public int AckWindow => _ackWindow;
    public int Stalls { get; private set; }
    /// <summary>PUBACK/PUBREC/PUBCOMP for a packet id with nothing in flight (a broker bug, or a duplicate): not counted.</summary>
    public long UnknownAcknowledgements => Volatile.Read(ref _unknownAcks);
    public IReadOnlyList<DeliveryStream> Streams => _streams;
    public int RefusedCount { get { lock (_refused) return _refused.Count; } }
    /// <summary>Messages sent whose QoS 1/2 flow has not completed (held packet ids).</summary>
    public long Unacknowledged => _qos == QualityOfService.AtMostOnce ? 0 : Sent - Volatile.Read(ref _resolved);

    public static async Task<BenchPublisher> ConnectAsync(MqttClientOptions options, int index, string topic, BenchSettings settings,
        double ratePerSecond, RunFailure failure)
    {
        var connection = await MqttClientConnection.ConnectAsync(options);
        return new BenchPublisher(index, connection, topic, settings, ratePerSecond, failure);
    }

    public void AddStream(DeliveryStream stream) => _streams.Add(stream);

    /// <summary>Sends from <paramref name="startTicks"/> (Stopwatch time) until <see cref="Stop"/>, then waits for the
    /// acknowledgements of everything sent. Returns early, without throwing, once the run has failed.</summary>
    public async Task RunAsync(long startTicks)
    {
        _schedule = new SendSchedule(startTicks, _ratePerSecond);
        // Read even at QoS 0: PINGRESP keeps the connection's keep-alive satisfied, and a closed connection is seen.
        _reading = Task.Run(ReadAcknowledgementsAsync);
        long lastProgressTicks = Stopwatch.GetTimestamp();
        long lastProgress = Progress();
        while (true)
        {
            long now = Stopwatch.GetTimestamp();
            long stopTicks = Volatile.Read(ref _stopTicks);
            if (now >= stopTicks || _failure.HasFailed) break;
            if (!HasRoom())
            {
                if (Progress() != lastProgress) { lastProgress = Progress(); lastProgressTicks = now; }
                bool waitingForBroker = AckRoom() < _ackBatch;
                if (waitingForBroker && now - lastProgressTicks > AckTimeoutTicks)
                    throw new TimeoutException($"publisher {Index}: no acknowledgement from the broker for {AckTimeoutTicks / Stopwatch.Frequency} s");
                if (!waitingForBroker && now - lastProgressTicks > StallTicks)
                {
                    // The broker has taken every message in the window but nothing reaches the subscribers: stop waiting.
                    // Counting from now again: else every later full window would be given up on at once.
                    _givenUpBelow = Sent;
                    Stalls++;
                    lastProgressTicks = now;
                    continue;
                }
                await WaitForRoomAsync(Math.Min(stopTicks, now + Stopwatch.Frequency / 4));
                continue;
            }
            long room = Math.Min(DeliveryRoom(), AckRoom());
            if (_ratePerSecond > 0)
            {
                long due = _schedule.DueAt(now, Sent);
                if (due <= 0)
                {
                    await WaitForScheduleAsync(Math.Min(stopTicks, now + Stopwatch.Frequency / 4));
                    continue;
                }
                room = Math.Min(room, due);
            }
            // A burst, written in one go by the connection's write loop; capped so that acknowledgements keep flowing.
            for (long i = Math.Min(room, 256); i > 0; i--)
            {
                if (SendOne()) continue;
                // The connection has ended: let the acknowledgement loop report why, if it can tell (a DISCONNECT).
                await Task.WhenAny(_reading, Task.Delay(TimeSpan.FromSeconds(1)));
                _failure.Report($"publisher {Index}'s connection ended during the run (a send found it closed)");
                return;
            }
        }
        // Every message sent is acknowledged (or refused) before the run counts loss.
        long waitUntil = Stopwatch.GetTimestamp() + AckTimeoutTicks;
        while (Unacknowledged > 0 && Stopwatch.GetTimestamp() < waitUntil && !_failure.HasFailed)
        {
            Volatile.Write(ref _wakeStream, null);
            Volatile.Write(ref _wakeAtResolved, Sent);
            await WaitAsync(() => Unacknowledged == 0, waitUntil);
        }
    }

    /// <summary>Ends the sending (the run calls it when it has taken its last measurement).</summary>
    public void Stop()
    {
        Volatile.Write(ref _stopTicks, Stopwatch.GetTimestamp());
        Wake();
    }

    /// <summary>For the loss count, after the run.</summary>
    public bool WasRefused(long sequence) { lock (_refused) return _refused.Contains(sequence); }

    /// <summary>For the loss count, after the run: sequence numbers whose flow never completed.</summary>
    public HashSet<long> PendingSequences()
    {
        var pending = new HashSet<long>();
        lock (_packetIds)
            for (int id = 1; id <= 65535 && pending.Count < _packetIds.InUse; id++)
                if (_sequenceOf[id] >= 0) pending.Add(_sequenceOf[id]);
        return pending;
    }

    /// <summary>Called by a subscriber's receive loop when <paramref name="stream"/> has received up to
    /// <paramref name="highest"/>: wakes the send loop if that is what it waits for.</summary>
    public void OnDelivered(DeliveryStream stream, long highest)
    {
        if (Volatile.Read(ref _waiting) == 1 && ReferenceEquals(Volatile.Read(ref _wakeStream), stream) && highest + 1 >= Volatile.Read(ref _wakeAtDelivered))
            Wake();
    }

    /// <summary>Ends the connection and surfaces what went wrong in the acknowledgement loop, if anything.</summary>
    public async Task DisconnectAsync()
    {
        Volatile.Write(ref _ending, 1);
        await _connection.DisconnectAsync();
        await _reading;
    }

    public void Abort()
    {
        Volatile.Write(ref _ending, 1);
        _connection.Abort();
    }

    private bool HasRoom() => DeliveryRoom() >= _deliveryBatch && AckRoom() >= _ackBatch;

    private long DeliveryRoom() => _window - (Sent - Math.Max(DeliveredBelow(out _), _givenUpBelow));

    private long AckRoom() => _qos == QualityOfService.AtMostOnce ? long.MaxValue : _ackWindow - (Sent - Volatile.Read(ref _resolved));

    /// <summary>Changes whenever an acknowledgement or a delivery frees part of the window.</summary>
    private long Progress() => Volatile.Read(ref _resolved) + DeliveredBelow(out _);

    /// <summary>Sequence numbers below this have been received (or skipped past) by every subscriber meant to get them;
    /// <paramref name="slowest"/> is the subscriber furthest behind.</summary>
    private long DeliveredBelow(out DeliveryStream? slowest)
    {
        slowest = null;
        long lowest = long.MaxValue;
        foreach (var stream in _streams)
        {
            long next = stream.Highest + 1;
            if (next < lowest) { lowest = next; slowest = stream; }
        }
        return slowest is null ? Sent : lowest;
    }

    /// <summary>Waits until a batch of the window is free again (or <paramref name="untilTicks"/>): for the slowest subscriber
    /// to receive enough, or for the broker to acknowledge enough, whichever holds the window shut.</summary>
    private Task WaitForRoomAsync(long untilTicks)
    {
        long deliveredBelow = DeliveredBelow(out var slowest);
        bool deliveryShort = _window - (Sent - Math.Max(deliveredBelow, _givenUpBelow)) < _deliveryBatch;
        Volatile.Write(ref _wakeAtDelivered, Sent - _window + _deliveryBatch);
        Volatile.Write(ref _wakeStream, deliveryShort ? slowest : null);
        Volatile.Write(ref _wakeAtResolved, AckRoom() < _ackBatch ? Sent - _ackWindow + _ackBatch : long.MaxValue);
        return WaitAsync(HasRoom, untilTicks);
    }

    /// <summary>Waits until the next message is due (or <paramref name="untilTicks"/>), woken by the <see cref="Pacer"/>.</summary>
    private async Task WaitForScheduleAsync(long untilTicks)
    {
        long dueAt = _schedule.TicksOf(Sent);
        Volatile.Write(ref _wakeStream, null);
        Volatile.Write(ref _wakeAtResolved, long.MaxValue);
        Interlocked.Exchange(ref _wakeAtTicks, dueAt);
        await WaitAsync(() => Stopwatch.GetTimestamp() >= dueAt, untilTicks);
        Volatile.Write(ref _wakeAtTicks, long.MaxValue);
    }

    /// <summary>Called by the <see cref="Pacer"/>: wakes the send loop if it waits for a message that is now due. Returns when
    /// it next needs waking, as far as it can tell (long.MaxValue: not waiting for the schedule).</summary>
    public long WakeIfDue(long nowTicks)
    {
        long at = Volatile.Read(ref _wakeAtTicks);
        if (at > nowTicks) return at;
        // The wait's own condition is the time, so a wake that comes before the loop waits is not lost: it will not wait.
        Volatile.Write(ref _wakeAtTicks, long.MaxValue);
        Wake();
        // Most likely it sends the message now due and then waits for the one after: be awake for that.
        return _schedule.TicksOf(Sent + 1);
    }

    private async Task WaitAsync(Func<bool> ready, long untilTicks)
    {
        // The flag is set (with a full fence) before the condition is checked again, and whoever makes progress changes its
        // count (with a full fence) before reading the flag: one of the two always sees the other.
        Interlocked.Exchange(ref _waiting, 1);
        if (!ready()) await _progress.WaitAsync(Ticks(untilTicks - Stopwatch.GetTimestamp()));
        Interlocked.Exchange(ref _waiting, 0);
    }

    private void Wake()
    {
        if (Interlocked.Exchange(ref _waiting, 0) == 1) _progress.Release();
    }

    /// <summary>Stopwatch ticks as a TimeSpan of at least a millisecond: timers are not finer, and Task.Delay and WaitAsync
    /// round a shorter wait down to none, which would spin.</summary>
    private static TimeSpan Ticks(long stopwatchTicks) =>
        TimeSpan.FromTicks(Math.Max(TimeSpan.TicksPerMillisecond, stopwatchTicks * TimeSpan.TicksPerSecond / Stopwatch.Frequency));

    /// <summary>False when the connection has ended.</summary>
    private bool SendOne()
    {
        long sequence = _sent;
        ushort packetId = 0;
        if (_qos != QualityOfService.AtMostOnce)
        {
            lock (_packetIds)
            {
                if (!_packetIds.TryTake(out packetId)) throw new InvalidOperationException("no free packet id");
                _sequenceOf[packetId] = sequence;
            }
        }
        long sentTicks = _ratePerSecond > 0 ? _schedule.TicksOf(sequence) : Stopwatch.GetTimestamp();
        var payload = new BenchPayload(sequence, Index, sentTicks).Encode(_payloadSize);
        if (!_connection.Send(new PublishPacket { Topic = Topic, QoS = _qos, PacketId = packetId, Payload = payload })) return false;
        Interlocked.Increment(ref _sent);
        return true;
    }

    private async Task ReadAcknowledgementsAsync()
    {
        ReasonCode? disconnect = null;
        try
        {
            await ReadUntilClosedAsync(code => disconnect = code);
        }
        catch (MqttProtocolException e)
        {
            _failure.Report($"publisher {Index}: {e.Message}");
            return;
        }
        if (Volatile.Read(ref _ending) == 0)
            _failure.Report(RunFailure.ConnectionEnded($"publisher {Index}", disconnect, _connection.WriteError));
        Wake();
    }

    private async Task ReadUntilClosedAsync(Action<ReasonCode> onDisconnect)
    {
        while (await _connection.ReceiveAsync() is { } packet)
        {
            switch (packet)
            {
                case DisconnectPacket disconnect:
                    onDisconnect(disconnect.ReasonCode);
                    break;
                case PubAckPacket ack:
                    Resolve(ack.PacketId, ack.ReasonCode);
                    break;
                case PubRecPacket rec when (byte)rec.ReasonCode >= 0x80:
                    Resolve(rec.PacketId, rec.ReasonCode);
                    break;
                case PubRecPacket rec:
                    _connection.Send(new PubRelPacket { PacketId = rec.PacketId });
                    break;
                case PubCompPacket comp:
                    Resolve(comp.PacketId, comp.ReasonCode);
                    break;
            }
        }
    }

    private void Resolve(ushort packetId, ReasonCode reasonCode)
    {
        if (Volatile.Read(ref _sequenceOf[packetId]) < 0)
        {
            Interlocked.Increment(ref _unknownAcks);
            return;
        }
        // A refusal (0x97 quota exceeded, for one) means the broker did not take the message: not counted as sent to anyone.
        if ((byte)reasonCode >= 0x80)
        {
            lock (_refused) _refused.Add(_sequenceOf[packetId]);
        }
        else
        {
            Interlocked.Increment(ref _acked);
        }
        lock (_packetIds)
        {
            _sequenceOf[packetId] = -1;
            _packetIds.Release(packetId);
        }
        long resolved = Interlocked.Increment(ref _resolved);
        if (Volatile.Read(ref _waiting) == 1 && resolved >= Volatile.Read(ref _wakeAtResolved)) Wake();
    }
}
