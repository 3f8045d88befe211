namespace Holdfast.Protocol;

internal static class PublishDecoder
{
    /// <param name="cache">The connection's reader cache: the packet to parse into and the topic names seen lately; null
    /// for a new packet and a new string.</param>
    public static PublishPacket Decode(int flags, ref MqttSpanReader r, ProtocolVersion version, PacketReaderCache? cache)
    {
        var qos = (flags >> 1) & 3;
        if (qos == 3) throw MqttProtocolException.Malformed("PUBLISH with QoS 3");
        bool dup = (flags & 8) != 0;
        if (qos == 0 && dup) throw MqttProtocolException.Malformed("PUBLISH with QoS 0 and DUP set");

        string topic = ReadTopic(ref r, version, cache?.Topics);
        // Every field is set: a reused packet keeps nothing of the previous message.
        var packet = cache?.TakePublish() ?? new PublishPacket();
        packet.Dup = dup;
        packet.QoS = (QualityOfService)qos;
        packet.Retain = (flags & 1) != 0;
        packet.Topic = topic;
        packet.PacketId = qos > 0 ? PacketReader.ReadPacketId(ref r) : (ushort)0;
        packet.Properties = null;
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

    /// <summary>The topic name, decoded and validated, or the same string as last time for the same bytes.</summary>
    private static string ReadTopic(ref MqttSpanReader r, ProtocolVersion version, TopicNameCache? topics)
    {
        var utf8 = r.ReadBytes(r.ReadUInt16());
        if (topics is not null && topics.TryGet(utf8, out var cached)) return cached;
        string topic = MqttSpanReader.DecodeUtf8(utf8);
        if (!TopicRules.IsValidTopicName(topic, allowEmpty: version == ProtocolVersion.V500))
            throw new MqttProtocolException(ReasonCode.TopicNameInvalid, $"invalid topic name '{topic}'");
        // A protocol error as Mosquitto answers it (0x82).
        if (TopicRules.HasTooManyLevels(topic))
            throw MqttProtocolException.ProtocolError($"topic name with more than {TopicRules.MaxSeparators} '/'");
        topics?.Add(utf8, topic);
        return topic;
    }
}
