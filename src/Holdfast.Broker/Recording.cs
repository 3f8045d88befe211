using Holdfast.Broker.Storage;
using Holdfast.Protocol;

namespace Holdfast.Broker;

// What the broker records in an operation's change set (IBrokerStore), and recovery from the store at startup. Only
// sessions that outlive their connection are stored: a session with expiry 0 has nothing to recover.
public sealed partial class MqttBroker
{
    private readonly IBrokerStore _store;
    // The operation of the broker's lock, reused; one begun inside another (a connection calling back) gets its own.
    private readonly BrokerOperation _operation;

    /// <summary>Begins an operation; call under the lock and dispose (commit and send) before leaving it.</summary>
    private BrokerOperation BeginOperation() =>
        (_operation.InUse ? new BrokerOperation(_store.BeginChanges()) : _operation).Start();

    /// <summary>Saves the session (its expiry, subscriptions, connection state, identity), or, when its expiry became 0,
    /// removes it from the store. <paramref name="claim"/> (a CONNECT) moves it to the next epoch.</summary>
    private static void RecordSession(BrokerOperation op, Session s, bool claim = false)
    {
        if (s.ExpiryInterval == 0) { Unrecord(op, s); return; }
        long expected = s.StoredEpoch;
        s.StoredEpoch = claim || expected == 0 ? expected + 1 : expected;
        op.Changes.SaveSession(new StoredSession(s.ClientId, s.Version, s.ExpiryInterval, s.SubscriptionCount == 0 ? [] : [.. s.Subscriptions.Values],
            s.IsConnected ? null : s.DisconnectedAt, s.Identity?.ListenerName, s.Identity?.UserName, s.StoredEpoch), expected);
    }

    /// <summary>Removes a stored session with everything it holds in the store: the broker names each record (it holds
    /// them all), so the store needs no index of a session's records.</summary>
    private static void Unrecord(BrokerOperation op, Session s)
    {
        if (!s.IsStored) return;
        var changes = op.Changes;
        foreach (var q in s.Queued)
        {
            changes.RemoveQueued(s.ClientId, q.Sequence);
            changes.Release(q.Message.Id);
        }
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
    private static void SetPendingWill(BrokerOperation op, Session s, PendingWill? will)
    {
        if (s.PendingWill is null && will is null) return;
        s.PendingWill = will;
        if (s.IsStored) op.Changes.SetPendingWill(s.ClientId, will);
    }

    private static void RecordQueued(BrokerOperation op, Session s, QueuedMessage q)
    {
        if (!s.IsStored) return;
        op.Changes.Reference(q.Message);
        op.Changes.AddQueued(s.ClientId, q.Sequence, new StoredDelivery(q.Message, q.QoS, q.Retain, q.SubscriptionIds));
    }

    private static void RecordDequeued(BrokerOperation op, Session s, QueuedMessage q)
    {
        if (!s.IsStored) return;
        op.Changes.RemoveQueued(s.ClientId, q.Sequence);
        op.Changes.Release(q.Message.Id);
    }

    /// <summary>Records a new inflight flow (<paramref name="started"/>: it refers to its message from now on) or its new state.</summary>
    private static void RecordInflight(BrokerOperation op, Session s, InflightMessage m, bool started)
    {
        if (!s.IsStored) return;
        if (started) op.Changes.Reference(m.Message);
        op.Changes.SaveInflight(s.ClientId, new StoredInflight(m.PacketId, m.Order, new StoredDelivery(m.Message, m.QoS, m.Retain, m.SubscriptionIds), m.State));
    }

    private static void CompleteInflight(BrokerOperation op, Session s, ushort packetId)
    {
        // Read before the session may reuse the record.
        long messageId = s.FindInflight(packetId)?.Message.Id ?? 0;
        if (!s.RemoveInflight(packetId) || !s.IsStored) return;
        op.Changes.RemoveInflight(s.ClientId, packetId);
        op.Changes.Release(messageId);
    }

    private static void RecordInboundQoS2(BrokerOperation op, Session s, ushort packetId, bool awaitingPubRel)
    {
        if (s.IsStored) op.Changes.SetInboundQoS2(s.ClientId, packetId, awaitingPubRel);
    }

    /// <summary>A message published with RETAIN (when retained messages are available) sets, replaces or clears its topic's retained message.</summary>
    private void KeepIfRetained(BrokerOperation op, Message message)
    {
        if (!message.Retain || !Options.RetainAvailable) return;
        var previous = _retained.Set(message);
        if (message.Payload.IsEmpty)
        {
            if (previous is null) return;
            op.Changes.ClearRetained(message.Topic);
        }
        else
        {
            op.Changes.Reference(message);
            op.Changes.SetRetained(message);
        }
        if (previous is not null) op.Changes.Release(previous.Id);
    }

    /// <summary>Rebuilds sessions (offline), subscriptions, queues, inflight flows (resent with DUP=1 on reconnect),
    /// inbound QoS 2 ids, delayed wills and retained messages from the store, and numbers new messages after the stored
    /// ones. Sessions that expired while the broker was down end now (their delayed wills are published); expired
    /// messages at the head of a queue are dropped, the rest when they reach it.</summary>
    private void Recover()
    {
        var started = System.Diagnostics.Stopwatch.StartNew();
        var state = _store.Load();
        Message.ContinueIdsAfter(state.LastMessageId);
        long now = Now;
        using var op = BeginOperation();
        var recovered = new List<(Session Session, bool WasConnected)>();
        foreach (var stored in state.Sessions)
        {
            var session = new Session(stored.ClientId)
            {
                Version = stored.Version,
                ExpiryInterval = stored.ExpiryInterval,
                StoredEpoch = Math.Max(1, stored.Epoch),
                // Connected when the broker stopped: its connection ended then, which is now as far as anyone can tell.
                DisconnectedAt = stored.DisconnectedAt ?? now,
                PendingWill = state.PendingWills.GetValueOrDefault(stored.ClientId),
                // Restored before anything can be published or delivered (expired sessions' wills below, the timer after).
                Identity = stored.ListenerName is { } listener ? new SessionIdentity(listener, stored.UserName, ListenerNamed(listener)) : null,
            };
            foreach (var sub in stored.Subscriptions)
            {
                session.Subscriptions[sub.TopicFilter] = sub;
                _subscriptions.Add(session, sub);
            }
            if (state.Inflight.TryGetValue(stored.ClientId, out var flows))
                foreach (var f in flows)
                {
                    var d = f.Delivery;
                    session.AddInflight(new InflightMessage(f.PacketId, d.Message, d.QoS, d.Retain, d.SubscriptionIds?.ToList())
                    {
                        Order = f.Order,
                        State = f.State,
                        EverSent = true,
                    });
                }
            session.UnsentInflight = session.InflightCount;
            session.SkipPacketIdsInUse();
            if (state.Queues.TryGetValue(stored.ClientId, out var queue))
                foreach (var (sequence, d) in queue)
                {
                    // Straight into the queue, under its stored sequence: it is already recorded.
                    session.RestoreQueued(new QueuedMessage(d.Message, d.QoS, d.Retain, d.SubscriptionIds?.ToList(), sequence));
                }
            if (state.InboundQoS2.TryGetValue(stored.ClientId, out var ids))
                session.InboundQoS2.UnionWith(ids);
            _sessions.Add(session);
            recovered.Add((session, stored.DisconnectedAt is null));
        }
        foreach (var message in state.Retained) _retained.Set(message);
        int unknown = recovered.Count(r => r.Session.Identity?.Policy is null);
        if (unknown > 0 && _anyListenerHasAcl)
            Log.Warning($"{unknown} recovered session(s) name no listener of this config (or were stored by an older version): "
                + "their wills are not published, and messages queued for them are judged by the ACL when they reconnect.");

        int expiredSessions = 0, expiredMessages = 0;
        foreach (var (session, wasConnected) in recovered)
        {
            if (IsExpired(session, now))
            {
                expiredSessions++;
                EndSession(op, session, "expired while the broker was down");
            }
            else
            {
                expiredMessages += PurgeExpiredHead(op, session, now);
                // Connected when the broker stopped: record it as offline since now, or every restart would start its
                // expiry afresh and a client that never returns would keep its session (and queue) for ever.
                if (wasConnected) RecordSession(op, session);
                ScheduleTimers(session);
            }
        }
        // Counted after the purge: what an expired session held did not come back.
        var kept = recovered.Select(r => r.Session).Where(s => _sessions.TryGetValue(s.ClientId, out var current) && current == s).ToList();
        if (state.Sessions.Count > 0 || state.Retained.Count > 0)
            Log.Notice($"Recovered {kept.Count} session(s), {kept.Sum(s => s.QueuedCount)} queued and "
                + $"{kept.Sum(s => s.InflightCount)} inflight message(s), {kept.Sum(s => s.InboundQoS2Count)} QoS 2 flow(s) awaiting PUBREL, "
                + $"{kept.Count(s => s.PendingWill is not null)} delayed will(s) and {_retained.Count} retained message(s) in {started.Elapsed.TotalSeconds:0.###} s"
                + (expiredSessions + expiredMessages > 0 ? $"; purged {expiredSessions} expired session(s) and {expiredMessages} expired message(s)." : "."));
    }
}
