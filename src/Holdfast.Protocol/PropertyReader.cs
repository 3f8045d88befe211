namespace Holdfast.Protocol;

internal static class PropertyReader
{
    /// <summary>Reads a property block (length, then properties). Returns null when it is empty.</summary>
    public static MqttProperties? Read(ref MqttSpanReader reader, PropertyContext context)
    {
        uint length = reader.ReadVariableByteInteger();
        if (length > reader.Remaining) throw MqttProtocolException.Malformed("property length exceeds the packet");
        if (length == 0) return null;

        var block = new MqttSpanReader(reader.ReadBytes((int)length));
        var p = new MqttProperties();
        ulong seen = 0;
        while (!block.End)
        {
            uint rawId = block.ReadVariableByteInteger();
            var id = (PropertyId)(byte)rawId;
            // An identifier not valid for the packet is a Malformed Packet (MQTT 5.0 §2.2.2.2).
            if (rawId > 0x7F || !PropertyRules.IsAllowed(id, context))
                throw MqttProtocolException.Malformed($"property 0x{rawId:X2} is not allowed in {context}");
            bool repeatable = id == PropertyId.UserProperty || (id == PropertyId.SubscriptionIdentifier && context == PropertyContext.Publish);
            ulong bit = 1UL << (int)id;
            if (!repeatable && (seen & bit) != 0)
                throw MqttProtocolException.ProtocolError($"property 0x{(byte)id:X2} appears more than once");
            seen |= bit;
            ReadOne(ref block, id, p);
        }
        return p;
    }

    private static void ReadOne(ref MqttSpanReader r, PropertyId id, MqttProperties p)
    {
        switch (id)
        {
            // Any value is passed on unaltered [MQTT-3.3.2-4]: the spec names 0 and 1 but makes no other value an error, and
            // Mosquitto forwards it.
            case PropertyId.PayloadFormatIndicator: p.PayloadFormatIndicator = r.ReadByte(); break;
            case PropertyId.MessageExpiryInterval: p.MessageExpiryInterval = r.ReadUInt32(); break;
            case PropertyId.ContentType: p.ContentType = r.ReadString(); break;
            case PropertyId.ResponseTopic: p.ResponseTopic = r.ReadString(); break;
            case PropertyId.CorrelationData: p.CorrelationData = r.ReadBinary(); break;
            case PropertyId.SubscriptionIdentifier:
                uint sid = r.ReadVariableByteInteger();
                if (sid == 0) throw MqttProtocolException.ProtocolError("subscription identifier 0");
                (p.SubscriptionIdentifiers ??= []).Add(sid);
                break;
            case PropertyId.SessionExpiryInterval: p.SessionExpiryInterval = r.ReadUInt32(); break;
            case PropertyId.AssignedClientIdentifier: p.AssignedClientIdentifier = r.ReadString(); break;
            case PropertyId.ServerKeepAlive: p.ServerKeepAlive = r.ReadUInt16(); break;
            case PropertyId.AuthenticationMethod: p.AuthenticationMethod = r.ReadString(); break;
            case PropertyId.AuthenticationData: p.AuthenticationData = r.ReadBinary(); break;
            case PropertyId.RequestProblemInformation: p.RequestProblemInformation = Flag(ref r, id); break;
            case PropertyId.WillDelayInterval: p.WillDelayInterval = r.ReadUInt32(); break;
            case PropertyId.RequestResponseInformation: p.RequestResponseInformation = Flag(ref r, id); break;
            case PropertyId.ResponseInformation: p.ResponseInformation = r.ReadString(); break;
            case PropertyId.ServerReference: p.ServerReference = r.ReadString(); break;
            case PropertyId.ReasonString: p.ReasonString = r.ReadString(); break;
            case PropertyId.ReceiveMaximum:
                p.ReceiveMaximum = r.ReadUInt16();
                if (p.ReceiveMaximum == 0) throw MqttProtocolException.ProtocolError("receive maximum 0");
                break;
            case PropertyId.TopicAliasMaximum: p.TopicAliasMaximum = r.ReadUInt16(); break;
            case PropertyId.TopicAlias:
                p.TopicAlias = r.ReadUInt16();
                // "A Topic Alias of 0 is not permitted" [MQTT-3.3.2-8]; 0x94 is the code for a bad alias.
                if (p.TopicAlias == 0) throw new MqttProtocolException(ReasonCode.TopicAliasInvalid, "topic alias 0");
                break;
            case PropertyId.MaximumQoS: p.MaximumQoS = Flag(ref r, id); break;
            case PropertyId.RetainAvailable: p.RetainAvailable = Flag(ref r, id); break;
            case PropertyId.UserProperty:
                string name = r.ReadString();
                p.AddUserProperty(name, r.ReadString());
                break;
            case PropertyId.MaximumPacketSize:
                p.MaximumPacketSize = r.ReadUInt32();
                if (p.MaximumPacketSize == 0) throw MqttProtocolException.ProtocolError("maximum packet size 0");
                break;
            case PropertyId.WildcardSubscriptionAvailable: p.WildcardSubscriptionAvailable = Flag(ref r, id); break;
            case PropertyId.SubscriptionIdentifiersAvailable: p.SubscriptionIdentifiersAvailable = Flag(ref r, id); break;
            case PropertyId.SharedSubscriptionAvailable: p.SharedSubscriptionAvailable = Flag(ref r, id); break;
            default: throw MqttProtocolException.Malformed($"unknown property 0x{(byte)id:X2}");
        }
    }

    /// <summary>Byte properties that are booleans may only be 0 or 1.</summary>
    private static byte Flag(ref MqttSpanReader r, PropertyId id)
    {
        byte b = r.ReadByte();
        if (b > 1) throw MqttProtocolException.ProtocolError($"property 0x{(byte)id:X2} has value {b}, only 0 or 1 allowed");
        return b;
    }
}
