using Holdfast.Broker.Routing;
using Holdfast.Protocol;
using static Holdfast.Broker.SessionRecording;

namespace Holdfast.Broker;

/// <summary>SUBSCRIBE: filters, options, subscription identifiers, shared subscriptions, retained messages on subscribe
/// (MQTT 5.0 §3.8). Under its session's shard lock; the subscription tree and the retained tree have their own locks.</summary>
internal sealed class SubscribeHandler(BrokerContext context, SessionTable sessions, SubscriptionTree subscriptions, RetainedTree retained,
    SessionLifecycle lifecycle, Outbox outbox)
{
    public void Handle(ConnectedClient client, SubscribePacket packet)
    {
        var log = context.Log;
        var session = client.Session;
        using var scope = new OperationScope(sessions, ShardSet.Of(session.Shard), lifecycle);
        var op = scope.Operation;
        if (client.Closed) return;
        uint? subscriptionId = client.IsV5 ? packet.Properties?.SubscriptionIdentifier : null;
        var codes = new List<ReasonCode>(packet.Subscriptions.Count);
        var retainedToSend = new List<(Message message, Subscription sub)>();

        foreach (var request in packet.Subscriptions)
        {
            string filter = request.TopicFilter;
            if (!TopicRules.IsValidTopicFilter(filter))
            {
                codes.Add(ReasonCode.TopicFilterInvalid);
                log.Write(LogType.Subscribe, $"{client.ClientId} invalid filter '{filter}'");
                continue;
            }
            string? group = null;
            string matchFilter = filter;
            if (TopicRules.TryParseShared(filter, out var g, out var inner))
            {
                // No Local on a shared subscription is a Protocol Error [MQTT-3.8.3-4].
                if (request.NoLocal && client.IsV5)
                {
                    lifecycle.Disconnect(op, client, ReasonCode.ProtocolError, "no local on a shared subscription");
                    return;
                }
                group = g;
                matchFilter = inner;
            }
            if (!AccessRules.MaySubscribe(client, matchFilter))
            {
                codes.Add(ReasonCode.NotAuthorized);
                log.Write(LogType.Subscribe, $"{client.ClientId} denied {filter}");
                continue;
            }

            // max_qos: granted at most the listener's maximum, as Mosquitto grants it.
            var granted = request.MaximumQoS > client.Policy.MaximumQoS ? client.Policy.MaximumQoS : request.MaximumQoS;
            var sub = new Subscription(filter, granted, request.NoLocal, request.RetainAsPublished,
                request.RetainHandling, subscriptionId) { ShareGroup = group, MatchFilter = matchFilter };
            bool existed = session.Subscriptions.Remove(filter, out var previous);
            if (existed) subscriptions.Remove(session, previous!);
            session.Subscriptions[filter] = sub;
            subscriptions.Add(session, sub);
            codes.Add((ReasonCode)(byte)granted);
            log.Write(LogType.Subscribe, $"{client.ClientId} {(int)granted} {filter}");

            // Retained messages are not sent for a shared subscription [MQTT-4.8.2-? / §4.8.2].
            bool sendRetained = group is null && (request.RetainHandling == RetainHandling.SendAtSubscribe
                || (request.RetainHandling == RetainHandling.SendAtSubscribeIfNew && !existed));
            if (sendRetained)
                foreach (var message in retained.Match(matchFilter, context.Now))
                    retainedToSend.Add((message, sub));
        }

        RecordSession(op, session);
        Outbox.SendSessionRecorded(op, client, new SubAckPacket { PacketId = packet.PacketId, ReasonCodes = codes });

        foreach (var (message, sub) in retainedToSend)
        {
            if (sub.NoLocal && message.PublisherClientId == session.ClientId) continue;
            var qos = (QualityOfService)Math.Min((int)message.QoS, (int)sub.MaximumQoS);
            // Retained messages sent because of a new subscription always carry RETAIN=1 [MQTT-3.3.1-9].
            outbox.Deliver(op, session, message, qos, retain: true, sub.SubscriptionIdentifier is { } id ? [id] : null, retainedOnSubscribe: true);
        }
    }
}
