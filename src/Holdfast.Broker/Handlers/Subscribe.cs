using Holdfast.Protocol;

namespace Holdfast.Broker;

// SUBSCRIBE: filters, options, subscription identifiers, shared subscriptions, retained messages on subscribe (MQTT 5.0 §3.8).
public sealed partial class MqttBroker
{
    public void HandleSubscribe(ConnectedClient client, SubscribePacket packet)
    {
        lock (_lock)
        {
            using var op = BeginOperation();
            if (client.Closed) return;
            var session = client.Session;
            uint? subscriptionId = client.IsV5 ? packet.Properties?.SubscriptionIdentifier : null;
            var codes = new List<ReasonCode>(packet.Subscriptions.Count);
            var retainedToSend = new List<(Message message, Subscription sub)>();

            foreach (var request in packet.Subscriptions)
            {
                string filter = request.TopicFilter;
                if (!TopicRules.IsValidTopicFilter(filter))
                {
                    codes.Add(ReasonCode.TopicFilterInvalid);
                    Log.Write(LogType.Subscribe, $"{client.ClientId} invalid filter '{filter}'");
                    continue;
                }
                string? group = null;
                string matchFilter = filter;
                if (TopicRules.TryParseShared(filter, out var g, out var inner))
                {
                    // No Local on a shared subscription is a Protocol Error [MQTT-3.8.3-4].
                    if (request.NoLocal && client.IsV5)
                    {
                        Disconnect(op, client, ReasonCode.ProtocolError, "no local on a shared subscription");
                        return;
                    }
                    group = g;
                    matchFilter = inner;
                }
                if (!MaySubscribe(client, matchFilter))
                {
                    codes.Add(ReasonCode.NotAuthorized);
                    Log.Write(LogType.Subscribe, $"{client.ClientId} denied {filter}");
                    continue;
                }

                var sub = new Subscription(filter, request.MaximumQoS, request.NoLocal, request.RetainAsPublished,
                    request.RetainHandling, subscriptionId) { ShareGroup = group, MatchFilter = matchFilter };
                bool existed = session.Subscriptions.Remove(filter, out var previous);
                if (existed) _subscriptions.Remove(session, previous!);
                session.Subscriptions[filter] = sub;
                _subscriptions.Add(session, sub);
                codes.Add((ReasonCode)(byte)request.MaximumQoS);
                Log.Write(LogType.Subscribe, $"{client.ClientId} {(int)request.MaximumQoS} {filter}");

                // Retained messages are not sent for a shared subscription [MQTT-4.8.2-? / §4.8.2].
                bool sendRetained = group is null && (request.RetainHandling == RetainHandling.SendAtSubscribe
                    || (request.RetainHandling == RetainHandling.SendAtSubscribeIfNew && !existed));
                if (sendRetained)
                    foreach (var message in _retained.Match(matchFilter, Now))
                        retainedToSend.Add((message, sub));
            }

            RecordSession(op, session);
            SendSessionRecorded(op, client, new SubAckPacket { PacketId = packet.PacketId, ReasonCodes = codes });

            foreach (var (message, sub) in retainedToSend)
            {
                if (sub.NoLocal && message.PublisherClientId == session.ClientId) continue;
                var qos = (QualityOfService)Math.Min((int)message.QoS, (int)sub.MaximumQoS);
                // Retained messages sent because of a new subscription always carry RETAIN=1 [MQTT-3.3.1-9].
                Deliver(op, session, message, qos, retain: true, sub.SubscriptionIdentifier is { } id ? [id] : null, retainedOnSubscribe: true);
            }
        }
    }
}
