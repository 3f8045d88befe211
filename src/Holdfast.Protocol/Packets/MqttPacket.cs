namespace Holdfast.Protocol;

/// <summary>An MQTT control packet, decoded. Packets are plain data: no behaviour, no I/O.</summary>
public abstract class MqttPacket
{
    public abstract PacketType Type { get; }
}

/// <summary>A packet that carries a Packet Identifier.</summary>
public interface IHasPacketId
{
    ushort PacketId { get; }
}
