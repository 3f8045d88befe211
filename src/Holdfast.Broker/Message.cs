using Holdfast.Protocol;

namespace Holdfast.Broker;

/// <summary>An application message as the broker holds it: one instance per accepted PUBLISH, shared by
/// every session it is routed to (the payload is never copied per subscriber).</summary>
public sealed class Message : IApplicationMessage
{
    // Ids are handed out to each thread in blocks, so publishers on different cores do not contend for one counter at every
    // message. _lastId is the end of the last block given out; a new numbering (ContinueIdsAfter) starts a new epoch, and
    // a thread's block from an older epoch is dropped unused.
    private const int IdBlock = 256;
    private static readonly Lock IdLock = new();
    private static long _lastId;
    private static int _idEpoch;
    [ThreadStatic] private static long _nextId, _endOfBlock;
    [ThreadStatic] private static int _blockEpoch;

    public Message(string topic, ReadOnlyMemory<byte> payload, QualityOfService qos, bool retain,
        MqttProperties? properties, string? publisherClientId, long receivedAt)
        : this(NextId(), topic, payload, qos, retain, properties, publisherClientId, receivedAt)
    {
    }

    /// <summary>A message a store gives back: it keeps the id it was stored under (see <see cref="ContinueIdsAfter"/>).</summary>
    public Message(long id, string topic, ReadOnlyMemory<byte> payload, QualityOfService qos, bool retain,
        MqttProperties? properties, string? publisherClientId, long receivedAt)
    {
        Id = id;
        Topic = topic;
        Payload = payload;
        QoS = qos;
        Retain = retain;
        Properties = properties;
        PublisherClientId = publisherClientId;
        ReceivedAt = receivedAt;
        if (properties?.MessageExpiryInterval is { } seconds)
            ExpiresAt = receivedAt + seconds * 1000L;
    }

    /// <summary>Process-wide sequence number, for logs and as the message's key in the store's message log; it continues
    /// after the highest id a store holds (<see cref="ContinueIdsAfter"/>), so it is stable across restarts.</summary>
    public long Id { get; }

    /// <summary>Numbers new messages after <paramref name="id"/> (at recovery: the highest id the store holds), so no
    /// new message takes the id of one still stored. Never moves the numbering back.</summary>
    public static void ContinueIdsAfter(long id)
    {
        lock (IdLock)
        {
            if (_lastId < id) _lastId = id;
            Volatile.Write(ref _idEpoch, _idEpoch + 1);
        }
    }

    private static long NextId()
    {
        if (_nextId == _endOfBlock || _blockEpoch != Volatile.Read(ref _idEpoch))
        {
            lock (IdLock)
            {
                _nextId = _lastId + 1;
                _lastId += IdBlock;
                _endOfBlock = _lastId + 1;
                _blockEpoch = _idEpoch;
            }
        }
        return _nextId++;
    }
    public string Topic { get; }
    public ReadOnlyMemory<byte> Payload { get; }
    public QualityOfService QoS { get; }
    public bool Retain { get; }
    /// <summary>The publisher's properties to forward (no topic alias, no subscription identifiers).</summary>
    public MqttProperties? Properties { get; }
    public string? PublisherClientId { get; }
    /// <summary>Monotonic milliseconds (<see cref="BrokerClock.Now"/>) when the broker accepted it.</summary>
    public long ReceivedAt { get; }
    /// <summary>Monotonic milliseconds after which it must not be sent; null = never expires.</summary>
    public long? ExpiresAt { get; }

    /// <summary>Published by the broker itself ($SYS): not client traffic, so not counted as messages sent.</summary>
    public bool FromBroker { get; init; }

    public bool IsExpired(long now) => ExpiresAt is { } at && now >= at;

    /// <summary>Seconds left of the Message Expiry Interval, forwarded to subscribers [MQTT-3.3.2-6]. At least 1: only an
    /// inflight message is sent after its expiry (its delivery had started), and it must not arrive already expired.</summary>
    public uint? RemainingExpirySeconds(long now) =>
        ExpiresAt is { } at ? (uint)Math.Max(1, (at - now + 999) / 1000) : null;

    /// <summary>Rough memory weight, for max_queued_bytes.</summary>
    public int Size => Payload.Length;
}
