namespace Holdfast.Protocol;

/// <summary>Which reason codes each packet may carry (MQTT 5.0 chapter 3, per packet).</summary>
internal static class ReasonCodeRules
{
    public static bool IsValidFor(PacketType type, ReasonCode code) => type switch
    {
        PacketType.PubAck or PacketType.PubRec => (byte)code is 0x00 or 0x10 or 0x80 or 0x83 or 0x87 or 0x90 or 0x91 or 0x97 or 0x99,
        PacketType.PubRel or PacketType.PubComp => (byte)code is 0x00 or 0x92,
        PacketType.Auth => (byte)code is 0x00 or 0x18 or 0x19,
        PacketType.Disconnect => (byte)code is 0x00 or 0x04 or (>= 0x80 and <= 0xA2) && code is not (ReasonCode.ClientIdentifierNotValid
            or ReasonCode.BadUserNameOrPassword or ReasonCode.ServerUnavailable or ReasonCode.Banned or ReasonCode.BadAuthenticationMethod
            or ReasonCode.PacketIdentifierInUse or ReasonCode.PacketIdentifierNotFound or ReasonCode.UnsupportedProtocolVersion),
        _ => true,
    };
}
