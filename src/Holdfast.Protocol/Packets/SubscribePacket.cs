namespace Holdfast.Protocol;

public enum RetainHandling : byte
{
    /// <summary>Send retained messages at the time of the subscribe.</summary>
    SendAtSubscribe = 0,
    /// <summary>Send retained messages only if the subscription does not currently exist.</summary>
    SendAtSubscribeIfNew = 1,
    /// <summary>Do not send retained messages at the time of the subscribe.</summary>
    DoNotSend = 2,
}

/// <summary>One topic filter of a SUBSCRIBE, with its subscription options.</summary>
public sealed class TopicSubscription
{
    public string TopicFilter { get; set; } = "";
    public QualityOfService MaximumQoS { get; set; }
    public bool NoLocal { get; set; }
    public bool RetainAsPublished { get; set; }
    public RetainHandling RetainHandling { get; set; }
}

public sealed class SubscribePacket : MqttPacket, IHasPacketId
{
    public override PacketType Type => PacketType.Subscribe;
    public ushort PacketId { get; set; }
    public MqttProperties? Properties { get; set; }
    public List<TopicSubscription> Subscriptions { get; set; } = [];
}

public sealed class SubAckPacket : MqttPacket, IHasPacketId
{
    public override PacketType Type => PacketType.SubAck;
    public ushort PacketId { get; set; }
    public MqttProperties? Properties { get; set; }
    /// <summary>One per filter. For 3.1.1 only 0x00-0x02 and 0x80 exist; the writer maps any failure to 0x80.</summary>
    public List<ReasonCode> ReasonCodes { get; set; } = [];
}

public sealed class UnsubscribePacket : MqttPacket, IHasPacketId
{
    public override PacketType Type => PacketType.Unsubscribe;
    public ushort PacketId { get; set; }
    public MqttProperties? Properties { get; set; }
    public List<string> TopicFilters { get; set; } = [];
}

public sealed class UnsubAckPacket : MqttPacket, IHasPacketId
{
    public override PacketType Type => PacketType.UnsubAck;
    public ushort PacketId { get; set; }
    public MqttProperties? Properties { get; set; }
    /// <summary>MQTT 5 only; 3.1.1 UNSUBACK has no payload.</summary>
    public List<ReasonCode> ReasonCodes { get; set; } = [];
}
