using System.Collections.Concurrent;
using Holdfast.Broker.Routing;
using Holdfast.Protocol;

namespace Holdfast.Broker;

/// <summary>
/// Routes a message to the sessions whose subscriptions match it (each gets it through its <see cref="Outbox"/>) and
/// keeps a retained message. <see cref="Match"/> is called before any session lock is taken (the subscription tree has its
/// own lock and cache) and names the session shards the routing needs; the caller locks them in order
/// (<see cref="OperationScope"/>), and <see cref="Route"/> delivers under them. For the block policy that makes "room in
/// every queue" and "delivered to every queue" one step: nothing can fill a queue between the check and the delivery.
/// </summary>
internal sealed class Distributor(BrokerContext context, SessionTable sessions, SubscriptionTree subscriptions, RetainedTree retained, Outbox outbox)
{
    private const int MaxIdentifierLists = 4096;
    private readonly ConcurrentDictionary<uint, List<uint>> _identifierLists = new();

    /// <summary>Matches <paramref name="topic"/> and names the shards routing it needs: <paramref name="alsoLocked"/> (the
    /// publisher's, or a will's session's, when the same operation changes it), its subscribers', every member of its
    /// shared groups (one is picked under the locks), and, for a retained message, the topic's own (see
    /// <see cref="SessionTable.ShardOf"/>).</summary>
    public MatchResult Match(string topic, bool retain, SessionShard? alsoLocked, out ShardSet shards)
    {
        var match = subscriptions.Match(topic);
        shards = ShardsFor(match, topic, retain, alsoLocked);
        return match;
    }

    /// <summary>Matches a client's PUBLISH as <see cref="Match"/> does, with the publisher's shard. A client publishing to
    /// the topic of its last PUBLISH, no subscription changed since, is answered from what that one matched
    /// (<see cref="ConnectedClient.LastMatch"/>): clients mostly publish to a few topics, again and again.</summary>
    public MatchResult MatchPublish(ConnectedClient publisher, string topic, bool retain, out ShardSet shards)
    {
        var match = subscriptions.Match(topic, ref publisher.LastMatch);
        shards = ShardsFor(match, topic, retain, publisher.Session.Shard);
        return match;
    }

    private ShardSet ShardsFor(MatchResult match, string topic, bool retain, SessionShard? alsoLocked)
    {
        var shards = new ShardSet();
        if (alsoLocked is not null) shards.Add(alsoLocked);
        foreach (var (session, _) in match.Subscribers) if (session.Shard is { } shard) shards.Add(shard);
        foreach (var group in match.SharedGroups)
            foreach (var (member, _) in group.Members) if (member.Shard is { } shard) shards.Add(shard);
        if (retain && context.Options.RetainAvailable) shards.Add(sessions.ShardOf(topic));
        // At least one lock: the operation (and its change set) belongs to a shard.
        if (shards.IsEmpty) shards.Add(sessions.ShardOf(topic));
        return shards;
    }

    /// <summary>
    /// Routes a message to every session of <paramref name="match"/>, under the locks of the shards
    /// <see cref="Match"/> named. With <paramref name="blockWhenFull"/> (the default queue_full_policy for QoS 1/2
    /// publishes) nothing is delivered anywhere when one target's queue is full, so the publisher can be refused or held
    /// back without a partial delivery (<see cref="RouteScratch.FullSession"/> names the session that was full).
    /// </summary>
    public RouteResult Route(BrokerOperation op, Message message, MatchResult match, ShardSet held, bool blockWhenFull)
    {
        var scratch = op.Routing;
        scratch.Clear();
        var targets = scratch.Targets;
        var deliveries = scratch.Deliveries;
        // A No Local subscription of the publisher's own still counts as a subscriber (no 0x10), as for Mosquitto.
        bool ownNoLocal = false;
        foreach (var (session, sub) in match.Subscribers)
        {
            // Ended (or replaced) since the match was made.
            if (session.Ended || !held.Contains(session.Shard)) continue;
            if (sub.NoLocal && session.ClientId == message.PublisherClientId) { ownNoLocal = true; continue; }
            var qos = (QualityOfService)Math.Min((int)message.QoS, (int)sub.MaximumQoS);
            // Each session once (one filter matched): a delivery per subscription, with nothing to merge.
            if (!match.SessionsMayRepeat)
            {
                deliveries.Add((session, new DeliveryTarget
                {
                    QoS = qos,
                    RetainAsPublished = sub.RetainAsPublished,
                    SubscriptionIds = sub.SubscriptionIdentifier is { } only ? IdentifierList(only) : null,
                }));
                continue;
            }
            if (targets.TryGetValue(session, out var t))
            {
                if (qos > t.QoS) t.QoS = qos;
                t.RetainAsPublished |= sub.RetainAsPublished;
            }
            else
            {
                t = new DeliveryTarget { QoS = qos, RetainAsPublished = sub.RetainAsPublished };
            }
            // A new list for a second identifier: lists handed to deliveries are shared and never changed.
            if (sub.SubscriptionIdentifier is { } id) t.SubscriptionIds = t.SubscriptionIds is null ? IdentifierList(id) : [.. t.SubscriptionIds, id];
            targets[session] = t;
        }

        foreach (var (session, t) in targets) deliveries.Add((session, t));

        // A shared group delivers each message to one member, chosen round-robin among those able to take it. It is a
        // subscription of its own: a member that also matches plainly gets both copies.
        foreach (var group in match.SharedGroups)
        {
            // Among the members that may read it: one that may not would drop it for the whole group. When none may, the
            // member picked drops it (counted). Only members whose shards are held (one that joined after the match waits
            // for the next message), and none that ended.
            if (!group.TryPick(static (s, state) => !s.Ended && state.Held.Contains(s.Shard),
                    static (s, state) => AccessRules.MayRead(s, state.Topic), (Topic: message.Topic, Held: held), out var picked)) continue;
            var (member, sub) = picked;
            deliveries.Add((member, new DeliveryTarget
            {
                QoS = (QualityOfService)Math.Min((int)message.QoS, (int)sub.MaximumQoS),
                RetainAsPublished = sub.RetainAsPublished,
                SubscriptionIds = sub.SubscriptionIdentifier is { } id ? IdentifierList(id) : null,
            }));
        }

        if (deliveries.Count == 0) return ownNoLocal ? RouteResult.Accepted : RouteResult.NoSubscribers;

        if (blockWhenFull)
            foreach (var (session, t) in deliveries)
                // Only a session whose policy now is to block holds the message back (an offline one under end_session is
                // ended instead, see Outbox.Deliver). A subscriber that may not read the message will not get it, so its
                // full queue holds nothing back.
                if (t.QoS > 0 && Outbox.MustQueue(session) && outbox.PolicyFor(session) == QueueFullPolicy.Block
                    && outbox.IsQueueFull(op, session, message) && AccessRules.MayRead(session, message.Topic))
                {
                    scratch.FullSession = session;
                    return RouteResult.QueueFull;
                }

        foreach (var (session, t) in deliveries)
            outbox.Deliver(op, session, message, t.QoS, message.Retain && t.RetainAsPublished, t.SubscriptionIds);
        return RouteResult.Accepted;
    }

    /// <summary>The list of one subscription identifier that deliveries matching only that subscription carry: made once
    /// and shared, so that routing to subscriptions with identifiers allocates nothing per message. Bounded: forgotten
    /// when too many identifiers were seen (the lists given out stay valid, they are never changed).</summary>
    private List<uint> IdentifierList(uint id)
    {
        if (_identifierLists.TryGetValue(id, out var list)) return list;
        if (_identifierLists.Count >= MaxIdentifierLists) _identifierLists.Clear();
        return _identifierLists.GetOrAdd(id, static id => [id]);
    }

    /// <summary>A message published with RETAIN (when retained messages are available) sets, replaces or clears its topic's
    /// retained message; under its topic's shard lock (see <see cref="Match"/>), so the store records the same order.</summary>
    public void KeepIfRetained(BrokerOperation op, Message message)
    {
        if (!message.Retain || !context.Options.RetainAvailable) return;
        var previous = retained.Set(message);
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

    /// <summary>Publishes a message from the broker itself (a will, a $SYS value) as an operation of its own. Never blocks:
    /// a full queue drops it, counted.</summary>
    public void Publish(Message message, SessionLifecycle lifecycle)
    {
        var match = Match(message.Topic, message.Retain, alsoLocked: null, out var shards);
        using var scope = new OperationScope(sessions, shards, lifecycle);
        // A $SYS value describes this run of the broker: retained in memory only, never stored.
        if (message.FromBroker) retained.Set(message);
        else KeepIfRetained(scope.Operation, message);
        Route(scope.Operation, message, match, shards, blockWhenFull: false);
    }
}
