namespace Holdfast.Protocol.Tests.Helpers;

public enum PropertyType { Byte, TwoByte, FourByte, Vbi, String, Binary, StringPair }

/// <summary>
/// MQTT 5.0 §2.2.2.2 (Table 2-4), typed in from the specification rather than taken from the implementation,
/// so the tests check the implementation against the spec and not against itself.
/// </summary>
public static class SpecTables
{
    private const PropertyContext Connect = PropertyContext.Connect, ConnAck = PropertyContext.ConnAck, Publish = PropertyContext.Publish,
        PubAck = PropertyContext.PubAck, PubRec = PropertyContext.PubRec, PubRel = PropertyContext.PubRel, PubComp = PropertyContext.PubComp,
        Subscribe = PropertyContext.Subscribe, SubAck = PropertyContext.SubAck, Unsubscribe = PropertyContext.Unsubscribe,
        UnsubAck = PropertyContext.UnsubAck, Disconnect = PropertyContext.Disconnect, Auth = PropertyContext.Auth, Will = PropertyContext.Will;

    public static readonly IReadOnlyDictionary<PropertyId, (PropertyType Type, PropertyContext[] Where)> Table =
        new Dictionary<PropertyId, (PropertyType, PropertyContext[])>
        {
            [PropertyId.PayloadFormatIndicator] = (PropertyType.Byte, [Publish, Will]),
            [PropertyId.MessageExpiryInterval] = (PropertyType.FourByte, [Publish, Will]),
            [PropertyId.ContentType] = (PropertyType.String, [Publish, Will]),
            [PropertyId.ResponseTopic] = (PropertyType.String, [Publish, Will]),
            [PropertyId.CorrelationData] = (PropertyType.Binary, [Publish, Will]),
            [PropertyId.SubscriptionIdentifier] = (PropertyType.Vbi, [Publish, Subscribe]),
            [PropertyId.SessionExpiryInterval] = (PropertyType.FourByte, [Connect, ConnAck, Disconnect]),
            [PropertyId.AssignedClientIdentifier] = (PropertyType.String, [ConnAck]),
            [PropertyId.ServerKeepAlive] = (PropertyType.TwoByte, [ConnAck]),
            [PropertyId.AuthenticationMethod] = (PropertyType.String, [Connect, ConnAck, Auth]),
            [PropertyId.AuthenticationData] = (PropertyType.Binary, [Connect, ConnAck, Auth]),
            [PropertyId.RequestProblemInformation] = (PropertyType.Byte, [Connect]),
            [PropertyId.WillDelayInterval] = (PropertyType.FourByte, [Will]),
            [PropertyId.RequestResponseInformation] = (PropertyType.Byte, [Connect]),
            [PropertyId.ResponseInformation] = (PropertyType.String, [ConnAck]),
            [PropertyId.ServerReference] = (PropertyType.String, [ConnAck, Disconnect]),
            [PropertyId.ReasonString] = (PropertyType.String, [ConnAck, PubAck, PubRec, PubRel, PubComp, SubAck, UnsubAck, Disconnect, Auth]),
            [PropertyId.ReceiveMaximum] = (PropertyType.TwoByte, [Connect, ConnAck]),
            [PropertyId.TopicAliasMaximum] = (PropertyType.TwoByte, [Connect, ConnAck]),
            [PropertyId.TopicAlias] = (PropertyType.TwoByte, [Publish]),
            [PropertyId.MaximumQoS] = (PropertyType.Byte, [ConnAck]),
            [PropertyId.RetainAvailable] = (PropertyType.Byte, [ConnAck]),
            [PropertyId.UserProperty] = (PropertyType.StringPair,
                [Connect, ConnAck, Publish, Will, PubAck, PubRec, PubRel, PubComp, Subscribe, SubAck, Unsubscribe, UnsubAck, Disconnect, Auth]),
            [PropertyId.MaximumPacketSize] = (PropertyType.FourByte, [Connect, ConnAck]),
            [PropertyId.WildcardSubscriptionAvailable] = (PropertyType.Byte, [ConnAck]),
            [PropertyId.SubscriptionIdentifiersAvailable] = (PropertyType.Byte, [ConnAck]),
            [PropertyId.SharedSubscriptionAvailable] = (PropertyType.Byte, [ConnAck]),
        };

    public static bool IsAllowed(PropertyId id, PropertyContext ctx) => Table.TryGetValue(id, out var e) && e.Where.Contains(ctx);

    /// <summary>Properties that may appear more than once in <paramref name="ctx"/>: User Property everywhere,
    /// Subscription Identifier only in PUBLISH (MQTT 5.0 §3.3.2.3.8 vs §3.8.2.1.2).</summary>
    public static bool IsRepeatable(PropertyId id, PropertyContext ctx) =>
        id == PropertyId.UserProperty || (id == PropertyId.SubscriptionIdentifier && ctx == Publish);

    /// <summary>Byte properties whose only values are 0 and 1 ("It is a Protocol Error to ... have a value other than 0 or 1").</summary>
    /// <summary>The byte properties whose other values the spec makes a protocol error. The Payload Format Indicator is
    /// not one: the spec names 0 and 1 without making other values an error, and it is passed on unaltered.</summary>
    public static readonly PropertyId[] BooleanProperties =
    [
        PropertyId.RequestProblemInformation, PropertyId.RequestResponseInformation,
        PropertyId.MaximumQoS, PropertyId.RetainAvailable, PropertyId.WildcardSubscriptionAvailable,
        PropertyId.SubscriptionIdentifiersAvailable, PropertyId.SharedSubscriptionAvailable,
    ];

    public static readonly PropertyContext[] AllContexts = Enum.GetValues<PropertyContext>();

    /// <summary>A valid encoding of one property (identifier plus value) of the given identifier.</summary>
    public static byte[] ValidProperty(PropertyId id)
    {
        var type = Table[id].Type;
        byte[] value = type switch
        {
            PropertyType.Byte => [0x01],
            PropertyType.TwoByte => [0x00, 0x05],
            PropertyType.FourByte => [0x00, 0x00, 0x00, 0x05],
            PropertyType.Vbi => [0x05],
            PropertyType.String => Wire.Str("x"),
            PropertyType.Binary => Wire.LenPrefixed(0x07),
            PropertyType.StringPair => Wire.Cat(Wire.Str("k"), Wire.Str("v")),
            _ => throw new ArgumentOutOfRangeException(nameof(id)),
        };
        return [(byte)id, .. value];
    }

    /// <summary>
    /// A whole, otherwise valid MQTT 5 packet whose property block for <paramref name="ctx"/> holds exactly
    /// <paramref name="propertyContent"/>.
    /// </summary>
    public static byte[] PacketWithProperties(PropertyContext ctx, byte[] propertyContent)
    {
        var props = Wire.Props(propertyContent);
        byte[] connectHeader = Wire.Cat(Wire.Str("MQTT"), [0x05]);
        return ctx switch
        {
            PropertyContext.Connect => Wire.Packet(0x10, connectHeader, [0x02], Wire.U16(60), props, Wire.Str("client")),
            // Will flag (0x04) with clean start; will properties sit between the client id and the will topic.
            PropertyContext.Will => Wire.Packet(0x10, connectHeader, [0x06], Wire.U16(60), Wire.Props(), Wire.Str("client"),
                props, Wire.Str("will/topic"), Wire.LenPrefixed(0x42)),
            PropertyContext.ConnAck => Wire.Packet(0x20, [0x00, 0x00], props),
            PropertyContext.Publish => Wire.Packet(0x32, Wire.Str("a/b"), Wire.U16(7), props, [0xAA, 0xBB]),
            PropertyContext.PubAck => Wire.Packet(0x40, Wire.U16(7), [0x00], props),
            PropertyContext.PubRec => Wire.Packet(0x50, Wire.U16(7), [0x00], props),
            PropertyContext.PubRel => Wire.Packet(0x62, Wire.U16(7), [0x00], props),
            PropertyContext.PubComp => Wire.Packet(0x70, Wire.U16(7), [0x00], props),
            PropertyContext.Subscribe => Wire.Packet(0x82, Wire.U16(7), props, Wire.Str("a/+"), [0x01]),
            PropertyContext.SubAck => Wire.Packet(0x90, Wire.U16(7), props, [0x01]),
            PropertyContext.Unsubscribe => Wire.Packet(0xA2, Wire.U16(7), props, Wire.Str("a/+")),
            PropertyContext.UnsubAck => Wire.Packet(0xB0, Wire.U16(7), props, [0x00]),
            PropertyContext.Disconnect => Wire.Packet(0xE0, [0x00], props),
            PropertyContext.Auth => Wire.Packet(0xF0, [0x18], props),
            _ => throw new ArgumentOutOfRangeException(nameof(ctx)),
        };
    }

    /// <summary>The properties a decoded packet of <paramref name="ctx"/> carries.</summary>
    public static MqttProperties? PropertiesOf(MqttPacket packet, PropertyContext ctx) => packet switch
    {
        ConnectPacket c => ctx == PropertyContext.Will ? c.Will!.Properties : c.Properties,
        ConnAckPacket c => c.Properties,
        PublishPacket p => p.Properties,
        PublishResponsePacket r => r.Properties,
        SubscribePacket s => s.Properties,
        SubAckPacket s => s.Properties,
        UnsubscribePacket u => u.Properties,
        UnsubAckPacket u => u.Properties,
        DisconnectPacket d => d.Properties,
        AuthPacket a => a.Properties,
        _ => throw new ArgumentOutOfRangeException(nameof(packet)),
    };
}
