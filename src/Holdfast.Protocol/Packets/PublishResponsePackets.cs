namespace Holdfast.Protocol;

/// <summary>PUBACK, PUBREC, PUBREL and PUBCOMP share one layout: packet id, reason code, properties.</summary>
public abstract class PublishResponsePacket : MqttPacket, IHasPacketId
{
    public ushort PacketId { get; set; }
    public ReasonCode ReasonCode { get; set; }
    public MqttProperties? Properties { get; set; }

    public static PublishResponsePacket Create(PacketType type) => type switch
    {
        PacketType.PubAck => new PubAckPacket(),
        PacketType.PubRec => new PubRecPacket(),
        PacketType.PubRel => new PubRelPacket(),
        PacketType.PubComp => new PubCompPacket(),
        _ => throw new ArgumentOutOfRangeException(nameof(type)),
    };
}

public sealed class PubAckPacket : PublishResponsePacket { public override PacketType Type => PacketType.PubAck; }
public sealed class PubRecPacket : PublishResponsePacket { public override PacketType Type => PacketType.PubRec; }
public sealed class PubRelPacket : PublishResponsePacket { public override PacketType Type => PacketType.PubRel; }
public sealed class PubCompPacket : PublishResponsePacket { public override PacketType Type => PacketType.PubComp; }
