namespace Holdfast.Protocol;

public sealed class ConnAckPacket : MqttPacket
{
    public override PacketType Type => PacketType.ConnAck;
    public bool SessionPresent { get; set; }
    /// <summary>For 3.1/3.1.1 the writer maps this to a CONNACK return code (<see cref="ReasonCodes.ToV311"/>).</summary>
    public ReasonCode ReasonCode { get; set; }
    public MqttProperties? Properties { get; set; }
}
