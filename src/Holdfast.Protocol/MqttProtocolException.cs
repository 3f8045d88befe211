namespace Holdfast.Protocol;

/// <summary>A packet broke the protocol. <see cref="ReasonCode"/> is the code MQTT 5 names for it
/// (0x81 Malformed Packet, 0x82 Protocol Error, 0x95 Packet Too Large, ...); for MQTT 3.1.1 the
/// connection is simply closed.</summary>
public sealed class MqttProtocolException(ReasonCode reasonCode, string message) : Exception(message)
{
    public ReasonCode ReasonCode { get; } = reasonCode;

    /// <summary>The type of the packet that failed to decode, once the fixed header named it.</summary>
    public PacketType? PacketType { get; init; }

    public static MqttProtocolException Malformed(string message) => new(ReasonCode.MalformedPacket, message);
    public static MqttProtocolException ProtocolError(string message) => new(ReasonCode.ProtocolError, message);
}
