namespace Holdfast.Protocol;

internal static class SubscribeDecoder
{
    public static SubscribePacket Decode(ref MqttSpanReader r, ProtocolVersion version)
    {
        var packet = new SubscribePacket { PacketId = PacketReader.ReadPacketId(ref r, zeroIsMalformed: true) };
        if (version == ProtocolVersion.V500) packet.Properties = PropertyReader.Read(ref r, PropertyContext.Subscribe);
        while (!r.End)
        {
            string filter = ReadFilter(ref r);
            byte options = r.ReadByte();
            // Bits 6-7 are reserved in 5.0; bits 2-7 in 3.1.1 [MQTT-3.8.3-4 / MQTT-3-8.3-5].
            int reservedMask = version == ProtocolVersion.V500 ? 0xC0 : 0xFC;
            if ((options & reservedMask) != 0) throw MqttProtocolException.Malformed("reserved subscription option bits set");
            int qos = options & 3;
            // MQTT 5.0 §3.8.3.1: "It is a Protocol Error if the Maximum QoS field has the value 3"; 3.1.1 [MQTT-3-8.3-4]: malformed.
            if (qos == 3)
                throw version == ProtocolVersion.V500
                    ? MqttProtocolException.ProtocolError("subscription with QoS 3")
                    : MqttProtocolException.Malformed("subscription with QoS 3");
            int retainHandling = (options >> 4) & 3;
            if (retainHandling == 3) throw MqttProtocolException.ProtocolError("retain handling 3");
            // "It is a Protocol Error to set the No Local bit to 1 on a Shared Subscription" [MQTT-3.8.3-4].
            if ((options & 0x04) != 0 && TopicRules.IsShared(filter))
                throw MqttProtocolException.ProtocolError("No Local on a shared subscription");
            packet.Subscriptions.Add(new TopicSubscription
            {
                TopicFilter = filter,
                MaximumQoS = (QualityOfService)qos,
                NoLocal = (options & 0x04) != 0,
                RetainAsPublished = (options & 0x08) != 0,
                RetainHandling = (RetainHandling)retainHandling,
            });
        }
        // A SUBSCRIBE with no topic filter is a Protocol Error [MQTT-3.8.3-2].
        if (packet.Subscriptions.Count == 0) throw MqttProtocolException.ProtocolError("SUBSCRIBE without topic filters");
        return packet;
    }

    /// <summary>A SUBSCRIBE or UNSUBSCRIBE filter. One deeper than Mosquitto's limit makes the packet malformed (0x81), as
    /// Mosquitto judges it; other invalid filters are refused one by one in the SUBACK/UNSUBACK.</summary>
    public static string ReadFilter(ref MqttSpanReader r)
    {
        string filter = r.ReadString();
        if (TopicRules.HasTooManyLevels(filter))
            throw MqttProtocolException.Malformed($"topic filter with more than {TopicRules.MaxSeparators} '/'");
        return filter;
    }
}
