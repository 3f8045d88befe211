using CsCheck;

namespace Holdfast.Protocol.Tests.Helpers;

/// <summary>
/// CsCheck generators for MQTT values and packets. Everything generated is valid for the protocol version it is
/// generated for, and is in the exact form the decoder produces (so a round trip must give a structurally equal
/// packet): well-formed UTF-8 without U+0000, topic names without wildcards, valid filters, non-zero packet ids,
/// reason codes from the packet's table, properties only where MQTT 5.0 §2.2.2.2 allows them.
/// </summary>
public static class MqttGen
{
    public static readonly ProtocolVersion[] AllVersions = [ProtocolVersion.V310, ProtocolVersion.V311, ProtocolVersion.V500];

    // ---- reason code tables (MQTT 5.0 chapter 3), written out independently of the implementation ----

    /// <summary>MQTT 5.0 Table 3-1, CONNACK.</summary>
    public static readonly byte[] ConnAckCodesV5 =
        [0x00, 0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8A, 0x8C, 0x90, 0x95, 0x97, 0x99, 0x9A, 0x9B, 0x9C, 0x9D, 0x9F];

    /// <summary>The six MQTT 3.1.1 CONNACK return codes (§3.2.2.3), as the decoder maps them.</summary>
    public static readonly ReasonCode[] ConnAckCodesV3 =
    [
        ReasonCode.Success, ReasonCode.UnsupportedProtocolVersion, ReasonCode.ClientIdentifierNotValid,
        ReasonCode.ServerUnavailable, ReasonCode.BadUserNameOrPassword, ReasonCode.NotAuthorized,
    ];

    /// <summary>MQTT 5.0 Table 3-4 (PUBACK) = Table 3-5 (PUBREC).</summary>
    public static readonly byte[] PubAckCodes = [0x00, 0x10, 0x80, 0x83, 0x87, 0x90, 0x91, 0x97, 0x99];

    /// <summary>MQTT 5.0 Tables 3-6 (PUBREL) and 3-7 (PUBCOMP).</summary>
    public static readonly byte[] PubRelCodes = [0x00, 0x92];

    /// <summary>MQTT 5.0 Table 3-8, SUBACK.</summary>
    public static readonly byte[] SubAckCodesV5 = [0x00, 0x01, 0x02, 0x80, 0x83, 0x87, 0x8F, 0x91, 0x97, 0x9E, 0xA1, 0xA2];

    /// <summary>MQTT 3.1.1 §3.9.3.</summary>
    public static readonly byte[] SubAckCodesV3 = [0x00, 0x01, 0x02, 0x80];

    /// <summary>MQTT 5.0 Table 3-9, UNSUBACK.</summary>
    public static readonly byte[] UnsubAckCodes = [0x00, 0x11, 0x80, 0x83, 0x87, 0x8F, 0x91];

    /// <summary>MQTT 5.0 Table 3-10, DISCONNECT.</summary>
    public static readonly byte[] DisconnectCodes =
    [
        0x00, 0x04, 0x80, 0x81, 0x82, 0x83, 0x87, 0x89, 0x8B, 0x8D, 0x8E, 0x8F, 0x90, 0x93, 0x94, 0x95, 0x96, 0x97,
        0x98, 0x99, 0x9A, 0x9B, 0x9C, 0x9D, 0x9E, 0x9F, 0xA0, 0xA1, 0xA2,
    ];

    /// <summary>MQTT 5.0 Table 3-11, AUTH.</summary>
    public static readonly byte[] AuthCodes = [0x00, 0x18, 0x19];

    // ---- data types ----

    /// <summary>Unicode scalar values other than U+0000, weighted towards ASCII but covering every UTF-8 length.</summary>
    public static readonly Gen<int> CodePoint = Gen.Frequency(
        (12, Gen.Int[0x20, 0x7E]),
        (1, Gen.Int[0x01, 0x1F]),
        (2, Gen.Int[0x80, 0x7FF]),
        (2, Gen.Int[0x800, 0xD7FF]),
        (1, Gen.Int[0xE000, 0xFFFF]),
        (2, Gen.Int[0x10000, 0x10FFFF]));

    private static string FromCodePoints(int[] cps) => string.Concat(cps.Select(char.ConvertFromUtf32));

    /// <summary>A well-formed UTF-8 string without U+0000, of <paramref name="min"/> to <paramref name="max"/> code points.</summary>
    public static Gen<string> Utf8String(int min = 0, int max = 24) => CodePoint.Array[min, max].Select(FromCodePoints);

    public static readonly Gen<string> AnyString = Utf8String();

    public static readonly Gen<byte[]> Binary = Gen.Byte.Array[0, 32];

    /// <summary>One topic level: any characters but '/', '+', '#'. May be empty (MQTT allows empty levels).</summary>
    public static readonly Gen<string> TopicLevel = Gen.Frequency(
        (1, Gen.Const("")),
        (6, CodePoint.Select(cp => cp is '/' or '+' or '#' ? 'x' : cp).Array[1, 8].Select(FromCodePoints)),
        (2, Gen.OneOfConst("a", "b", "sensor", "temp", "$SYS", "x y", "ümlaut", "🙂")));

    /// <summary>A valid topic name: at least one character, no wildcards, possibly empty levels and '$' topics.</summary>
    public static readonly Gen<string> TopicName = TopicLevel.Array[1, 5]
        .Select(levels => string.Join('/', levels))
        .Select(t => t.Length == 0 ? "t" : t);

    /// <summary>A valid non-shared topic filter: '+' as whole levels, '#' only as the whole last level.</summary>
    public static readonly Gen<string> PlainTopicFilter = Gen.Select(
            Gen.Frequency((4, TopicLevel), (1, Gen.Const("+"))).Array[0, 5],
            Gen.Frequency((3, Gen.Const(false)), (1, Gen.Const(true))),
            (levels, hash) => hash ? [.. levels, "#"] : levels)
        .Select(levels => string.Join('/', levels))
        .Select(f => f.Length == 0 ? "#" : f);

    public static readonly Gen<string> ShareName = CodePoint.Select(cp => cp is '/' or '+' or '#' ? 'g' : cp).Array[1, 8].Select(FromCodePoints);

    public static readonly Gen<string> SharedTopicFilter = Gen.Select(ShareName, PlainTopicFilter, (g, f) => $"$share/{g}/{f}");

    public static readonly Gen<string> TopicFilter = Gen.Frequency((4, PlainTopicFilter), (1, SharedTopicFilter));

    public static readonly Gen<ushort> PacketId = Gen.Frequency(
        (8, Gen.UShort[1, ushort.MaxValue]),
        (1, Gen.OneOfConst<ushort>(1, 2, 255, 256, ushort.MaxValue)));

    /// <summary>1 .. 268,435,455, with the Variable Byte Integer length boundaries well covered.</summary>
    public static readonly Gen<uint> SubscriptionIdentifier = Gen.Frequency(
        (3, Gen.UInt[1, 268_435_455]),
        (2, Gen.UInt[1, 300]),
        (1, Gen.OneOfConst<uint>(1, 127, 128, 16_383, 16_384, 2_097_151, 2_097_152, 268_435_455)));

    public static readonly Gen<byte> Flag = Gen.Byte[0, 1];

    public static readonly Gen<uint> FourByte = Gen.Frequency((3, Gen.UInt), (1, Gen.OneOfConst(0u, 1u, uint.MaxValue)));

    public static readonly Gen<ushort> TwoByte = Gen.Frequency((3, Gen.UShort), (1, Gen.OneOfConst<ushort>(0, 1, ushort.MaxValue)));

    /// <summary>Names drawn partly from a tiny set, so that the same name appears several times (allowed and order-preserving).</summary>
    public static readonly Gen<List<KeyValuePair<string, string>>> UserProperties = Gen.Select(
            Gen.Frequency((1, Gen.OneOfConst("k", "name", "")), (2, AnyString)),
            AnyString,
            (k, v) => new KeyValuePair<string, string>(k, v))
        .List[1, 5];

    // ---- properties ----

    private static Gen<Action<MqttProperties>?> Opt<T>(Gen<T> value, Action<MqttProperties, T> set, int presentWeight = 1) =>
        Gen.Frequency(
            (presentWeight, value.Select(v => (Action<MqttProperties>?)(p => set(p, v)))),
            (1, Gen.Const((Action<MqttProperties>?)null)));

    /// <summary>The properties MQTT 5.0 §2.2.2.2 allows in <paramref name="ctx"/>, each independently present or absent,
    /// with valid values. Null (no properties) about a quarter of the time.</summary>
    public static Gen<MqttProperties?> Properties(PropertyContext ctx)
    {
        var setters = new List<Gen<Action<MqttProperties>?>>();
        void Add<T>(PropertyId id, Gen<T> value, Action<MqttProperties, T> set)
        {
            if (SpecTables.IsAllowed(id, ctx)) setters.Add(Opt(value, set));
        }

        Add(PropertyId.PayloadFormatIndicator, Flag, (p, v) => p.PayloadFormatIndicator = v);
        Add(PropertyId.MessageExpiryInterval, FourByte, (p, v) => p.MessageExpiryInterval = v);
        Add(PropertyId.ContentType, AnyString, (p, v) => p.ContentType = v);
        Add(PropertyId.ResponseTopic, TopicName, (p, v) => p.ResponseTopic = v);
        Add(PropertyId.CorrelationData, Binary, (p, v) => p.CorrelationData = v);
        // Several subscription identifiers only in PUBLISH (server to client); at most one in SUBSCRIBE.
        Add(PropertyId.SubscriptionIdentifier, SubscriptionIdentifier.List[1, ctx == PropertyContext.Publish ? 4 : 1],
            (p, v) => p.SubscriptionIdentifiers = v);
        Add(PropertyId.SessionExpiryInterval, FourByte, (p, v) => p.SessionExpiryInterval = v);
        Add(PropertyId.AssignedClientIdentifier, AnyString, (p, v) => p.AssignedClientIdentifier = v);
        Add(PropertyId.ServerKeepAlive, TwoByte, (p, v) => p.ServerKeepAlive = v);
        Add(PropertyId.AuthenticationMethod, AnyString, (p, v) => p.AuthenticationMethod = v);
        Add(PropertyId.AuthenticationData, Binary, (p, v) => p.AuthenticationData = v);
        Add(PropertyId.RequestProblemInformation, Flag, (p, v) => p.RequestProblemInformation = v);
        Add(PropertyId.WillDelayInterval, FourByte, (p, v) => p.WillDelayInterval = v);
        Add(PropertyId.RequestResponseInformation, Flag, (p, v) => p.RequestResponseInformation = v);
        Add(PropertyId.ResponseInformation, AnyString, (p, v) => p.ResponseInformation = v);
        Add(PropertyId.ServerReference, AnyString, (p, v) => p.ServerReference = v);
        Add(PropertyId.ReasonString, AnyString, (p, v) => p.ReasonString = v);
        Add(PropertyId.ReceiveMaximum, Gen.UShort[1, ushort.MaxValue], (p, v) => p.ReceiveMaximum = v);
        Add(PropertyId.TopicAliasMaximum, TwoByte, (p, v) => p.TopicAliasMaximum = v);
        Add(PropertyId.TopicAlias, Gen.UShort[1, ushort.MaxValue], (p, v) => p.TopicAlias = v);
        Add(PropertyId.MaximumQoS, Flag, (p, v) => p.MaximumQoS = v);
        Add(PropertyId.RetainAvailable, Flag, (p, v) => p.RetainAvailable = v);
        Add(PropertyId.UserProperty, UserProperties, (p, v) => p.UserProperties = v);
        Add(PropertyId.MaximumPacketSize, Gen.UInt[1, uint.MaxValue], (p, v) => p.MaximumPacketSize = v);
        Add(PropertyId.WildcardSubscriptionAvailable, Flag, (p, v) => p.WildcardSubscriptionAvailable = v);
        Add(PropertyId.SubscriptionIdentifiersAvailable, Flag, (p, v) => p.SubscriptionIdentifiersAvailable = v);
        Add(PropertyId.SharedSubscriptionAvailable, Flag, (p, v) => p.SharedSubscriptionAvailable = v);

        // CONNECT: Authentication Data without an Authentication Method is a Protocol Error (MQTT 5.0 §3.1.2.11.10).
        bool dataNeedsMethod = ctx == PropertyContext.Connect;

        var all = setters.Aggregate(
            Gen.Const(Array.Empty<Action<MqttProperties>>()),
            (acc, g) => Gen.Select(acc, g, (arr, a) => a is null ? arr : [.. arr, a]));
        var props = all.Select(actions =>
        {
            var p = new MqttProperties();
            foreach (var a in actions) a(p);
            if (dataNeedsMethod && p.AuthenticationData is not null) p.AuthenticationMethod ??= "SCRAM-SHA-1";
            return p;
        });
        return Gen.Frequency((3, props.Select(p => (MqttProperties?)p)), (1, Gen.Const((MqttProperties?)null)));
    }

    /// <summary>Properties for a version: none before MQTT 5.</summary>
    private static Gen<MqttProperties?> PropertiesFor(ProtocolVersion v, PropertyContext ctx) =>
        v == ProtocolVersion.V500 ? Properties(ctx) : Gen.Const((MqttProperties?)null);

    // ---- packets ----

    public static readonly Gen<QualityOfService> QoS = Gen.OneOfConst(QualityOfService.AtMostOnce, QualityOfService.AtLeastOnce, QualityOfService.ExactlyOnce);

    public static Gen<WillMessage> Will(ProtocolVersion v) =>
        from topic in TopicName
        from payload in Gen.Byte.Array[0, 64]
        from qos in QoS
        from retain in Gen.Bool
        from props in PropertiesFor(v, PropertyContext.Will)
        select new WillMessage { Topic = topic, Payload = payload, QoS = qos, Retain = retain, Properties = props };

    public static Gen<ConnectPacket> Connect(ProtocolVersion v) =>
        from clean in Gen.Bool
        from keepAlive in TwoByte
        from clientId in Gen.Frequency((1, Gen.Const("")), (4, Utf8String(1, 23)))
        from props in PropertiesFor(v, PropertyContext.Connect)
        from will in Will(v).Null(0.5)
        from user in AnyString.Null(0.5)
        from password in Binary.Null(0.5)
        select new ConnectPacket
        {
            ProtocolName = v == ProtocolVersion.V310 ? "MQIsdp" : "MQTT",
            ProtocolVersion = v,
            CleanStart = clean,
            KeepAlive = keepAlive,
            ClientId = clientId,
            Properties = props,
            Will = will,
            UserName = user,
            // Before MQTT 5 a password needs a user name [MQTT-3.1.2-22].
            Password = v != ProtocolVersion.V500 && user is null ? null : password,
        };

    public static Gen<ConnAckPacket> ConnAck(ProtocolVersion v) =>
        from code in v == ProtocolVersion.V500 ? Gen.OneOfConst(ConnAckCodesV5).Select(c => (ReasonCode)c) : Gen.OneOfConst(ConnAckCodesV3)
        from sessionPresent in Gen.Bool
        from props in PropertiesFor(v, PropertyContext.ConnAck)
        // Session Present is 0 whenever the connection is refused [MQTT-3.2.2-6 (5.0) / MQTT-3.2.2-4 (3.1.1)].
        select new ConnAckPacket { ReasonCode = code, SessionPresent = sessionPresent && code == ReasonCode.Success, Properties = props };

    public static readonly Gen<byte[]> Payload = Gen.Frequency(
        (10, Gen.Byte.Array[0, 64]),
        (2, Gen.Byte.Array[100, 400]),
        (1, Gen.Byte.Array[16_300, 16_500]));

    public static Gen<PublishPacket> Publish(ProtocolVersion v) =>
        from qos in QoS
        from dup in Gen.Bool
        from retain in Gen.Bool
        from props in PropertiesFor(v, PropertyContext.Publish)
        // MQTT 5: an empty topic name stands for the Topic Alias, which must then be present.
        from topic in props?.TopicAlias is not null ? Gen.Frequency((1, Gen.Const("")), (2, TopicName)) : TopicName
        from packetId in PacketId
        from payload in Payload
        select new PublishPacket
        {
            QoS = qos,
            Dup = dup && qos != QualityOfService.AtMostOnce,
            Retain = retain,
            Topic = topic,
            PacketId = qos == QualityOfService.AtMostOnce ? (ushort)0 : packetId,
            Properties = props,
            Payload = payload,
        };

    public static Gen<PublishResponsePacket> PublishResponse(PacketType type, ProtocolVersion v)
    {
        var ctx = type switch
        {
            PacketType.PubAck => PropertyContext.PubAck,
            PacketType.PubRec => PropertyContext.PubRec,
            PacketType.PubRel => PropertyContext.PubRel,
            _ => PropertyContext.PubComp,
        };
        byte[] codes = type is PacketType.PubAck or PacketType.PubRec ? PubAckCodes : PubRelCodes;
        return from id in PacketId
               from code in v == ProtocolVersion.V500 ? Gen.OneOfConst(codes) : Gen.Const((byte)0)
               from props in PropertiesFor(v, ctx)
               select Make(type, id, (ReasonCode)code, props);

        static PublishResponsePacket Make(PacketType type, ushort id, ReasonCode code, MqttProperties? props)
        {
            var p = PublishResponsePacket.Create(type);
            p.PacketId = id;
            p.ReasonCode = code;
            p.Properties = props;
            return p;
        }
    }

    public static Gen<TopicSubscription> Subscription(ProtocolVersion v) =>
        from filter in TopicFilter
        from qos in QoS
        from noLocal in Gen.Bool
        from rap in Gen.Bool
        from rh in Gen.OneOfConst(RetainHandling.SendAtSubscribe, RetainHandling.SendAtSubscribeIfNew, RetainHandling.DoNotSend)
        let v5 = v == ProtocolVersion.V500
        select new TopicSubscription
        {
            TopicFilter = filter,
            MaximumQoS = qos,
            // No Local on a shared subscription is a Protocol Error [MQTT-3.8.3-4]; the options are 5.0 only.
            NoLocal = v5 && noLocal && !TopicRules.IsShared(filter),
            RetainAsPublished = v5 && rap,
            RetainHandling = v5 ? rh : RetainHandling.SendAtSubscribe,
        };

    public static Gen<SubscribePacket> Subscribe(ProtocolVersion v) =>
        from id in PacketId
        from props in PropertiesFor(v, PropertyContext.Subscribe)
        from subs in Subscription(v).List[1, 5]
        select new SubscribePacket { PacketId = id, Properties = props, Subscriptions = subs };

    public static Gen<SubAckPacket> SubAck(ProtocolVersion v) =>
        from id in PacketId
        from props in PropertiesFor(v, PropertyContext.SubAck)
        from codes in Gen.OneOfConst(v == ProtocolVersion.V500 ? SubAckCodesV5 : SubAckCodesV3).List[1, 6]
        select new SubAckPacket { PacketId = id, Properties = props, ReasonCodes = codes.Select(c => (ReasonCode)c).ToList() };

    public static Gen<UnsubscribePacket> Unsubscribe(ProtocolVersion v) =>
        from id in PacketId
        from props in PropertiesFor(v, PropertyContext.Unsubscribe)
        from filters in TopicFilter.List[1, 5]
        select new UnsubscribePacket { PacketId = id, Properties = props, TopicFilters = filters };

    public static Gen<UnsubAckPacket> UnsubAck(ProtocolVersion v) =>
        from id in PacketId
        from props in PropertiesFor(v, PropertyContext.UnsubAck)
        from codes in v == ProtocolVersion.V500 ? Gen.OneOfConst(UnsubAckCodes).List[1, 6] : Gen.Const(new List<byte>())
        select new UnsubAckPacket { PacketId = id, Properties = props, ReasonCodes = codes.Select(c => (ReasonCode)c).ToList() };

    public static Gen<DisconnectPacket> Disconnect(ProtocolVersion v) =>
        from code in v == ProtocolVersion.V500 ? Gen.OneOfConst(DisconnectCodes) : Gen.Const((byte)0)
        from props in PropertiesFor(v, PropertyContext.Disconnect)
        select new DisconnectPacket { ReasonCode = (ReasonCode)code, Properties = props };

    public static readonly Gen<AuthPacket> Auth =
        from code in Gen.OneOfConst(AuthCodes)
        from props in Properties(PropertyContext.Auth)
        select new AuthPacket { ReasonCode = (ReasonCode)code, Properties = props };

    /// <summary>Any packet that exists in <paramref name="v"/> (AUTH only in MQTT 5).</summary>
    public static Gen<MqttPacket> Packet(ProtocolVersion v)
    {
        var gens = new List<Gen<MqttPacket>>
        {
            Connect(v).Select(p => (MqttPacket)p),
            ConnAck(v).Select(p => (MqttPacket)p),
            Publish(v).Select(p => (MqttPacket)p),
            PublishResponse(PacketType.PubAck, v).Select(p => (MqttPacket)p),
            PublishResponse(PacketType.PubRec, v).Select(p => (MqttPacket)p),
            PublishResponse(PacketType.PubRel, v).Select(p => (MqttPacket)p),
            PublishResponse(PacketType.PubComp, v).Select(p => (MqttPacket)p),
            Subscribe(v).Select(p => (MqttPacket)p),
            SubAck(v).Select(p => (MqttPacket)p),
            Unsubscribe(v).Select(p => (MqttPacket)p),
            UnsubAck(v).Select(p => (MqttPacket)p),
            Gen.Const<MqttPacket>(PingReqPacket.Instance),
            Gen.Const<MqttPacket>(PingRespPacket.Instance),
            Disconnect(v).Select(p => (MqttPacket)p),
        };
        if (v == ProtocolVersion.V500) gens.Add(Auth.Select(p => (MqttPacket)p));
        return Gen.OneOf(gens.ToArray());
    }

    public static readonly Gen<ProtocolVersion> Version = Gen.OneOfConst(AllVersions);

    public static readonly Gen<(ProtocolVersion Version, MqttPacket Packet)> VersionedPacket =
        Version.SelectMany(v => Packet(v).Select(p => (v, p)));
}
