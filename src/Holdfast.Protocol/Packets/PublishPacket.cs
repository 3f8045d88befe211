namespace Holdfast.Protocol;

public sealed class PublishPacket : MqttPacket, IHasPacketId
{
    public override PacketType Type => PacketType.Publish;
    public bool Dup { get; set; }
    public QualityOfService QoS { get; set; }
    public bool Retain { get; set; }
    /// <summary>May be empty on MQTT 5 when a Topic Alias stands for it.</summary>
    public string Topic { get; set; } = "";
    public ushort PacketId { get; set; }
    public MqttProperties? Properties { get; set; }
    /// <summary>The application message. Shared, never copied per subscriber.</summary>
    public ReadOnlyMemory<byte> Payload { get; set; }
}
