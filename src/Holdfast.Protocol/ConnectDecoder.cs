namespace Holdfast.Protocol;

internal static class ConnectDecoder
{
    public static ConnectPacket Decode(ref MqttSpanReader r)
    {
        var packet = new ConnectPacket { ProtocolName = r.ReadString() };
        byte level = r.ReadByte();
        bool known = (packet.ProtocolName, level) is ("MQTT", 4) or ("MQTT", 5) or ("MQIsdp", 3);
        if (packet.ProtocolName is not ("MQTT" or "MQIsdp"))
            throw MqttProtocolException.Malformed($"unknown protocol name '{packet.ProtocolName}'");
        if (!known)
            throw new MqttProtocolException(ReasonCode.UnsupportedProtocolVersion, $"unsupported protocol level {level}");
        var version = (ProtocolVersion)level;
        packet.ProtocolVersion = version;

        byte flags = r.ReadByte();
        if ((flags & 1) != 0) throw MqttProtocolException.Malformed("reserved CONNECT flag set");
        packet.CleanStart = (flags & 0x02) != 0;
        bool hasWill = (flags & 0x04) != 0;
        int willQos = (flags >> 3) & 3;
        bool willRetain = (flags & 0x20) != 0;
        bool hasPassword = (flags & 0x40) != 0;
        bool hasUserName = (flags & 0x80) != 0;
        if (!hasWill && (willQos != 0 || willRetain))
            throw MqttProtocolException.Malformed("will QoS or retain set without a will");
        if (willQos == 3) throw MqttProtocolException.Malformed("will QoS 3");
        if (version != ProtocolVersion.V500 && hasPassword && !hasUserName)
            throw MqttProtocolException.Malformed("password without user name");

        packet.KeepAlive = r.ReadUInt16();
        if (version == ProtocolVersion.V500) packet.Properties = PropertyReader.Read(ref r, PropertyContext.Connect);
        // MQTT 5.0 §3.1.2.11.10: "It is a Protocol Error to include Authentication Data if there is no Authentication Method."
        if (packet.Properties is { AuthenticationData: not null, AuthenticationMethod: null })
            throw MqttProtocolException.ProtocolError("authentication data without authentication method");
        packet.ClientId = r.ReadString();

        if (hasWill)
        {
            var will = new WillMessage { QoS = (QualityOfService)willQos, Retain = willRetain };
            if (version == ProtocolVersion.V500) will.Properties = PropertyReader.Read(ref r, PropertyContext.Will);
            will.Topic = r.ReadString();
            if (!TopicRules.IsValidTopicName(will.Topic, allowEmpty: false))
                throw new MqttProtocolException(ReasonCode.TopicNameInvalid, $"invalid will topic '{will.Topic}'");
            if (TopicRules.HasTooManyLevels(will.Topic))
                throw MqttProtocolException.ProtocolError($"will topic with more than {TopicRules.MaxSeparators} '/'");
            will.Payload = r.ReadBinary();
            packet.Will = will;
        }
        if (hasUserName) packet.UserName = r.ReadString();
        if (hasPassword) packet.Password = r.ReadBinary();
        return packet;
    }
}
