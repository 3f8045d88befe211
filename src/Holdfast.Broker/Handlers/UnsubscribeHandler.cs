using Holdfast.Broker.Routing;
using Holdfast.Protocol;
using static Holdfast.Broker.SessionRecording;

namespace Holdfast.Broker;

/// <summary>UNSUBSCRIBE (MQTT 5.0 §3.10), under its session's shard lock. Messages already queued for the removed
/// subscription stay queued: they were accepted for this session.</summary>
internal sealed class UnsubscribeHandler(BrokerContext context, SessionTable sessions, SubscriptionTree subscriptions, SessionLifecycle lifecycle)
{
    public void Handle(ConnectedClient client, UnsubscribePacket packet)
    {
        var session = client.Session;
        using var scope = new OperationScope(sessions, ShardSet.Of(session.Shard), lifecycle);
        if (client.Closed) return;
        var codes = new List<ReasonCode>(packet.TopicFilters.Count);
        foreach (var filter in packet.TopicFilters)
        {
            if (!TopicRules.IsValidTopicFilter(filter)) { codes.Add(ReasonCode.TopicFilterInvalid); continue; }
            // As Mosquitto: a refused UNSUBSCRIBE leaves the subscription in place (MQTT 3.1.1 has no code to say so).
            // Checked against the filter without $share/GROUP/, as SUBSCRIBE is.
            string checkedFilter = TopicRules.TryParseShared(filter, out _, out var inner) ? inner : filter;
            if (!AccessRules.MayUnsubscribe(client, checkedFilter)) { codes.Add(ReasonCode.NotAuthorized); continue; }
            if (session.Subscriptions.Remove(filter, out var sub))
            {
                subscriptions.Remove(session, sub);
                codes.Add(ReasonCode.Success);
                context.Log.Write(LogType.Unsubscribe, $"{client.ClientId} {filter}");
            }
            else
            {
                codes.Add(ReasonCode.NoSubscriptionExisted);
            }
        }
        RecordSession(scope.Operation, session);
        Outbox.SendSessionRecorded(scope.Operation, client, new UnsubAckPacket { PacketId = packet.PacketId, ReasonCodes = codes });
    }
}
