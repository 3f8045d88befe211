using Holdfast.Broker.Routing;
using Holdfast.Broker.Storage;
using static Holdfast.Broker.SessionRecording;

namespace Holdfast.Broker;

/// <summary>
/// Rebuilds the broker from its store at startup: sessions (offline), subscriptions, queues, inflight flows (resent with
/// DUP=1 on reconnect), inbound QoS 2 ids, delayed wills and retained messages, and numbers new messages after the stored
/// ones. Sessions that expired while the broker was down end now (their delayed wills are published); expired messages at
/// the head of a queue are dropped, the rest when they reach it.
/// </summary>
internal sealed class Recovery(BrokerContext context, SessionTable sessions, SubscriptionTree subscriptions, RetainedTree retained,
    AccessRules access, Outbox outbox, SessionTimers timers, SessionLifecycle lifecycle)
{
    public void Recover(IBrokerStore store)
    {
        var log = context.Log;
        var started = System.Diagnostics.Stopwatch.StartNew();
        var state = store.Load(Outbox.HeadLimit);
        Message.ContinueIdsAfter(state.LastMessageId);
        long now = context.Now;
        // Before any client: every shard at once, one operation.
        using var scope = new OperationScope(sessions, ShardSet.Every, lifecycle);
        var op = scope.Operation;
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
                Identity = stored.ListenerName is { } listener ? new SessionIdentity(listener, stored.UserName, access.ListenerNamed(listener)) : null,
            };
            // In its shard before it is in the subscription tree: routing locks a subscriber by its shard.
            sessions.ShardOf(session.ClientId).Add(session);
            foreach (var sub in stored.Subscriptions)
            {
                session.Subscriptions[sub.TopicFilter] = sub;
                subscriptions.Add(session, sub);
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
                foreach (var (sequence, d, ownsBody) in queue)
                {
                    // Straight into the queue, under its stored sequence: it is already recorded.
                    session.RestoreQueued(new QueuedMessage(d.Message, d.QoS, d.Retain, d.SubscriptionIds?.ToList(), sequence, ownsBody));
                }
            // The rest stays on disk until the head drains.
            if (state.QueueTails.TryGetValue(stored.ClientId, out var tail))
                session.RestoreTail(tail.FromSequence, checked((int)tail.Count), tail.Bytes, tail.LastSequence);
            if (state.InboundQoS2.TryGetValue(stored.ClientId, out var ids))
                session.InboundQoS2.UnionWith(ids);
            recovered.Add((session, stored.DisconnectedAt is null));
        }
        foreach (var message in state.Retained) retained.Set(message);
        int unknown = recovered.Count(r => r.Session.Identity?.Policy is null);
        if (unknown > 0 && access.AnyListenerHasAcl)
            log.Warning($"{unknown} recovered session(s) name no listener of this config (or were stored by an older version): "
                + "their wills are not published, and messages queued for them are judged by the ACL when they reconnect.");

        int expiredSessions = 0, expiredMessages = 0;
        foreach (var (session, wasConnected) in recovered)
        {
            if (timers.IsExpired(session, now))
            {
                expiredSessions++;
                lifecycle.EndSession(op, session, "expired while the broker was down");
            }
            else
            {
                expiredMessages += outbox.PurgeExpiredHead(op, session, now);
                // Connected when the broker stopped: record it as offline since now, or every restart would start its
                // expiry afresh and a client that never returns would keep its session (and queue) for ever.
                if (wasConnected) RecordSession(op, session);
                timers.Schedule(session);
            }
        }
        // Counted after the purge: what an expired session held did not come back.
        var kept = recovered.Select(r => r.Session).Where(s => !s.Ended).ToList();
        if (state.Sessions.Count > 0 || state.Retained.Count > 0)
            log.Notice($"Recovered {kept.Count} session(s), {kept.Sum(s => s.QueuedCount)} queued and "
                + $"{kept.Sum(s => s.InflightCount)} inflight message(s), {kept.Sum(s => s.InboundQoS2Count)} QoS 2 flow(s) awaiting PUBREL, "
                + $"{kept.Count(s => s.PendingWill is not null)} delayed will(s) and {retained.Count} retained message(s) in {started.Elapsed.TotalSeconds:0.###} s"
                + (expiredSessions + expiredMessages > 0 ? $"; purged {expiredSessions} expired session(s) and {expiredMessages} expired message(s)." : "."));
    }
}
