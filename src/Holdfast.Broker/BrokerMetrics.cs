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
}

/// <summary>Counters the broker keeps; read by $SYS and /metrics. Updated with Interlocked.</summary>
public sealed class BrokerMetrics
{
    private readonly long[] _dropped = new long[Enum.GetValues<DropCause>().Length];
    private long _messagesReceived, _messagesSent, _ackTimeouts, _publishesRejected;

    public long MessagesReceived => Interlocked.Read(ref _messagesReceived);
    public long MessagesSent => Interlocked.Read(ref _messagesSent);
    public long AckTimeouts => Interlocked.Read(ref _ackTimeouts);
    /// <summary>MQTT 5 publishes refused with 0x97 because a subscriber's queue was full (never acknowledged, so not lost).</summary>
    public long PublishesRejected => Interlocked.Read(ref _publishesRejected);
    public long Dropped(DropCause cause) => Interlocked.Read(ref _dropped[(int)cause]);
    public long DroppedTotal => _dropped.Sum();

    internal void MessageReceived() => Interlocked.Increment(ref _messagesReceived);
    internal void MessageSent() => Interlocked.Increment(ref _messagesSent);
    internal void AckTimeout() => Interlocked.Increment(ref _ackTimeouts);
    internal void PublishRejected() => Interlocked.Increment(ref _publishesRejected);
    internal void Drop(DropCause cause, long count = 1) => Interlocked.Add(ref _dropped[(int)cause], count);
}
