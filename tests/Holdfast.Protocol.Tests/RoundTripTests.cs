using System.Buffers;
using CsCheck;
using Holdfast.Protocol.Tests.Helpers;

namespace Holdfast.Protocol.Tests;

/// <summary>
/// Property-based encode/decode round trips: every packet type, in every protocol version where it exists,
/// with every MQTT 5 property in every context where §2.2.2.2 allows it.
/// </summary>
public class RoundTripTests
{
    private const int Iterations = 400;

    public static TheoryData<string, ProtocolVersion> PacketKinds()
    {
        var data = new TheoryData<string, ProtocolVersion>();
        foreach (var v in MqttGen.AllVersions)
        {
            foreach (var kind in new[]
                     {
                         "CONNECT", "CONNACK", "PUBLISH", "PUBACK", "PUBREC", "PUBREL", "PUBCOMP", "SUBSCRIBE", "SUBACK",
                         "UNSUBSCRIBE", "UNSUBACK", "PINGREQ", "PINGRESP", "DISCONNECT",
                     })
                data.Add(kind, v);
        }
        data.Add("AUTH", ProtocolVersion.V500);
        return data;
    }

    private static Gen<MqttPacket> GenFor(string kind, ProtocolVersion v) => kind switch
    {
        "CONNECT" => MqttGen.Connect(v).Select(p => (MqttPacket)p),
        "CONNACK" => MqttGen.ConnAck(v).Select(p => (MqttPacket)p),
        "PUBLISH" => MqttGen.Publish(v).Select(p => (MqttPacket)p),
        "PUBACK" => MqttGen.PublishResponse(PacketType.PubAck, v).Select(p => (MqttPacket)p),
        "PUBREC" => MqttGen.PublishResponse(PacketType.PubRec, v).Select(p => (MqttPacket)p),
        "PUBREL" => MqttGen.PublishResponse(PacketType.PubRel, v).Select(p => (MqttPacket)p),
        "PUBCOMP" => MqttGen.PublishResponse(PacketType.PubComp, v).Select(p => (MqttPacket)p),
        "SUBSCRIBE" => MqttGen.Subscribe(v).Select(p => (MqttPacket)p),
        "SUBACK" => MqttGen.SubAck(v).Select(p => (MqttPacket)p),
        "UNSUBSCRIBE" => MqttGen.Unsubscribe(v).Select(p => (MqttPacket)p),
        "UNSUBACK" => MqttGen.UnsubAck(v).Select(p => (MqttPacket)p),
        "PINGREQ" => Gen.Const<MqttPacket>(PingReqPacket.Instance),
        "PINGRESP" => Gen.Const<MqttPacket>(PingRespPacket.Instance),
        "DISCONNECT" => MqttGen.Disconnect(v).Select(p => (MqttPacket)p),
        "AUTH" => MqttGen.Auth.Select(p => (MqttPacket)p),
        _ => throw new ArgumentOutOfRangeException(nameof(kind)),
    };

    private static readonly Gen<int[]> Cuts = Gen.Int[0, int.MaxValue].Array[0, 6];

    [Theory]
    [MemberData(nameof(PacketKinds))]
    public void Packet_round_trips(string kind, ProtocolVersion version)
    {
        Gen.Select(GenFor(kind, version), Cuts).Sample(
            (packet, cuts) => RoundTrip.AssertAll(packet, version, cuts),
            iter: kind is "PINGREQ" or "PINGRESP" ? 5 : Iterations,
            print: t => PacketComparer.Describe(t.Item1));
    }

    [Fact]
    public void Any_packet_in_any_version_round_trips()
    {
        Gen.Select(MqttGen.VersionedPacket, Cuts).Sample(
            (vp, cuts) => RoundTrip.AssertAll(vp.Packet, vp.Version, cuts),
            iter: 2000,
            print: t => $"{t.Item1.Version} {PacketComparer.Describe(t.Item1.Packet)}");
    }

    public static TheoryData<PropertyContext> Contexts() => new(SpecTables.AllContexts);

    /// <summary>Every property the spec allows in a context, all at once, with random valid values.</summary>
    [Theory]
    [MemberData(nameof(Contexts))]
    public void Every_allowed_property_round_trips_in_its_context(PropertyContext ctx)
    {
        Gen.Select(PacketFor(ctx), MqttGen.Properties(ctx).Where(p => p is not null), Cuts).Sample(
            (packet, props, cuts) =>
            {
                var full = FillAll(ctx, props!);
                SetProperties(packet, ctx, full);
                foreach (var id in SpecTables.Table.Keys.Where(id => SpecTables.IsAllowed(id, ctx)))
                    Assert.True(HasProperty(full, id), $"generator left out {id}");
                RoundTrip.AssertAll(packet, ProtocolVersion.V500, cuts);
            },
            iter: 300,
            print: t => PacketComparer.Describe(t.Item1));
    }

    /// <summary>Forces every allowed property to be present (keeping generated values where there are some).</summary>
    private static MqttProperties FillAll(PropertyContext ctx, MqttProperties p)
    {
        foreach (var id in SpecTables.Table.Keys.Where(id => SpecTables.IsAllowed(id, ctx)))
        {
            if (HasProperty(p, id)) continue;
            switch (id)
            {
                case PropertyId.PayloadFormatIndicator: p.PayloadFormatIndicator = 1; break;
                case PropertyId.MessageExpiryInterval: p.MessageExpiryInterval = 3600; break;
                case PropertyId.ContentType: p.ContentType = "application/json"; break;
                case PropertyId.ResponseTopic: p.ResponseTopic = "reply/to/me"; break;
                case PropertyId.CorrelationData: p.CorrelationData = [1, 2, 3]; break;
                case PropertyId.SubscriptionIdentifier: p.SubscriptionIdentifiers = ctx == PropertyContext.Publish ? [1, 128, 268_435_455] : [16_384]; break;
                case PropertyId.SessionExpiryInterval: p.SessionExpiryInterval = uint.MaxValue; break;
                case PropertyId.AssignedClientIdentifier: p.AssignedClientIdentifier = "auto-1"; break;
                case PropertyId.ServerKeepAlive: p.ServerKeepAlive = 30; break;
                case PropertyId.AuthenticationMethod: p.AuthenticationMethod = "SCRAM-SHA-256"; break;
                case PropertyId.AuthenticationData: p.AuthenticationData = [9, 8, 7]; break;
                case PropertyId.RequestProblemInformation: p.RequestProblemInformation = 0; break;
                case PropertyId.WillDelayInterval: p.WillDelayInterval = 10; break;
                case PropertyId.RequestResponseInformation: p.RequestResponseInformation = 1; break;
                case PropertyId.ResponseInformation: p.ResponseInformation = "resp/"; break;
                case PropertyId.ServerReference: p.ServerReference = "other:1883"; break;
                case PropertyId.ReasonString: p.ReasonString = "because"; break;
                case PropertyId.ReceiveMaximum: p.ReceiveMaximum = 10; break;
                case PropertyId.TopicAliasMaximum: p.TopicAliasMaximum = 5; break;
                case PropertyId.TopicAlias: p.TopicAlias = 3; break;
                case PropertyId.MaximumQoS: p.MaximumQoS = 1; break;
                case PropertyId.RetainAvailable: p.RetainAvailable = 0; break;
                case PropertyId.UserProperty: p.UserProperties = [new("a", "1"), new("a", "2"), new("b", "")]; break;
                case PropertyId.MaximumPacketSize: p.MaximumPacketSize = 1024; break;
                case PropertyId.WildcardSubscriptionAvailable: p.WildcardSubscriptionAvailable = 1; break;
                case PropertyId.SubscriptionIdentifiersAvailable: p.SubscriptionIdentifiersAvailable = 0; break;
                case PropertyId.SharedSubscriptionAvailable: p.SharedSubscriptionAvailable = 1; break;
            }
        }
        return p;
    }

    private static bool HasProperty(MqttProperties p, PropertyId id) => id switch
    {
        PropertyId.PayloadFormatIndicator => p.PayloadFormatIndicator.HasValue,
        PropertyId.MessageExpiryInterval => p.MessageExpiryInterval.HasValue,
        PropertyId.ContentType => p.ContentType is not null,
        PropertyId.ResponseTopic => p.ResponseTopic is not null,
        PropertyId.CorrelationData => p.CorrelationData is not null,
        PropertyId.SubscriptionIdentifier => p.SubscriptionIdentifiers is { Count: > 0 },
        PropertyId.SessionExpiryInterval => p.SessionExpiryInterval.HasValue,
        PropertyId.AssignedClientIdentifier => p.AssignedClientIdentifier is not null,
        PropertyId.ServerKeepAlive => p.ServerKeepAlive.HasValue,
        PropertyId.AuthenticationMethod => p.AuthenticationMethod is not null,
        PropertyId.AuthenticationData => p.AuthenticationData is not null,
        PropertyId.RequestProblemInformation => p.RequestProblemInformation.HasValue,
        PropertyId.WillDelayInterval => p.WillDelayInterval.HasValue,
        PropertyId.RequestResponseInformation => p.RequestResponseInformation.HasValue,
        PropertyId.ResponseInformation => p.ResponseInformation is not null,
        PropertyId.ServerReference => p.ServerReference is not null,
        PropertyId.ReasonString => p.ReasonString is not null,
        PropertyId.ReceiveMaximum => p.ReceiveMaximum.HasValue,
        PropertyId.TopicAliasMaximum => p.TopicAliasMaximum.HasValue,
        PropertyId.TopicAlias => p.TopicAlias.HasValue,
        PropertyId.MaximumQoS => p.MaximumQoS.HasValue,
        PropertyId.RetainAvailable => p.RetainAvailable.HasValue,
        PropertyId.UserProperty => p.UserProperties is { Count: > 0 },
        PropertyId.MaximumPacketSize => p.MaximumPacketSize.HasValue,
        PropertyId.WildcardSubscriptionAvailable => p.WildcardSubscriptionAvailable.HasValue,
        PropertyId.SubscriptionIdentifiersAvailable => p.SubscriptionIdentifiersAvailable.HasValue,
        PropertyId.SharedSubscriptionAvailable => p.SharedSubscriptionAvailable.HasValue,
        _ => throw new ArgumentOutOfRangeException(nameof(id)),
    };

    private static Gen<MqttPacket> PacketFor(PropertyContext ctx)
    {
        const ProtocolVersion v = ProtocolVersion.V500;
        return ctx switch
        {
            PropertyContext.Connect => MqttGen.Connect(v).Select(p => (MqttPacket)p),
            PropertyContext.Will => Gen.Select(MqttGen.Connect(v), MqttGen.Will(v), (c, w) => { c.Will = w; return (MqttPacket)c; }),
            PropertyContext.ConnAck => MqttGen.ConnAck(v).Select(p => (MqttPacket)p),
            PropertyContext.Publish => MqttGen.Publish(v).Select(p => (MqttPacket)p),
            PropertyContext.PubAck => MqttGen.PublishResponse(PacketType.PubAck, v).Select(p => (MqttPacket)p),
            PropertyContext.PubRec => MqttGen.PublishResponse(PacketType.PubRec, v).Select(p => (MqttPacket)p),
            PropertyContext.PubRel => MqttGen.PublishResponse(PacketType.PubRel, v).Select(p => (MqttPacket)p),
            PropertyContext.PubComp => MqttGen.PublishResponse(PacketType.PubComp, v).Select(p => (MqttPacket)p),
            PropertyContext.Subscribe => MqttGen.Subscribe(v).Select(p => (MqttPacket)p),
            PropertyContext.SubAck => MqttGen.SubAck(v).Select(p => (MqttPacket)p),
            PropertyContext.Unsubscribe => MqttGen.Unsubscribe(v).Select(p => (MqttPacket)p),
            PropertyContext.UnsubAck => MqttGen.UnsubAck(v).Select(p => (MqttPacket)p),
            PropertyContext.Disconnect => MqttGen.Disconnect(v).Select(p => (MqttPacket)p),
            PropertyContext.Auth => MqttGen.Auth.Select(p => (MqttPacket)p),
            _ => throw new ArgumentOutOfRangeException(nameof(ctx)),
        };
    }

    private static void SetProperties(MqttPacket packet, PropertyContext ctx, MqttProperties props)
    {
        switch (packet)
        {
            case ConnectPacket c when ctx == PropertyContext.Will: c.Will!.Properties = props; break;
            case ConnectPacket c: c.Properties = props; break;
            case ConnAckPacket c: c.Properties = props; break;
            case PublishPacket p: p.Properties = props; break;
            case PublishResponsePacket r: r.Properties = props; break;
            case SubscribePacket s: s.Properties = props; break;
            case SubAckPacket s: s.Properties = props; break;
            case UnsubscribePacket u: u.Properties = props; break;
            case UnsubAckPacket u: u.Properties = props; break;
            case DisconnectPacket d: d.Properties = props; break;
            case AuthPacket a: a.Properties = props; break;
        }
    }

    [Fact]
    public void Publish_with_many_user_properties_and_subscription_identifiers_keeps_order_and_duplicates()
    {
        var packet = new PublishPacket
        {
            QoS = QualityOfService.ExactlyOnce,
            Topic = "plant/line1/temp",
            PacketId = 4711,
            Payload = new byte[] { 1, 2, 3 },
            Properties = new MqttProperties
            {
                SubscriptionIdentifiers = [5, 1, 268_435_455, 5, 128],
                UserProperties = [new("z", "1"), new("a", "2"), new("z", "3"), new("z", "1"), new("", "")],
            },
        };
        var decoded = (PublishPacket)RoundTrip.AssertAll(packet, ProtocolVersion.V500, [3, 9]);
        Assert.Equal([5u, 1u, 268_435_455u, 5u, 128u], decoded.Properties!.SubscriptionIdentifiers!);
        Assert.Equal(["z", "a", "z", "z", ""], decoded.Properties.UserProperties!.Select(kv => kv.Key));
    }

    /// <summary>A byte order mark is a character like any other and must not be stripped [MQTT-1.5.4-3].</summary>
    [Theory]
    [InlineData(ProtocolVersion.V311)]
    [InlineData(ProtocolVersion.V500)]
    public void Byte_order_mark_is_preserved(ProtocolVersion v)
    {
        var packet = new PublishPacket { Topic = "\uFEFFa/\uFEFF", Payload = new byte[] { 0xEF, 0xBB, 0xBF } };
        var bytes = PacketWriter.ToArray(packet, v);
        Assert.Equal(Wire.Packet(0x30, Wire.LenPrefixed(0xEF, 0xBB, 0xBF, (byte)'a', (byte)'/', 0xEF, 0xBB, 0xBF),
            v == ProtocolVersion.V500 ? [0x00] : [], [0xEF, 0xBB, 0xBF]), bytes);
        var decoded = (PublishPacket)PacketReader.Read(bytes, v);
        Assert.Equal("\uFEFFa/\uFEFF", decoded.Topic);
    }

    /// <summary>Remaining lengths at every Variable Byte Integer width boundary (MQTT 5.0 §1.5.5 / 3.1.1 §2.2.3).</summary>
    [Theory]
    [InlineData(0)]
    [InlineData(127)]
    [InlineData(128)]
    [InlineData(16_383)]
    [InlineData(16_384)]
    [InlineData(2_097_151)]
    [InlineData(2_097_152)]
    public void Remaining_length_boundaries(int remaining)
    {
        // A PINGREQ cannot have a body, so use a QoS 0 PUBLISH on topic "t" (3 bytes) in 3.1.1 and fill with payload.
        MqttPacket packet = remaining == 0
            ? PingReqPacket.Instance
            : new PublishPacket { Topic = "t", Payload = new byte[remaining - 3] };
        if (remaining is > 0 and < 3) return;
        var bytes = PacketWriter.ToArray(packet, ProtocolVersion.V311);
        int vbiBytes = remaining < 128 ? 1 : remaining < 16_384 ? 2 : remaining < 2_097_152 ? 3 : 4;
        Assert.Equal(1 + vbiBytes + remaining, bytes.Length);
        Assert.Equal(Wire.Vbi((uint)remaining), bytes[1..(1 + vbiBytes)]);
        Assert.Equal(bytes.Length, PacketWriter.GetSize(packet, ProtocolVersion.V311));
        PacketComparer.AssertEqual(packet, PacketReader.Read(bytes, ProtocolVersion.V311));
    }

    [Theory]
    [InlineData(ProtocolVersion.V311)]
    [InlineData(ProtocolVersion.V500)]
    public void Longest_possible_string_round_trips(ProtocolVersion v)
    {
        string topic = new('a', 65_535);
        var packet = new PublishPacket { Topic = topic, QoS = QualityOfService.AtLeastOnce, PacketId = 1, Payload = new byte[] { 1 } };
        var decoded = (PublishPacket)RoundTrip.AssertAll(packet, v, []);
        Assert.Equal(65_535, decoded.Topic.Length);
    }

    /// <summary>Several packets back to back in one buffer come out one at a time, in order.</summary>
    [Fact]
    public void Consecutive_packets_are_read_one_at_a_time()
    {
        Gen.Select(MqttGen.Version, Gen.Int[1, 6], Gen.Int[0, int.MaxValue].Array[0, 12])
            .SelectMany((v, n, cuts) => MqttGen.Packet(v).Array[n].Select(ps => (v, ps, cuts)))
            .Sample(t =>
            {
                var (v, packets, cuts) = t;
                var stream = packets.SelectMany(p => PacketWriter.ToArray(p, v)).ToArray();
                var buffer = Wire.Segmented(stream, cuts.Select(c => c % (stream.Length + 1)));
                foreach (var expected in packets)
                {
                    Assert.True(PacketReader.TryRead(ref buffer, v, 0, out var actual));
                    PacketComparer.AssertEqual(expected, actual);
                }
                Assert.True(buffer.IsEmpty);
                Assert.False(PacketReader.TryRead(ref buffer, v, 0, out _));
            }, iter: 300);
    }
}

/// <summary>The checks every round trip makes.</summary>
public static class RoundTrip
{
    /// <summary>Byte-by-byte feeding is quadratic; keep it to packets of a reasonable size.</summary>
    private const int ByteByByteLimit = 1_000;

    public static MqttPacket AssertAll(MqttPacket packet, ProtocolVersion version, int[] cuts)
    {
        var bytes = PacketWriter.ToArray(packet, version);

        // GetSize is the whole encoded length; Write reports and produces the same bytes.
        Assert.Equal(bytes.Length, PacketWriter.GetSize(packet, version));
        var writer = new ArrayBufferWriter<byte>();
        Assert.Equal(bytes.Length, PacketWriter.Write(packet, version, writer));
        Assert.Equal(bytes, writer.WrittenSpan.ToArray());

        // The remaining length covers exactly the rest.
        int header = Wire.FixedHeaderLength(bytes);
        uint remaining = 0;
        for (int i = 1; i < header; i++) remaining |= (uint)(bytes[i] & 0x7F) << (7 * (i - 1));
        Assert.Equal(bytes.Length - header, (int)remaining);

        // One contiguous span.
        var decoded = PacketReader.Read(bytes, version);
        PacketComparer.AssertEqual(packet, decoded, $"{version}, contiguous: {Wire.Hex(bytes.AsSpan(0, Math.Min(bytes.Length, 256)))}");

        // Split into segments at random places.
        var segmented = Wire.Segmented(bytes, cuts.Select(c => c % (bytes.Length + 1)));
        Assert.True(PacketReader.TryRead(ref segmented, version, bytes.Length, out var fromSegments));
        Assert.True(segmented.IsEmpty);
        PacketComparer.AssertEqual(packet, fromSegments, $"{version}, segmented at {string.Join(',', cuts.Select(c => c % (bytes.Length + 1)).Order())}");

        // Byte by byte: not complete until the last byte, and the buffer is left untouched meanwhile.
        if (bytes.Length <= ByteByByteLimit)
        {
            var all = Wire.ByteByByte(bytes);
            for (int k = 0; k < bytes.Length; k++)
            {
                var prefix = all.Slice(0, k);
                var before = prefix;
                Assert.False(PacketReader.TryRead(ref prefix, version, 0, out var none), $"complete after only {k} of {bytes.Length} bytes");
                Assert.Null(none);
                Assert.Equal(before.Length, prefix.Length);
                Assert.Equal(before.Start, prefix.Start);
            }
            var whole = all;
            Assert.True(PacketReader.TryRead(ref whole, version, 0, out var fromBytes));
            Assert.True(whole.IsEmpty);
            PacketComparer.AssertEqual(packet, fromBytes, $"{version}, byte by byte");
        }

        // A packet followed by the start of the next one: exactly one packet is consumed.
        var withNext = Wire.Segmented([.. bytes, 0xC0, 0x00, 0x30], [bytes.Length / 2]);
        Assert.True(PacketReader.TryRead(ref withNext, version, 0, out var first));
        PacketComparer.AssertEqual(packet, first);
        Assert.Equal(3, withNext.Length);
        Assert.True(PacketReader.TryRead(ref withNext, version, 0, out var ping));
        Assert.IsType<PingReqPacket>(ping);
        Assert.False(PacketReader.TryRead(ref withNext, version, 0, out _));
        Assert.Equal(1, withNext.Length);

        return decoded;
    }
}
