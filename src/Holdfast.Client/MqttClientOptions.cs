using Holdfast.Protocol;

namespace Holdfast.Client;

/// <summary>What a client says in its CONNECT, and how it reaches the broker.</summary>
public sealed class MqttClientOptions
{
    public string Host { get; set; } = "localhost";
    public int Port { get; set; } = 1883;
    public ProtocolVersion Version { get; set; } = ProtocolVersion.V500;
    /// <summary>Empty asks the broker to assign one (MQTT 5) or, on 3.1.1, needs <see cref="CleanStart"/>.</summary>
    public string ClientId { get; set; } = "";
    /// <summary>Clean Session (3.1.1) / Clean Start (5.0).</summary>
    public bool CleanStart { get; set; } = true;
    /// <summary>Seconds; 0 turns keep-alive off.</summary>
    public ushort KeepAlive { get; set; } = 60;
    /// <summary>MQTT 5 only; 3.1.1 keeps a session exactly when <see cref="CleanStart"/> is false.</summary>
    public uint SessionExpiryInterval { get; set; }
    /// <summary>MQTT 5 Receive Maximum: how many QoS 1/2 messages the broker may have unacknowledged with us (null: 65,535).</summary>
    public ushort? ReceiveMaximum { get; set; }
    /// <summary>Further MQTT 5 CONNECT properties (user properties, maximum packet size...).</summary>
    public MqttProperties? Properties { get; set; }
    public string? UserName { get; set; }
    public byte[]? Password { get; set; }
    public WillMessage? Will { get; set; }
    /// <summary>Null: plain TCP.</summary>
    public ClientTlsOptions? Tls { get; set; }
    public TimeSpan ConnectTimeout { get; set; } = TimeSpan.FromSeconds(10);
    /// <summary>Bytes the receive side reads at a time. It is held while a receive waits, so thousands of idle connections
    /// (holdfast bench connections) want it small.</summary>
    public int ReceiveBufferSize { get; set; } = 64 * 1024;
    /// <summary>Called for every packet sent (true) or received (false), on the thread that moved it; for -d.</summary>
    public Action<bool, MqttPacket>? Trace { get; set; }

    public MqttClientOptions Clone()
    {
        var copy = (MqttClientOptions)MemberwiseClone();
        copy.Properties = Properties?.Clone();
        return copy;
    }

    internal ConnectPacket ToConnectPacket()
    {
        MqttProperties? properties = null;
        if (Version == ProtocolVersion.V500)
        {
            properties = Properties?.Clone() ?? new MqttProperties();
            if (SessionExpiryInterval > 0) properties.SessionExpiryInterval = SessionExpiryInterval;
            if (ReceiveMaximum is { } receiveMaximum) properties.ReceiveMaximum = receiveMaximum;
        }
        return new ConnectPacket
        {
            ProtocolName = Version == ProtocolVersion.V310 ? "MQIsdp" : "MQTT",
            ProtocolVersion = Version,
            ClientId = ClientId,
            CleanStart = CleanStart,
            KeepAlive = KeepAlive,
            Properties = properties,
            Will = Will,
            UserName = UserName,
            Password = Password,
        };
    }
}
