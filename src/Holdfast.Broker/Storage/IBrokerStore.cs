using Holdfast.Protocol;

namespace Holdfast.Broker.Storage;

/// <summary>
/// Where the broker records every change that must survive a restart (DESIGN.md §2.4). The broker calls
/// these methods under its lock, in the order the changes happen; a store batches them. The broker
/// stays the owner of live state: a store is a write-through record of it, and <see cref="Load"/>
/// gives it back at startup.
///
/// Implementations: Holdfast.Storage.Memory (tests, <c>persistence false</c>); a durable store commits
/// each batch with one synced write (group commit).
/// </summary>
public interface IBrokerStore
{
    /// <summary>A session was created or its durable fields changed (version, expiry, subscriptions).</summary>
    void SaveSession(StoredSession session);

    /// <summary>A session ended; everything it held goes with it.</summary>
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

    /// <summary>Completes when every change recorded before the call is durable. The broker acknowledges a
    /// QoS 1/2 PUBLISH only after this (PUBACK/PUBREC mean "on disk").</summary>
    ValueTask CommitAsync();

    /// <summary>Everything stored, for recovery at startup.</summary>
    StoredState Load();
}

/// <summary>The durable fields of a session.</summary>
public sealed record StoredSession(string ClientId, ProtocolVersion Version, uint ExpiryInterval, IReadOnlyList<Subscription> Subscriptions);

/// <summary>A message waiting in a session's queue.</summary>
public sealed record StoredDelivery(Message Message, QualityOfService QoS, bool Retain, IReadOnlyList<uint>? SubscriptionIds);

/// <summary>An outbound QoS 1/2 flow in progress.</summary>
public sealed record StoredInflight(ushort PacketId, StoredDelivery Delivery, InflightState State);

/// <summary>What a store gives back at startup.</summary>
public sealed class StoredState
{
    public List<StoredSession> Sessions { get; } = [];
    public Dictionary<string, List<StoredDelivery>> Queues { get; } = [];
    public Dictionary<string, List<StoredInflight>> Inflight { get; } = [];
    public Dictionary<string, HashSet<ushort>> InboundQoS2 { get; } = [];
    public List<Message> Retained { get; } = [];
}
