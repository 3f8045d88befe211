namespace Holdfast.Protocol;

internal static class PublishDecoder
{
    public static PublishPacket Decode(int flags, ref MqttSpanReader r, ProtocolVersion version)
    {
        var qos = (flags >> 1) & 3;
        if (qos == 3) throw MqttProtocolException.Malformed("PUBLISH with QoS 3");
        bool dup = (flags & 8) != 0;
        if (qos == 0 && dup) throw MqttProtocolException.Malformed("PUBLISH with QoS 0 and DUP set");

        var packet = new PublishPacket
        {
            Dup = dup,
            QoS = (QualityOfService)qos,
            Retain = (flags & 1) != 0,
            Topic = r.ReadString(),
        };
        if (!TopicRules.IsValidTopicName(packet.Topic, allowEmpty: version == ProtocolVersion.V500))
            throw new MqttProtocolException(ReasonCode.TopicNameInvalid, $"invalid topic name '{packet.Topic}'");
        if (qos > 0) packet.PacketId = PacketReader.ReadPacketId(ref r);
        if (version == ProtocolVersion.V500)
        {
            packet.Properties = PropertyReader.Read(ref r, PropertyContext.Publish);
            if (packet.Topic.Length == 0 && packet.Properties?.TopicAlias is null)
                throw MqttProtocolException.ProtocolError("PUBLISH with an empty topic and no topic alias");
        }
        // The one copy of the payload: shared by every subscriber it is routed to.
        packet.Payload = r.ReadToEnd().ToArray();
        return packet;
    }
}
