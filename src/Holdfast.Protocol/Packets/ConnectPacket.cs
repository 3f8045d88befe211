namespace Holdfast.Protocol;

public sealed class ConnectPacket : MqttPacket
{
    public override PacketType Type => PacketType.Connect;

    /// <summary>"MQTT" for 3.1.1 and 5.0, "MQIsdp" for 3.1.</summary>
    public string ProtocolName { get; set; } = "MQTT";
    public ProtocolVersion ProtocolVersion { get; set; } = ProtocolVersion.V311;
    /// <summary>Clean Session (3.1.1) / Clean Start (5.0).</summary>
    public bool CleanStart { get; set; } = true;
    public ushort KeepAlive { get; set; }
    public string ClientId { get; set; } = "";
    public MqttProperties? Properties { get; set; }
    public WillMessage? Will { get; set; }
    public string? UserName { get; set; }
    public byte[]? Password { get; set; }
}

/// <summary>The will of a CONNECT packet.</summary>
public sealed class WillMessage
{
    public string Topic { get; set; } = "";
    public byte[] Payload { get; set; } = [];
    public QualityOfService QoS { get; set; }
    public bool Retain { get; set; }
    public MqttProperties? Properties { get; set; }
}
