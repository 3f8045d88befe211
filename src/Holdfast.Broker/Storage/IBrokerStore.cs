using Holdfast.Protocol;

namespace Holdfast.Broker.Storage;

/// <summary>
/// Where the broker records every change that must survive a restart (DESIGN.md §2.4). The broker calls
/// these methods under its lock, in the order the changes happen; a store batches them. The broker
/// stays the owner of live state: a store is a write-through record of it, and <see cref="Load"/>
/// gives it back at startup.
///
/// Every recorded change advances <see cref="RecordedSequence"/>. A packet whose meaning depends on a change
/// (a PUBACK says "the message is kept", a PUBREL says "the PUBREC arrived") is stamped with that sequence and
/// written to the socket only once <see cref="IsDurable"/> holds for it: that is how "acknowledged" comes to
/// mean "on disk" without a task per message.
///
/// Implementations: Holdfast.Storage.Memory (tests, <c>persistence false</c>); Holdfast.Storage.RocksDb commits
/// each batch with one synced write (group commit).
/// </summary>
public interface IBrokerStore
{
    /// <summary>Called once by the broker, before <see cref="Load"/>: the lock it holds while it records the changes of one
    /// operation (a PUBLISH routed to many sessions, a message moved from its queue into the inflight window). A store that
    /// writes in the background takes each batch under this lock, so that a write never holds half an operation: a crash
    /// between two writes would otherwise leave a message both queued and inflight, or neither.</summary>
    void ShareLock(Lock brokerLock);

    /// <summary>A session was created or its durable fields changed (version, expiry, subscriptions, connected or not).</summary>
    void SaveSession(StoredSession session);

    /// <summary>A session ended; everything it held goes with it (queue, inflight, inbound QoS 2 ids, pending will).</summary>
    void RemoveSession(string clientId);

    /// <summary>A message was appended to a session's queue.</summary>
    void AddQueued(string clientId, StoredDelivery delivery);

    /// <summary>The oldest queued message of a session left the queue (sent, expired or dropped).</summary>
    void RemoveOldestQueued(string clientId);

    /// <summary>An inflight message was created or changed state (packet id assigned, PUBREC received).</summary>
    void SaveInflight(string clientId, StoredInflight inflight);

    /// <summary>An inflight flow completed or was abandoned.</summary>
    void RemoveInflight(string clientId, ushort packetId);

    /// <summary>An inbound QoS 2 packet id now awaits PUBREL (or no longer does).</summary>
    void SetInboundQoS2(string clientId, ushort packetId, bool awaitingPubRel);

    /// <summary>A retained message was set (a message with an empty payload clears the topic).</summary>
    void SetRetained(Message message);

    /// <summary>A will now waits for its delay (or, with null, no longer does).</summary>
    void SetPendingWill(string clientId, PendingWill? will);

    /// <summary>The sequence number of the last change recorded (0 = none yet). Read under the broker's lock.</summary>
    long RecordedSequence { get; }

    /// <summary>Whether every change up to <paramref name="sequence"/> is as durable as the store promises. Thread-safe.</summary>
    bool IsDurable(long sequence);

    /// <summary>Completes when every change up to <paramref name="sequence"/> is durable; faults with
    /// <see cref="StoreWriteException"/> when the write holding it failed (it is retried, but whoever waited is told).</summary>
    ValueTask WhenDurable(long sequence);

    /// <summary>Everything stored, for recovery at startup.</summary>
    StoredState Load();
}

/// <summary>A write to the durable store failed: what it held is not acknowledged.</summary>
public sealed class StoreWriteException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>The durable fields of a session.</summary>
/// <param name="DisconnectedAt">Monotonic ms (<see cref="BrokerClock.Now"/>) when its last connection ended; null while connected.</param>
/// <param name="ListenerName">The listener (<see cref="ListenerPolicy.Name"/>) of its latest connection, and with
/// <paramref name="UserName"/> who that connection was: what the ACL judges the session by while it is offline. Null for a
/// record written before they were kept.</param>
public sealed record StoredSession(string ClientId, ProtocolVersion Version, uint ExpiryInterval, IReadOnlyList<Subscription> Subscriptions,
    long? DisconnectedAt = null, string? ListenerName = null, string? UserName = null);

/// <summary>A message waiting in a session's queue.</summary>
public sealed record StoredDelivery(Message Message, QualityOfService QoS, bool Retain, IReadOnlyList<uint>? SubscriptionIds);

/// <summary>An outbound QoS 1/2 flow in progress.</summary>
public sealed record StoredInflight(ushort PacketId, StoredDelivery Delivery, InflightState State);

/// <summary>What a store gives back at startup. Times are already converted to this process's monotonic clock.</summary>
public sealed class StoredState
{
    public List<StoredSession> Sessions { get; } = [];
    public Dictionary<string, List<StoredDelivery>> Queues { get; } = [];
    /// <summary>Per session, in the order the messages were first sent (the resend order).</summary>
    public Dictionary<string, List<StoredInflight>> Inflight { get; } = [];
    public Dictionary<string, HashSet<ushort>> InboundQoS2 { get; } = [];
    public List<Message> Retained { get; } = [];
    public Dictionary<string, PendingWill> PendingWills { get; } = [];
}
