using Holdfast.Protocol;

namespace Holdfast.Broker;

/// <summary>Why the broker did not deliver a message. Every drop is counted by cause and logged.</summary>
public enum DropCause
{
    QueueFull,
    Expired,
    PacketTooLarge,
    NotAuthorized,
    SessionExpired,
    Qos0NotQueued,
    ClientTooSlow,
    /// <summary>Held by a session the broker ended because its queue was full (queue_full_policy end_session).</summary>
    SessionEndedQueueFull,
}

/// <summary>Counters the broker keeps; read by $SYS and /metrics. The per-message ones and the wire ones are striped
/// (<see cref="StripedCounters"/>), so that publishers on different cores do not contend for them; the rest are updated
/// with Interlocked.</summary>
public sealed class BrokerMetrics
{
    // Per message, from every connection at once: QoS 0-2 received (0-2) and sent (3-5), then the publish payload bytes
    // received and sent. Each is counted in the stripe of a session shard whose lock the caller holds (the publisher's,
    // the subscriber's), so the add needs no atomic instruction.
    private const int PublishSentBase = 3, PublishBytesReceivedIndex = 6, PublishBytesSentIndex = 7;
    private readonly StripedCounters _messages = new(8, SessionTable.ShardCount);
    // Per read or write, from connections that hold no lock: packets and bytes read and written, by processor.
    private const int PacketsReceivedIndex = 0, PacketsSentIndex = 1, BytesReceivedIndex = 2, BytesSentIndex = 3;
    private readonly StripedCounters _wire = new(4, StripedCounters.ProcessorStripes);
    private readonly long[] _dropped = new long[Enum.GetValues<DropCause>().Length];
    private long _ackTimeouts, _publishesRejected, _socketsOpened, _clientsConnected, _sessionsExpired, _sessionsEndedQueueFull;

    /// <summary>PUBLISH messages accepted from clients, all QoS.</summary>
    public long MessagesReceived => PublishReceived(QualityOfService.AtMostOnce) + PublishReceived(QualityOfService.AtLeastOnce) + PublishReceived(QualityOfService.ExactlyOnce);
    /// <summary>PUBLISH messages sent to clients (resends included), all QoS.</summary>
    public long MessagesSent => PublishSent(QualityOfService.AtMostOnce) + PublishSent(QualityOfService.AtLeastOnce) + PublishSent(QualityOfService.ExactlyOnce);
    public long PublishReceived(QualityOfService qos) => _messages.Read((int)qos);
    public long PublishSent(QualityOfService qos) => _messages.Read(PublishSentBase + (int)qos);
    public long PublishBytesReceived => _messages.Read(PublishBytesReceivedIndex);
    public long PublishBytesSent => _messages.Read(PublishBytesSentIndex);
    public long AckTimeouts => Interlocked.Read(ref _ackTimeouts);
    /// <summary>MQTT 5 publishes refused with 0x97 because a subscriber's queue was full (never acknowledged, so not lost).</summary>
    public long PublishesRejected => Interlocked.Read(ref _publishesRejected);
    public long Dropped(DropCause cause) => Interlocked.Read(ref _dropped[(int)cause]);
    public long DroppedTotal
    {
        get
        {
            long sum = 0;
            for (int i = 0; i < _dropped.Length; i++) sum += Interlocked.Read(ref _dropped[i]);
            return sum;
        }
    }
    /// <summary>MQTT packets of every type read from and written to clients (Mosquitto's messages/received and /sent).</summary>
    public long PacketsReceived => _wire.Read(PacketsReceivedIndex);
    public long PacketsSent => _wire.Read(PacketsSentIndex);
    public long BytesReceived => _wire.Read(BytesReceivedIndex);
    public long BytesSent => _wire.Read(BytesSentIndex);
    /// <summary>Network connections accepted, whether or not they became MQTT clients.</summary>
    public long SocketsOpened => Interlocked.Read(ref _socketsOpened);
    /// <summary>CONNECTs accepted.</summary>
    public long ClientsConnected => Interlocked.Read(ref _clientsConnected);
    /// <summary>Sessions removed because they stayed offline past their expiry.</summary>
    public long SessionsExpired => Interlocked.Read(ref _sessionsExpired);
    /// <summary>Offline sessions ended because their queue was full (queue_full_policy end_session).</summary>
    public long SessionsEndedQueueFull => Interlocked.Read(ref _sessionsEndedQueueFull);

    /// <summary>A PUBLISH accepted; call holding the lock of <paramref name="shard"/> (the publisher's).</summary>
    internal void MessageReceived(SessionShard shard, QualityOfService qos, int payloadBytes)
    {
        _messages.AddExclusive(shard.Index, (int)qos, 1);
        _messages.AddExclusive(shard.Index, PublishBytesReceivedIndex, payloadBytes);
    }

    /// <summary>A PUBLISH sent; call holding the lock of <paramref name="shard"/> (the subscriber's).</summary>
    internal void MessageSent(SessionShard shard, Message message, QualityOfService qos)
    {
        if (message.FromBroker) return;
        _messages.AddExclusive(shard.Index, PublishSentBase + (int)qos, 1);
        _messages.AddExclusive(shard.Index, PublishBytesSentIndex, message.Payload.Length);
    }

    internal void AckTimeout() => Interlocked.Increment(ref _ackTimeouts);
    internal void PublishRejected() => Interlocked.Increment(ref _publishesRejected);
    internal void Drop(DropCause cause, long count = 1) => Interlocked.Add(ref _dropped[(int)cause], count);
    internal void ClientConnected() => Interlocked.Increment(ref _clientsConnected);
    internal void SessionExpired() => Interlocked.Increment(ref _sessionsExpired);
    internal void SessionEndedQueueFull() => Interlocked.Increment(ref _sessionsEndedQueueFull);

    /// <summary>A connection read <paramref name="packets"/> packets in <paramref name="bytes"/> bytes (one call per read, not per packet).</summary>
    public void Received(int packets, long bytes)
    {
        int stripe = _wire.ProcessorStripe;
        if (packets > 0) _wire.Add(stripe, PacketsReceivedIndex, packets);
        if (bytes > 0) _wire.Add(stripe, BytesReceivedIndex, bytes);
    }

    /// <summary>A connection wrote <paramref name="packets"/> packets in <paramref name="bytes"/> bytes (one call per flush).</summary>
    public void Sent(int packets, long bytes)
    {
        int stripe = _wire.ProcessorStripe;
        if (packets > 0) _wire.Add(stripe, PacketsSentIndex, packets);
        if (bytes > 0) _wire.Add(stripe, BytesSentIndex, bytes);
    }

    public void SocketOpened() => Interlocked.Increment(ref _socketsOpened);
}
