using Holdfast.Protocol;

namespace Holdfast.Server.Connections;

/// <summary>Mosquitto-style packet trace lines (log_type debug / -v), so operators' grep patterns carry over.</summary>
internal static class PacketTrace
{
    public static string Received(MqttPacket packet, string clientId) => "Received " + Describe(packet, "from " + clientId);

    public static string Sending(MqttPacket packet, string clientId) => "Sending " + Describe(packet, "to " + clientId);

    private static string Describe(MqttPacket packet, string who) => packet switch
    {
        PublishPacket p => $"PUBLISH {who} (d{(p.Dup ? 1 : 0)}, q{(int)p.QoS}, r{(p.Retain ? 1 : 0)}, m{p.PacketId}, '{p.Topic}', ... ({p.Payload.Length} bytes))",
        PublishResponsePacket a => $"{Name(a.Type)} {who} (m{a.PacketId}, rc{(byte)a.ReasonCode})",
        ConnAckPacket c => $"CONNACK {who} ({(c.SessionPresent ? 1 : 0)}, {(byte)c.ReasonCode})",
        ConnectPacket c => $"CONNECT {who} (p{(int)c.ProtocolVersion}, c{(c.CleanStart ? 1 : 0)}, k{c.KeepAlive})",
        SubAckPacket s => $"SUBACK {who} (m{s.PacketId}, [{string.Join(", ", s.ReasonCodes.Select(r => (byte)r))}])",
        UnsubAckPacket u => $"UNSUBACK {who} (m{u.PacketId})",
        SubscribePacket s => $"SUBSCRIBE {who} (m{s.PacketId}, {string.Join(", ", s.Subscriptions.Select(x => $"'{x.TopicFilter}' q{(int)x.MaximumQoS}"))})",
        UnsubscribePacket u => $"UNSUBSCRIBE {who} (m{u.PacketId}, {string.Join(", ", u.TopicFilters.Select(f => $"'{f}'"))})",
        DisconnectPacket d => $"DISCONNECT {who} (rc{(byte)d.ReasonCode})",
        AuthPacket a => $"AUTH {who} (rc{(byte)a.ReasonCode})",
        _ => $"{Name(packet.Type)} {who}",
    };

    private static string Name(PacketType type) => type.ToString().ToUpperInvariant();
}
