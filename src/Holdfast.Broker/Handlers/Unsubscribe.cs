using Holdfast.Protocol;

namespace Holdfast.Broker;

// UNSUBSCRIBE (MQTT 5.0 §3.10). Messages already queued for the removed subscription stay queued: they were accepted for this session.
public sealed partial class MqttBroker
{
    public void HandleUnsubscribe(ConnectedClient client, UnsubscribePacket packet)
    {
        lock (_lock)
        {
            using var op = BeginOperation();
            if (client.Closed) return;
            var session = client.Session;
            var codes = new List<ReasonCode>(packet.TopicFilters.Count);
            foreach (var filter in packet.TopicFilters)
            {
                if (!TopicRules.IsValidTopicFilter(filter)) { codes.Add(ReasonCode.TopicFilterInvalid); continue; }
                if (session.Subscriptions.Remove(filter, out var sub))
                {
                    _subscriptions.Remove(session, sub);
                    codes.Add(ReasonCode.Success);
                    Log.Write(LogType.Unsubscribe, $"{client.ClientId} {filter}");
                }
                else
                {
                    codes.Add(ReasonCode.NoSubscriptionExisted);
                }
            }
            RecordSession(op, session);
            SendSessionRecorded(op, client, new UnsubAckPacket { PacketId = packet.PacketId, ReasonCodes = codes });
        }
    }
}
