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
        if (s.ExpiryInterval > 0)
            _store.SaveSession(new StoredSession(s.ClientId, s.Version, s.ExpiryInterval, s.SubscriptionCount == 0 ? [] : [.. s.Subscriptions.Values], s.IsConnected ? null : s.DisconnectedAt,
                s.Identity?.ListenerName, s.Identity?.UserName));
        else _store.RemoveSession(s.ClientId);
    }

    /// <summary>A delayed will is kept (or, with null, forgotten) with its session, so it is still published after a restart.</summary>
    private void SetPendingWill(Session s, PendingWill? will)
    {
        if (s.PendingWill is null && will is null) return;
        s.PendingWill = will;
        if (s.ExpiryInterval > 0) _store.SetPendingWill(s.ClientId, will);
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
    /// inbound QoS 2 ids, delayed wills and retained messages from the store. Sessions that expired while the broker
    /// was down end now (their delayed wills are published); expired messages at the head of a queue are dropped,
    /// the rest when they reach it.</summary>
    private void Recover()
    {
        var started = System.Diagnostics.Stopwatch.StartNew();
        var state = _store.Load();
        long now = Now;
        var recovered = new List<(Session Session, bool WasConnected)>();
        foreach (var stored in state.Sessions)
        {
            var session = new Session(stored.ClientId)
            {
                Version = stored.Version,
                ExpiryInterval = stored.ExpiryInterval,
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
                    session.Enqueue(new QueuedMessage(d.Message, d.QoS, d.Retain, d.SubscriptionIds?.ToList()));
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
                EndSession(session, "expired while the broker was down");
            }
            else
            {
                expiredMessages += PurgeExpiredHead(session, now);
                // Connected when the broker stopped: record it as offline since now, or every restart would start its
                // expiry afresh and a client that never returns would keep its session (and queue) for ever.
                if (wasConnected) RecordSession(session);
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
