using Holdfast.Protocol;

namespace Holdfast.Broker.Storage;

/// <summary>
/// The session store: one record per session that outlives its connection, and by the session's client id its queued
/// deliveries (keyed by the session's queue sequence), inflight flows (by packet id, carrying their send order), inbound
/// QoS 2 packet ids and pending will. Keys are named by the broker, so the store needs no copy of a session to find them.
///
/// Saving and removing a session record is a compare-and-swap on its epoch: the store applies it only when the record
/// it holds has <c>expectedEpoch</c> (0: none is stored). A node takes a session over (a CONNECT) by saving it with the
/// next epoch and its own <see cref="StoredSession.Owner"/>; a node that still writes with an older epoch has lost the
/// session, and a replicated store fails that commit (<see cref="StoreWriteException"/> to whoever waits on it). A store
/// used by one broker alone may take the check as always true.
///
/// Removing a session removes its record only: the broker records the removal of everything the session held, in the
/// same change set.
/// </summary>
public interface ISessionChanges
{
    /// <summary>A session was created or its durable fields changed (version, expiry, subscriptions, connected or not, epoch).</summary>
    void SaveSession(StoredSession session, long expectedEpoch);

    /// <summary>A session ended.</summary>
    void RemoveSession(string clientId, long expectedEpoch);

    /// <summary>A message was appended to a session's queue under <paramref name="sequence"/> (increasing within the
    /// session). With <paramref name="ownsBody"/> the record carries the message itself instead of a reference into the
    /// message log: the tail of a long queue, kept on disk only, which the broker neither references nor releases.</summary>
    void AddQueued(string clientId, long sequence, StoredDelivery delivery, bool ownsBody = false);

    /// <summary>A message left a session's queue (sent, expired or dropped).</summary>
    void RemoveQueued(string clientId, long sequence);

    /// <summary>Every queued record of the session from <paramref name="fromSequence"/> on goes (the tail of a session
    /// that ended, whose records own their bodies).</summary>
    void RemoveQueuedFrom(string clientId, long fromSequence);

    /// <summary>An inflight flow was created or changed state (PUBREC received).</summary>
    void SaveInflight(string clientId, StoredInflight inflight);

    /// <summary>An inflight flow completed or was abandoned.</summary>
    void RemoveInflight(string clientId, ushort packetId);

    /// <summary>An inbound QoS 2 packet id now awaits PUBREL (or no longer does).</summary>
    void SetInboundQoS2(string clientId, ushort packetId, bool awaitingPubRel);

    /// <summary>A will now waits for its delay (or, with null, no longer does).</summary>
    void SetPendingWill(string clientId, PendingWill? will);
}
