using Holdfast.Protocol;

namespace Holdfast.Server.Connections;

/// <summary>Mosquitto's packet trace lines (log_type debug / -v), word for word where Mosquitto has one, so
/// operators' grep patterns carry over.</summary>
internal static class PacketTrace
{
    /// <summary>Lines for a received packet; CONNECT has none (Mosquitto reports the connection instead).</summary>
    public static IEnumerable<string> Received(MqttPacket packet, string clientId)
    {
        switch (packet)
        {
            case ConnectPacket:
                yield break;
            case PublishPacket p:
                yield return $"Received PUBLISH from {clientId} {PacketSummary.Publish(p)}";
                break;
            case PubAckPacket or PubCompPacket:
                var a = (PublishResponsePacket)packet;
                yield return $"Received {PacketSummary.Name(a.Type)} from {clientId} (Mid: {a.PacketId}, RC:{(byte)a.ReasonCode})";
                break;
            case PubRecPacket or PubRelPacket:
                yield return $"Received {PacketSummary.Name(packet.Type)} from {clientId} (Mid: {((PublishResponsePacket)packet).PacketId})";
                break;
            case SubscribePacket s:
                yield return $"Received SUBSCRIBE from {clientId}";
                foreach (var sub in s.Subscriptions) yield return $"\t{sub.TopicFilter} (QoS {(int)sub.MaximumQoS})";
                break;
            case UnsubscribePacket u:
                yield return $"Received UNSUBSCRIBE from {clientId}";
                foreach (var filter in u.TopicFilters) yield return $"\t{filter}";
                break;
            case DisconnectPacket { ReasonCode: not ReasonCode.NormalDisconnection } d:
                yield return $"Received DISCONNECT from {clientId} (rc{(byte)d.ReasonCode})";
                break;
            case AuthPacket auth:
                yield return $"Received AUTH from {clientId} (rc{(byte)auth.ReasonCode})";
                break;
            default:
                yield return $"Received {PacketSummary.Name(packet.Type)} from {clientId}";
                break;
        }
    }

    public static string Sending(MqttPacket packet, string clientId) => packet switch
    {
        PublishPacket p => $"Sending PUBLISH to {clientId} {PacketSummary.Publish(p)}",
        PubAckPacket or PubRecPacket => $"Sending {PacketSummary.Name(packet.Type)} to {clientId} (m{((PublishResponsePacket)packet).PacketId}, rc{(byte)((PublishResponsePacket)packet).ReasonCode})",
        PubRelPacket or PubCompPacket => $"Sending {PacketSummary.Name(packet.Type)} to {clientId} (m{((PublishResponsePacket)packet).PacketId})",
        ConnAckPacket c => $"Sending CONNACK to {clientId} ({(c.SessionPresent ? 1 : 0)}, {(byte)c.ReasonCode})",
        DisconnectPacket d => $"Sending DISCONNECT to {clientId} (rc{(byte)d.ReasonCode})",
        AuthPacket a => $"Sending AUTH to {clientId} (rc{(byte)a.ReasonCode})",
        _ => $"Sending {PacketSummary.Name(packet.Type)} to {clientId}",
    };
}
