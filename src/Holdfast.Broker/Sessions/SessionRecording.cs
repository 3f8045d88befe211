using Holdfast.Broker.Storage;

namespace Holdfast.Broker;

/// <summary>
/// What a session's changes write into an operation's change set (see <see cref="IChangeSet"/>). Only sessions that
/// outlive their connection are stored: a session with expiry 0 has nothing to recover, and records nothing.
/// </summary>
internal static class SessionRecording
{
    /// <summary>Saves the session (its expiry, subscriptions, connection state, identity), or, when its expiry became 0,
    /// removes it from the store. <paramref name="claim"/> (a CONNECT) moves it to the next epoch.</summary>
    public static void RecordSession(BrokerOperation op, Session s, bool claim = false)
    {
        if (s.ExpiryInterval == 0) { Unrecord(op, s); return; }
        long expected = s.StoredEpoch;
        s.StoredEpoch = claim || expected == 0 ? expected + 1 : expected;
        op.Changes.SaveSession(new StoredSession(s.ClientId, s.Version, s.ExpiryInterval, s.SubscriptionCount == 0 ? [] : [.. s.Subscriptions.Values],
            s.IsConnected ? null : s.DisconnectedAt, s.Identity?.ListenerName, s.Identity?.UserName, s.StoredEpoch), expected);
    }

    /// <summary>Removes a stored session with everything it holds in the store: the broker names each record (it holds
    /// them all), so the store needs no index of a session's records.</summary>
    public static void Unrecord(BrokerOperation op, Session s)
    {
        if (!s.IsStored) return;
        var changes = op.Changes;
        foreach (var q in s.Queued)
        {
            changes.RemoveQueued(s.ClientId, q.Sequence);
            if (!q.OwnsBody) changes.Release(q.Message.Id);
        }
        // The tail's records carry their own bodies: no release to count, one range to remove.
        if (s.TailCount > 0) changes.RemoveQueuedFrom(s.ClientId, s.TailFrom);
        foreach (var m in s.Inflight)
        {
            changes.RemoveInflight(s.ClientId, m.PacketId);
            changes.Release(m.Message.Id);
        }
        if (s.InboundQoS2Count > 0)
            foreach (ushort packetId in s.InboundQoS2) changes.SetInboundQoS2(s.ClientId, packetId, false);
        if (s.PendingWill is not null) changes.SetPendingWill(s.ClientId, null);
        changes.RemoveSession(s.ClientId, s.StoredEpoch);
        s.StoredEpoch = 0;
    }

    /// <summary>A delayed will is kept (or, with null, forgotten) with its session, so it is still published after a restart.</summary>
    public static void SetPendingWill(BrokerOperation op, Session s, PendingWill? will)
    {
        if (s.PendingWill is null && will is null) return;
        s.PendingWill = will;
        if (s.IsStored) op.Changes.SetPendingWill(s.ClientId, will);
    }

    public static void RecordQueued(BrokerOperation op, Session s, QueuedMessage q)
    {
        if (!s.IsStored) return;
        if (!q.OwnsBody) op.Changes.Reference(q.Message);
        op.Changes.AddQueued(s.ClientId, q.Sequence, new StoredDelivery(q.Message, q.QoS, q.Retain, q.SubscriptionIds), q.OwnsBody);
    }

    public static void RecordDequeued(BrokerOperation op, Session s, QueuedMessage q)
    {
        if (!s.IsStored) return;
        op.Changes.RemoveQueued(s.ClientId, q.Sequence);
        if (!q.OwnsBody) op.Changes.Release(q.Message.Id);
    }

    /// <summary>Records a new inflight flow (<paramref name="started"/>: it refers to its message from now on) or its new state.</summary>
    public static void RecordInflight(BrokerOperation op, Session s, InflightMessage m, bool started)
    {
        if (!s.IsStored) return;
        if (started) op.Changes.Reference(m.Message);
        op.Changes.SaveInflight(s.ClientId, new StoredInflight(m.PacketId, m.Order, new StoredDelivery(m.Message, m.QoS, m.Retain, m.SubscriptionIds), m.State));
    }

    /// <summary>Ends an outbound flow of the session, in the session and in the store.</summary>
    public static void CompleteInflight(BrokerOperation op, Session s, InflightMessage m)
    {
        // Read before the session may reuse the record.
        ushort packetId = m.PacketId;
        long messageId = m.Message.Id;
        if (!s.RemoveInflight(packetId) || !s.IsStored) return;
        op.Changes.RemoveInflight(s.ClientId, packetId);
        op.Changes.Release(messageId);
    }

    public static void RecordInboundQoS2(BrokerOperation op, Session s, ushort packetId, bool awaitingPubRel)
    {
        if (s.IsStored) op.Changes.SetInboundQoS2(s.ClientId, packetId, awaitingPubRel);
    }
}
