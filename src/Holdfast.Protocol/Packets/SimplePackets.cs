namespace Holdfast.Protocol;

public sealed class PingReqPacket : MqttPacket
{
    public static readonly PingReqPacket Instance = new();
    public override PacketType Type => PacketType.PingReq;
}

public sealed class PingRespPacket : MqttPacket
{
    public static readonly PingRespPacket Instance = new();
    public override PacketType Type => PacketType.PingResp;
}

public sealed class DisconnectPacket : MqttPacket
{
    public override PacketType Type => PacketType.Disconnect;
    public ReasonCode ReasonCode { get; set; }
    public MqttProperties? Properties { get; set; }
}

/// <summary>MQTT 5 only.</summary>
public sealed class AuthPacket : MqttPacket
{
    public override PacketType Type => PacketType.Auth;
    public ReasonCode ReasonCode { get; set; }
    public MqttProperties? Properties { get; set; }
}
