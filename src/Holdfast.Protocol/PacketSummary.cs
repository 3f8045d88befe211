namespace Holdfast.Protocol;

/// <summary>Packets as Mosquitto's log and mosquitto_pub/sub's -d name and summarise them, word for word, so that
/// operators' grep patterns carry over between Mosquitto, Holdfast's log and Holdfast's tools.</summary>
public static class PacketSummary
{
    /// <summary>The packet's name as Mosquitto writes it: PUBLISH, PUBACK, SUBSCRIBE...</summary>
    public static string Name(PacketType type) => type.ToString().ToUpperInvariant();

    /// <summary>A PUBLISH's flags, packet id, topic and payload size: <c>(d0, q1, r0, m12, 'plant/temp', ... (5 bytes))</c>.
    /// <paramref name="topic"/> stands in for the packet's own topic, which is empty when the publisher sent a topic alias.</summary>
    public static string Publish(PublishPacket packet, string? topic = null) =>
        $"(d{Bit(packet.Dup)}, q{(int)packet.QoS}, r{Bit(packet.Retain)}, m{packet.PacketId}, '{topic ?? packet.Topic}', ... ({packet.Payload.Length} bytes))";

    private static int Bit(bool value) => value ? 1 : 0;
}
