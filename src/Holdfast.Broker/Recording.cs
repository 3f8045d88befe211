using Holdfast.Broker.Storage;
using Holdfast.Protocol;

namespace Holdfast.Broker;

// The write-through record of durable state (IBrokerStore), and recovery from it at startup. Only sessions
// that outlive their connection are recorded: a session with expiry 0 has nothing to recover.
public sealed partial class MqttBroker
{
    private readonly IBrokerStore _store;

    private void RecordSession(Session s)
    {
        if (s.ExpiryInterval > 0) _store.SaveSession(new StoredSession(s.ClientId, s.Version, s.ExpiryInterval, [.. s.Subscriptions.Values]));
        else _store.RemoveSession(s.ClientId);
    }

    private void RecordQueued(Session s, QueuedMessage q)
    {
        if (s.ExpiryInterval > 0) _store.AddQueued(s.ClientId, new StoredDelivery(q.Message, q.QoS, q.Retain, q.SubscriptionIds));
    }

    private void RecordDequeued(Session s)
    {
        if (s.ExpiryInterval > 0) _store.RemoveOldestQueued(s.ClientId);
    }

    private void RecordInflight(Session s, InflightMessage m)
    {
        if (s.ExpiryInterval > 0)
            _store.SaveInflight(s.ClientId, new StoredInflight(m.PacketId, new StoredDelivery(m.Message, m.QoS, m.Retain, m.SubscriptionIds), m.State));
    }

    private void CompleteInflight(Session s, ushort packetId)
    {
        s.RemoveInflight(packetId);
        if (s.ExpiryInterval > 0) _store.RemoveInflight(s.ClientId, packetId);
    }

    private void RecordInboundQoS2(Session s, ushort packetId, bool awaitingPubRel)
    {
        if (s.ExpiryInterval > 0) _store.SetInboundQoS2(s.ClientId, packetId, awaitingPubRel);
    }

    /// <summary>A message published with RETAIN (when retained messages are available) sets, replaces or clears its topic's retained message.</summary>
    private void KeepIfRetained(Message message)
    {
        if (!message.Retain || !Options.RetainAvailable) return;
        _retained.Set(message);
        _store.SetRetained(message);
    }

    /// <summary>Rebuilds sessions (offline), subscriptions, queues, inflight flows (resent with DUP=1 on reconnect),
    /// inbound QoS 2 ids and retained messages from the store.</summary>
    private void Recover()
    {
        var state = _store.Load();
        long now = Now;
        foreach (var stored in state.Sessions)
        {
            var session = new Session(stored.ClientId)
            {
                Version = stored.Version,
                ExpiryInterval = stored.ExpiryInterval,
                DisconnectedAt = now,
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
                        State = f.State,
                        EverSent = true,
                    });
                }
            session.UnsentInflight = session.InflightCount;
            session.SkipPacketIdsInUse();
            if (state.Queues.TryGetValue(stored.ClientId, out var queue))
                foreach (var d in queue)
                {
                    // Straight into the queue: it is already recorded.
                    session.Queue.Enqueue(new QueuedMessage(d.Message, d.QoS, d.Retain, d.SubscriptionIds?.ToList()));
                    session.QueuedBytes += d.Message.Size;
                    if (d.QoS == QualityOfService.AtMostOnce) session.QueuedQoS0++;
                }
            if (state.InboundQoS2.TryGetValue(stored.ClientId, out var ids))
                session.InboundQoS2.UnionWith(ids);
            _sessions[session.ClientId] = session;
        }
        foreach (var message in state.Retained) _retained.Set(message);
        if (state.Sessions.Count > 0 || state.Retained.Count > 0)
            Log.Notice($"Recovered {state.Sessions.Count} session(s), {state.Queues.Values.Sum(q => q.Count)} queued and {state.Inflight.Values.Sum(f => f.Count)} inflight message(s), {state.Retained.Count} retained message(s).");
    }
}
