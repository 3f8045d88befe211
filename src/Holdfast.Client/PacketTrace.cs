using Holdfast.Protocol;

namespace Holdfast.Client;

/// <summary>One line per packet in mosquitto_pub/mosquitto_sub's -d style, e.g.
/// <c>Client sensor-1 sending PUBLISH (d0, q1, r0, m1, 'plant/temp', ... (5 bytes))</c>.</summary>
public static class PacketTrace
{
    public static string Describe(string clientId, bool sent, MqttPacket packet)
    {
        string who = clientId.Length == 0 ? "(null)" : clientId;
        return $"Client {who} {(sent ? "sending" : "received")} {Details(packet)}";
    }

    private static string Details(MqttPacket packet) => packet switch
    {
        ConnectPacket => "CONNECT",
        ConnAckPacket c => $"CONNACK ({(byte)c.ReasonCode})",
        PublishPacket p => $"PUBLISH {PacketSummary.Publish(p)}",
        PublishResponsePacket r => $"{PacketSummary.Name(r.Type)} (Mid: {r.PacketId}, RC:{(byte)r.ReasonCode})",
        SubscribePacket s => $"SUBSCRIBE (Mid: {s.PacketId}, "
            + string.Join(", ", s.Subscriptions.Select(t => $"Topic: {t.TopicFilter}, QoS: {(int)t.MaximumQoS}")) + ")",
        SubAckPacket s => $"SUBACK (Mid: {s.PacketId}, QoS: {string.Join(", ", s.ReasonCodes.Select(c => ((byte)c).ToString()))})",
        UnsubscribePacket u => $"UNSUBSCRIBE (Mid: {u.PacketId}, Topic: {string.Join(", ", u.TopicFilters)})",
        UnsubAckPacket u => $"UNSUBACK (Mid: {u.PacketId})",
        DisconnectPacket d => d.ReasonCode == ReasonCode.NormalDisconnection ? "DISCONNECT" : $"DISCONNECT ({(byte)d.ReasonCode})",
        _ => PacketSummary.Name(packet.Type),
    };
}
