using System.Buffers;
using CsCheck;
using Holdfast.Protocol.Tests.Helpers;
using static Holdfast.Protocol.Tests.Helpers.Wire;

namespace Holdfast.Protocol.Tests;

/// <summary>
/// Packets that break MQTT 3.1.1 / 5.0, and the reason code the decoder must report for each
/// (0x81 Malformed Packet, 0x82 Protocol Error, 0x84 Unsupported Protocol Version, 0x90 Topic Name invalid,
/// 0x94 Topic Alias invalid, 0x95 Packet too large).
/// </summary>
public class MalformedPacketTests
{
    private const ProtocolVersion V3 = ProtocolVersion.V311;
    private const ProtocolVersion V5 = ProtocolVersion.V500;

    public static TheoryData<ProtocolVersion> Versions() => new(MqttGen.AllVersions);

    public static TheoryData<ProtocolVersion> V311And5() => new(V3, V5);

    private static MqttProtocolException Throws(byte[] bytes, ProtocolVersion v, ReasonCode expected)
    {
        var ex = Assert.Throws<MqttProtocolException>(() => PacketReader.Read(bytes, v));
        Assert.True(expected == ex.ReasonCode,
            $"expected 0x{(byte)expected:X2} ({expected}) but got 0x{(byte)ex.ReasonCode:X2} ({ex.ReasonCode}): {ex.Message} for {Hex(bytes)}");
        return ex;
    }

    private static void Malformed(byte[] bytes, ProtocolVersion v) => Throws(bytes, v, ReasonCode.MalformedPacket);

    private static void ProtocolError(byte[] bytes, ProtocolVersion v) => Throws(bytes, v, ReasonCode.ProtocolError);

    // ------------------------------------------------------------------ fixed header

    /// <summary>One valid packet of each type, to corrupt.</summary>
    private static IEnumerable<(PacketType Type, byte[] Bytes, ProtocolVersion Version)> ValidSamples(ProtocolVersion v)
    {
        byte[] connect = v switch
        {
            ProtocolVersion.V310 => Packet(0x10, Str("MQIsdp"), [0x03, 0x02], U16(60), Str("c")),
            ProtocolVersion.V311 => Packet(0x10, Str("MQTT"), [0x04, 0x02], U16(60), Str("c")),
            _ => Packet(0x10, Str("MQTT"), [0x05, 0x02], U16(60), Props(), Str("c")),
        };
        bool v5 = v == V5;
        yield return (PacketType.Connect, connect, v);
        yield return (PacketType.ConnAck, v5 ? Packet(0x20, [0x00, 0x00, 0x00]) : Packet(0x20, [0x00, 0x00]), v);
        yield return (PacketType.PubAck, Packet(0x40, U16(1)), v);
        yield return (PacketType.PubRec, Packet(0x50, U16(1)), v);
        yield return (PacketType.PubRel, Packet(0x62, U16(1)), v);
        yield return (PacketType.PubComp, Packet(0x70, U16(1)), v);
        yield return (PacketType.Subscribe, Packet(0x82, U16(1), v5 ? Props() : [], Str("a/#"), [0x01]), v);
        yield return (PacketType.SubAck, Packet(0x90, U16(1), v5 ? Props() : [], [0x01]), v);
        yield return (PacketType.Unsubscribe, Packet(0xA2, U16(1), v5 ? Props() : [], Str("a/#")), v);
        yield return (PacketType.UnsubAck, v5 ? Packet(0xB0, U16(1), Props(), [0x00]) : Packet(0xB0, U16(1)), v);
        yield return (PacketType.PingReq, Packet(0xC0), v);
        yield return (PacketType.PingResp, Packet(0xD0), v);
        yield return (PacketType.Disconnect, Packet(0xE0), v);
        if (v5) yield return (PacketType.Auth, Packet(0xF0), v);
    }

    [Theory]
    [MemberData(nameof(Versions))]
    public void Valid_samples_decode(ProtocolVersion v)
    {
        foreach (var (type, bytes, version) in ValidSamples(v))
            Assert.Equal(type, PacketReader.Read(bytes, version).Type);
    }

    /// <summary>Every flag nibble but the one the spec fixes is Malformed [MQTT-2.1.3-1, MQTT 5.0 §2.1.3].</summary>
    [Theory]
    [MemberData(nameof(Versions))]
    public void Reserved_fixed_header_flags_are_malformed(ProtocolVersion v)
    {
        foreach (var (type, bytes, version) in ValidSamples(v))
        {
            int expected = type is PacketType.PubRel or PacketType.Subscribe or PacketType.Unsubscribe ? 2 : 0;
            for (int flags = 0; flags < 16; flags++)
            {
                // MQTT 3.1's DUP on these three is read (see the test below).
                bool dupIn31 = version == ProtocolVersion.V310 && expected == 2 && flags == 0x0A;
                if (flags == expected || dupIn31) continue;
                var corrupt = bytes.ToArray();
                corrupt[0] = (byte)(((int)type << 4) | flags);
                Malformed(corrupt, version);
            }
        }
    }

    [Theory]
    [MemberData(nameof(Versions))]
    public void Publish_with_QoS_3_is_malformed(ProtocolVersion v)
    {
        // [MQTT-3.3.1-4]: both QoS bits set is a Malformed Packet; with and without DUP/RETAIN.
        foreach (byte first in new byte[] { 0x36, 0x37, 0x3E, 0x3F })
            Malformed(Packet(first, Str("a"), U16(1), v == V5 ? Props() : [], [0x01]), v);
    }

    [Theory]
    [MemberData(nameof(Versions))]
    public void Publish_with_QoS_0_and_DUP_is_malformed(ProtocolVersion v)
    {
        // [MQTT-3.3.1-2]: DUP must be 0 for QoS 0.
        Malformed(Packet(0x38, Str("a"), v == V5 ? Props() : [], [0x01]), v);
        Malformed(Packet(0x39, Str("a"), v == V5 ? Props() : [], [0x01]), v);
    }

    [Theory]
    [MemberData(nameof(Versions))]
    public void Packet_type_0_is_malformed(ProtocolVersion v)
    {
        Malformed([0x00, 0x00], v);
        Malformed([0x00, 0x02, 0x00, 0x01], v);
    }

    [Theory]
    [InlineData(ProtocolVersion.V310)]
    [InlineData(ProtocolVersion.V311)]
    public void Auth_is_malformed_before_MQTT_5(ProtocolVersion v)
    {
        // Packet type 15 is reserved in 3.1.1 (§2.2.1, "Forbidden").
        Malformed([0xF0, 0x00], v);
        Malformed(Packet(0xF0, [0x18, 0x00]), v);
    }

    [Theory]
    [MemberData(nameof(Versions))]
    public void Remaining_length_of_five_bytes_is_malformed(ProtocolVersion v)
    {
        foreach (var header in new byte[][] { [0x30, 0x80, 0x80, 0x80, 0x80, 0x01], [0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F], [0xC0, 0x80, 0x80, 0x80, 0x80, 0x00] })
        {
            // Thrown as soon as the fourth length byte still says "more": no need to wait for any body.
            var buffer = Segmented(header, [1, 3]);
            var ex = Assert.Throws<MqttProtocolException>(() => PacketReader.TryRead(ref buffer, v, 0, out _));
            Assert.Equal(ReasonCode.MalformedPacket, ex.ReasonCode);
            var fourBytes = new ReadOnlySequence<byte>(header[..5]);
            Assert.Throws<MqttProtocolException>(() => PacketReader.TryRead(ref fourBytes, v, 0, out _));
        }
    }

    [Fact]
    public void Largest_remaining_length_waits_for_the_body()
    {
        var buffer = new ReadOnlySequence<byte>(new byte[] { 0x30, 0xFF, 0xFF, 0xFF, 0x7F, 0x00, 0x01 });
        Assert.False(PacketReader.TryRead(ref buffer, V5, 0, out _));
        Assert.Equal(7, buffer.Length);
    }

    [Theory]
    [MemberData(nameof(V311And5))]
    public void Packet_larger_than_the_maximum_is_rejected_with_0x95(ProtocolVersion v)
    {
        var packet = new PublishPacket { Topic = "t", Payload = new byte[300] };
        var bytes = PacketWriter.ToArray(packet, v);

        var exact = new ReadOnlySequence<byte>(bytes);
        Assert.True(PacketReader.TryRead(ref exact, v, bytes.Length, out _));

        var tooBig = new ReadOnlySequence<byte>(bytes);
        var ex = Assert.Throws<MqttProtocolException>(() => PacketReader.TryRead(ref tooBig, v, bytes.Length - 1, out _));
        Assert.Equal(ReasonCode.PacketTooLarge, ex.ReasonCode);

        // Rejected from the fixed header alone: a peer announcing 200 MB is refused before sending it.
        var headerOnly = new ReadOnlySequence<byte>(new byte[] { 0x30, 0x80, 0x80, 0x80, 0x60 });
        ex = Assert.Throws<MqttProtocolException>(() => PacketReader.TryRead(ref headerOnly, v, 1024 * 1024, out _));
        Assert.Equal(ReasonCode.PacketTooLarge, ex.ReasonCode);

        // The limit counts the whole packet, fixed header included (MQTT 5.0 §3.1.2.11.4).
        var ping = new ReadOnlySequence<byte>(new byte[] { 0xC0, 0x00 });
        ex = Assert.Throws<MqttProtocolException>(() => PacketReader.TryRead(ref ping, v, 1, out _));
        Assert.Equal(ReasonCode.PacketTooLarge, ex.ReasonCode);
    }

    [Theory]
    [MemberData(nameof(Versions))]
    public void Trailing_bytes_are_malformed(ProtocolVersion v)
    {
        Malformed(Packet(0xC0, [0x00]), v);
        Malformed(Packet(0xD0, [0x00]), v);
        if (v != V5)
        {
            Malformed(Packet(0xE0, [0x00]), v);
            Malformed(Packet(0x40, U16(1), [0x00]), v);  // 3.1.1 PUBACK is exactly 2 bytes
            Malformed(Packet(0x20, [0x00, 0x00, 0x00]), v);
            Malformed(Packet(0xB0, U16(1), [0x00]), v);  // 3.1.1 UNSUBACK has no payload
        }
        else
        {
            Malformed(Packet(0x40, U16(1), [0x10], Props(), [0x00]), v);
            Malformed(Packet(0xE0, [0x00], Props(), [0x00]), v);
        }
    }

    // ------------------------------------------------------------------ truncation

    /// <summary>
    /// Cut any valid packet short and fix the remaining length so the reader believes it whole. Unless the cut
    /// falls exactly where a shorter valid form of the same packet ends (fewer SUBSCRIBE entries, fewer SUBACK
    /// codes, less PUBLISH payload, a PUBACK without reason code, ...), the result is a Malformed Packet.
    /// </summary>
    [Fact]
    public void Every_truncation_of_a_valid_packet_is_malformed_unless_it_is_a_shorter_valid_packet()
    {
        MqttGen.VersionedPacket.Sample(vp =>
        {
            var (v, packet) = vp;
            var bytes = PacketWriter.ToArray(packet, v);
            var body = Body(bytes);
            var (validPrefixes, protocolErrorPrefixes) = ShorterValidForms(packet, v, body.Length);
            for (int len = 0; len < body.Length; len++)
            {
                var truncated = Rewrap(bytes[0], body.AsSpan(0, len));
                if (validPrefixes.Contains(len))
                {
                    var decoded = PacketReader.Read(truncated, v);
                    Assert.Equal(packet.Type, decoded.Type);
                }
                else if (protocolErrorPrefixes.Contains(len))
                {
                    ProtocolError(truncated, v);
                }
                else
                {
                    var ex = Assert.Throws<MqttProtocolException>(() => PacketReader.Read(truncated, v));
                    Assert.True(ex.ReasonCode == ReasonCode.MalformedPacket,
                        $"{v} {packet.Type} cut to {len} of {body.Length}: 0x{(byte)ex.ReasonCode:X2} {ex.Message}");
                }
            }
        }, iter: 1500, print: vp => $"{vp.Version} {PacketComparer.Describe(vp.Packet)}");
    }

    private static int BodyLength(MqttPacket p, ProtocolVersion v) => Body(PacketWriter.ToArray(p, v)).Length;

    private static (HashSet<int> Valid, HashSet<int> ProtocolError) ShorterValidForms(MqttPacket packet, ProtocolVersion v, int full)
    {
        var valid = new HashSet<int>();
        var protocolError = new HashSet<int>();
        bool v5 = v == V5;
        switch (packet)
        {
            case PublishPacket p:
                int headerEnd = BodyLength(new PublishPacket { Topic = p.Topic, QoS = p.QoS, PacketId = p.PacketId, Properties = p.Properties }, v);
                for (int i = headerEnd; i < full; i++) valid.Add(i);
                break;
            case PublishResponsePacket when v5 && full > 2:
                valid.Add(2);  // Success, no properties
                valid.Add(3);  // reason code, no property length
                break;
            case DisconnectPacket or AuthPacket when v5 && full > 0:
                valid.Add(0);
                valid.Add(1);
                break;
            case SubscribePacket s:
                for (int k = 0; k < s.Subscriptions.Count; k++)
                {
                    int len = BodyLength(new SubscribePacket { PacketId = s.PacketId, Properties = s.Properties, Subscriptions = s.Subscriptions.Take(k).ToList() }, v);
                    // No subscription at all is a Protocol Error [MQTT-3.8.3-2].
                    (k == 0 ? protocolError : valid).Add(len);
                }
                break;
            case UnsubscribePacket u:
                for (int k = 0; k < u.TopicFilters.Count; k++)
                {
                    int len = BodyLength(new UnsubscribePacket { PacketId = u.PacketId, Properties = u.Properties, TopicFilters = u.TopicFilters.Take(k).ToList() }, v);
                    (k == 0 ? protocolError : valid).Add(len);
                }
                break;
            case SubAckPacket s:
                for (int i = BodyLength(new SubAckPacket { PacketId = s.PacketId, Properties = s.Properties }, v); i < full; i++) valid.Add(i);
                break;
            case UnsubAckPacket u when v5:
                for (int i = BodyLength(new UnsubAckPacket { PacketId = u.PacketId, Properties = u.Properties }, v); i < full; i++) valid.Add(i);
                break;
        }
        return (valid, protocolError);
    }

    // ------------------------------------------------------------------ UTF-8 strings

    public static TheoryData<string, byte[]> InvalidUtf8() => new()
    {
        { "overlong '/' (C0 AF)", [0xC0, 0xAF] },
        { "overlong NUL (C0 80)", [0xC0, 0x80] },
        { "overlong 3-byte (E0 80 AF)", [0xE0, 0x80, 0xAF] },
        { "overlong 4-byte (F0 80 80 AF)", [0xF0, 0x80, 0x80, 0xAF] },
        { "encoded high surrogate U+D800 (ED A0 80)", [0xED, 0xA0, 0x80] },
        { "encoded low surrogate U+DFFF (ED BF BF)", [0xED, 0xBF, 0xBF] },
        { "surrogate pair encoded as two 3-byte sequences (CESU-8)", [0xED, 0xA0, 0xBD, 0xED, 0xB8, 0x80] },
        { "bare continuation byte", [(byte)'a', 0x80, (byte)'b'] },
        { "truncated 3-byte sequence", [(byte)'a', 0xE2, 0x82] },
        { "truncated sequence followed by ASCII", [0xE2, 0x82, (byte)'a'] },
        { "code point above U+10FFFF (F4 90 80 80)", [0xF4, 0x90, 0x80, 0x80] },
        { "F5 lead byte", [0xF5, 0x80, 0x80, 0x80] },
        { "FE byte", [0xFE] },
        { "FF byte", [0xFF] },
        { "U+0000", [(byte)'a', 0x00, (byte)'b'] },
        { "U+0000 alone", [0x00] },
    };

    /// <summary>Each string field with <paramref name="raw"/> spliced in: MQTT strings are well-formed UTF-8 without U+0000
    /// [MQTT-1.5.4-1, MQTT-1.5.4-2]; a receiver treats a violation as a Malformed Packet.</summary>
    private static IEnumerable<(string Field, byte[] Packet, ProtocolVersion Version)> PacketsWithString(byte[] raw)
    {
        var s = LenPrefixed(raw);
        var v5Connect = Cat(Str("MQTT"), [0x05]);
        yield return ("PUBLISH topic 3.1.1", Packet(0x30, s, [0x01]), V3);
        yield return ("PUBLISH topic 5.0", Packet(0x30, s, Props(), [0x01]), V5);
        yield return ("CONNECT protocol name", Packet(0x10, s, [0x04, 0x02], U16(60), Str("c")), V3);
        yield return ("CONNECT client id", Packet(0x10, Str("MQTT"), [0x04, 0x02], U16(60), s), V3);
        yield return ("CONNECT will topic", Packet(0x10, Str("MQTT"), [0x04, 0x06], U16(60), Str("c"), s, LenPrefixed(1)), V3);
        yield return ("CONNECT user name", Packet(0x10, Str("MQTT"), [0x04, 0x82], U16(60), Str("c"), s), V3);
        yield return ("SUBSCRIBE filter", Packet(0x82, U16(1), s, [0x00]), V3);
        yield return ("UNSUBSCRIBE filter", Packet(0xA2, U16(1), s), V3);
        yield return ("SUBSCRIBE filter 5.0", Packet(0x82, U16(1), Props(), s, [0x00]), V5);
        yield return ("UNSUBSCRIBE filter 5.0", Packet(0xA2, U16(1), Props(), s), V5);
        yield return ("user property name", Packet(0x10, v5Connect, [0x02], U16(60), Props([0x26, .. s, .. Str("v")]), Str("c")), V5);
        yield return ("user property value", Packet(0x10, v5Connect, [0x02], U16(60), Props([0x26, .. Str("k"), .. s]), Str("c")), V5);
        yield return ("content type", Packet(0x30, Str("a"), Props([0x03, .. s]), [0x01]), V5);
        yield return ("response topic", Packet(0x30, Str("a"), Props([0x08, .. s]), [0x01]), V5);
        yield return ("reason string", Packet(0x40, U16(1), [0x80], Props([0x1F, .. s])), V5);
        yield return ("authentication method", Packet(0xF0, [0x18], Props([0x15, .. s])), V5);
        yield return ("assigned client identifier", Packet(0x20, [0x00, 0x00], Props([0x12, .. s])), V5);
        yield return ("server reference", Packet(0xE0, [0x9C], Props([0x1C, .. s])), V5);
        yield return ("will content type", Packet(0x10, v5Connect, [0x06], U16(60), Props(), Str("c"), Props([0x03, .. s]), Str("w"), LenPrefixed(1)), V5);
    }

    [Theory]
    [MemberData(nameof(InvalidUtf8))]
    public void Ill_formed_UTF8_is_malformed_in_every_string_field(string what, byte[] raw)
    {
        foreach (var (field, packet, v) in PacketsWithString(raw))
        {
            var ex = Assert.Throws<MqttProtocolException>(() => PacketReader.Read(packet, v));
            Assert.True(ex.ReasonCode == ReasonCode.MalformedPacket, $"{what} in {field}: got 0x{(byte)ex.ReasonCode:X2} {ex.Message}");
        }
    }

    [Theory]
    [InlineData(new byte[] { 0xF0, 0x9F, 0x99, 0x82 })]        // U+1F642, four bytes
    [InlineData(new byte[] { 0xEF, 0xBB, 0xBF, 0x61 })]        // BOM then 'a'
    [InlineData(new byte[] { 0xED, 0x9F, 0xBF })]              // U+D7FF, just below the surrogates
    [InlineData(new byte[] { 0xEE, 0x80, 0x80 })]              // U+E000, just above
    [InlineData(new byte[] { 0xF4, 0x8F, 0xBF, 0xBF })]        // U+10FFFF, the last code point
    [InlineData(new byte[] { 0xC2, 0x80 })]                    // U+0080, smallest two-byte form
    public void Well_formed_UTF8_is_accepted_in_every_string_field(byte[] raw)
    {
        foreach (var (field, packet, v) in PacketsWithString(raw))
        {
            if (field == "CONNECT protocol name") continue;
            var ex = Record.Exception(() => PacketReader.Read(packet, v));
            Assert.True(ex is null, $"{field}: {ex?.Message}");
        }
    }

    // ------------------------------------------------------------------ topics and packet ids

    [Theory]
    [MemberData(nameof(Versions))]
    public void Wildcards_in_a_publish_topic_are_topic_name_invalid(ProtocolVersion v)
    {
        // [MQTT-3.3.2-2]: the Topic Name in PUBLISH must not contain wildcard characters.
        foreach (var topic in new[] { "#", "+", "a/+", "a/#", "a/+/b", "a+", "sport/tennis#" })
            Throws(Packet(0x30, Str(topic), v == V5 ? Props() : [], [0x01]), v, ReasonCode.TopicNameInvalid);
    }

    /// <summary>Mosquitto's limit of 200 '/' in a topic: a deeper PUBLISH or will is a protocol error, a deeper SUBSCRIBE
    /// or UNSUBSCRIBE filter malformed, as Mosquitto answers them.</summary>
    [Theory]
    [MemberData(nameof(Versions))]
    public void Topics_deeper_than_Mosquittos_limit_are_refused(ProtocolVersion v)
    {
        var p = v == V5 ? Props() : [];
        string deepest = string.Concat(Enumerable.Repeat("abc/", 200)) + "d", tooDeep = "/" + deepest;
        PacketReader.Read(Packet(0x30, Str(deepest), p, [0x01]), v);
        PacketReader.Read(Packet(0x82, U16(1), p, Str(deepest), [0x00]), v);
        ProtocolError(Packet(0x30, Str(tooDeep), p, [0x01]), v);
        Malformed(Packet(0x82, U16(1), p, Str(tooDeep), [0x00]), v);
        Malformed(Packet(0xA2, U16(1), p, Str(tooDeep)), v);
        var connect = v == V5
            ? Packet(0x10, Str("MQTT"), [0x05, 0x06], U16(60), Props(), Str("c"), Props(), Str(tooDeep), LenPrefixed(1))
            : Packet(0x10, Str(v == V3 ? "MQTT" : "MQIsdp"), [(byte)v, 0x06], U16(60), Str("c"), Str(tooDeep), LenPrefixed(1));
        ProtocolError(connect, v);
    }

    [Theory]
    [MemberData(nameof(Versions))]
    public void Wildcards_in_a_will_topic_are_topic_name_invalid(ProtocolVersion v)
    {
        foreach (var topic in new[] { "#", "a/+", "" })
        {
            var bytes = v == V5
                ? Packet(0x10, Str("MQTT"), [0x05, 0x06], U16(60), Props(), Str("c"), Props(), Str(topic), LenPrefixed(1))
                : Packet(0x10, Str(v == V3 ? "MQTT" : "MQIsdp"), [(byte)v, 0x06], U16(60), Str("c"), Str(topic), LenPrefixed(1));
            Throws(bytes, v, ReasonCode.TopicNameInvalid);
        }
    }

    [Theory]
    [InlineData(ProtocolVersion.V310)]
    [InlineData(ProtocolVersion.V311)]
    public void Empty_publish_topic_is_invalid_before_MQTT_5(ProtocolVersion v)
    {
        // [MQTT-4.7.3-1]: topic names are at least one character long.
        Throws(Packet(0x30, Str(""), [0x01]), v, ReasonCode.TopicNameInvalid);
    }

    [Fact]
    public void Empty_publish_topic_without_topic_alias_is_a_protocol_error()
    {
        // MQTT 5.0 §3.3.2.1: "It is a Protocol Error if the Topic Name is zero length and there is no Topic Alias."
        ProtocolError(Packet(0x30, Str(""), Props(), [0x01]), V5);
        ProtocolError(Packet(0x30, Str(""), Props([0x26, .. Str("k"), .. Str("v")]), [0x01]), V5);
        var ok = (PublishPacket)PacketReader.Read(Packet(0x30, Str(""), Props([0x23, .. U16(4)]), [0x01]), V5);
        Assert.Equal((ushort)4, ok.Properties!.TopicAlias);
    }

    [Fact]
    public void Topic_alias_0_is_invalid()
    {
        // [MQTT-3.3.2-8]: a Topic Alias of 0 is not permitted; the receiver disconnects with 0x94 Topic Alias invalid.
        Throws(Packet(0x30, Str("a"), Props([0x23, .. U16(0)]), [0x01]), V5, ReasonCode.TopicAliasInvalid);
        Throws(Packet(0x30, Str(""), Props([0x23, .. U16(0)]), [0x01]), V5, ReasonCode.TopicAliasInvalid);
    }

    /// <summary>MQTT 3.1 let PUBREL, SUBSCRIBE and UNSUBSCRIBE carry DUP when resent; 3.1.1 and 5 fix their flags at 0010.</summary>
    [Theory]
    [MemberData(nameof(Versions))]
    public void Dup_on_pubrel_subscribe_and_unsubscribe_is_read_only_in_MQTT_3_1(ProtocolVersion v)
    {
        var p = v == V5 ? Props() : [];
        byte[][] resent = [Packet(0x6A, U16(1)), Packet(0x8A, U16(1), p, Str("a"), [0x00]), Packet(0xAA, U16(1), p, Str("a"))];
        foreach (var bytes in resent)
        {
            if (v == ProtocolVersion.V310) PacketReader.Read(bytes, v);
            else Malformed(bytes, v);
        }
    }

    [Theory]
    [MemberData(nameof(Versions))]
    public void Packet_identifier_0_is_a_protocol_error(ProtocolVersion v)
    {
        // [MQTT-2.2.1-3 / MQTT-2.3.1-1]: packets that carry a packet identifier need a non-zero one. SUBSCRIBE and
        // UNSUBSCRIBE with 0 are malformed, as Mosquitto judges them.
        var p = v == V5 ? Props() : [];
        var zero = U16(0);
        ProtocolError(Packet(0x32, Str("a"), zero, p, [0x01]), v);
        ProtocolError(Packet(0x34, Str("a"), zero, p, [0x01]), v);
        ProtocolError(Packet(0x3C, Str("a"), zero, p, [0x01]), v);
        ProtocolError(Packet(0x40, zero), v);
        ProtocolError(Packet(0x50, zero), v);
        ProtocolError(Packet(0x62, zero), v);
        ProtocolError(Packet(0x70, zero), v);
        Malformed(Packet(0x82, zero, p, Str("a"), [0x00]), v);
        ProtocolError(Packet(0x90, zero, p, [0x00]), v);
        Malformed(Packet(0xA2, zero, p, Str("a")), v);
        ProtocolError(Packet(0xB0, zero, p, v == V5 ? [0x00] : []), v);
    }

    [Fact]
    public void QoS_0_publish_has_no_packet_identifier()
    {
        // The two bytes after the topic of a QoS 0 PUBLISH belong to the properties/payload, not to a packet id.
        var p = (PublishPacket)PacketReader.Read(Packet(0x30, Str("a"), [0x00, 0x00]), V3);
        Assert.Equal(0, p.PacketId);
        Assert.Equal(new byte[] { 0, 0 }, p.Payload.ToArray());
    }

    // ------------------------------------------------------------------ properties

    public static TheoryData<PropertyContext> Contexts() => new(SpecTables.AllContexts);

    [Theory]
    [MemberData(nameof(Contexts))]
    public void Property_allowed_in_context_is_accepted(PropertyContext ctx)
    {
        foreach (var id in SpecTables.Table.Keys.Where(id => SpecTables.IsAllowed(id, ctx)))
        {
            var content = SpecTables.ValidProperty(id);
            // Authentication Data needs an Authentication Method in CONNECT (MQTT 5.0 §3.1.2.11.10).
            if (id == PropertyId.AuthenticationData && ctx == PropertyContext.Connect)
                content = [.. content, .. SpecTables.ValidProperty(PropertyId.AuthenticationMethod)];
            var bytes = SpecTables.PacketWithProperties(ctx, content);
            var ex = Record.Exception(() => PacketReader.Read(bytes, V5));
            Assert.True(ex is null, $"{id} in {ctx}: {ex?.Message}");
            var props = SpecTables.PropertiesOf(PacketReader.Read(bytes, V5), ctx);
            Assert.NotNull(props);
        }
    }

    /// <summary>MQTT 5.0 §2.2.2.2: "A Control Packet which contains an Identifier which is not valid for its packet type
    /// ... is a Malformed Packet."</summary>
    [Theory]
    [MemberData(nameof(Contexts))]
    public void Property_not_allowed_in_context_is_malformed(PropertyContext ctx)
    {
        foreach (var id in SpecTables.Table.Keys.Where(id => !SpecTables.IsAllowed(id, ctx)))
        {
            var ex = Assert.Throws<MqttProtocolException>(() => PacketReader.Read(SpecTables.PacketWithProperties(ctx, SpecTables.ValidProperty(id)), V5));
            Assert.True(ex.ReasonCode == ReasonCode.MalformedPacket, $"{id} in {ctx}: 0x{(byte)ex.ReasonCode:X2} {ex.Message}");
        }
    }

    [Theory]
    [MemberData(nameof(Contexts))]
    public void Unknown_property_identifier_is_malformed(PropertyContext ctx)
    {
        var known = SpecTables.Table.Keys.Select(k => (int)k).ToHashSet();
        for (int id = 0; id < 0x80; id++)
        {
            if (known.Contains(id)) continue;
            Malformed(SpecTables.PacketWithProperties(ctx, [(byte)id, 0x00, 0x00, 0x00, 0x00]), V5);
        }
        // A two-byte Variable Byte Integer identifier (none exists in MQTT 5.0).
        Malformed(SpecTables.PacketWithProperties(ctx, [0x80, 0x01, 0x00]), V5);
    }

    /// <summary>"It is a Protocol Error to include [property] more than once" — every property but User Property,
    /// and Subscription Identifier in PUBLISH.</summary>
    [Theory]
    [MemberData(nameof(Contexts))]
    public void Duplicate_property_is_a_protocol_error_unless_repeatable(PropertyContext ctx)
    {
        foreach (var id in SpecTables.Table.Keys.Where(id => SpecTables.IsAllowed(id, ctx)))
        {
            var one = SpecTables.ValidProperty(id);
            byte[] content = [.. one, .. one];
            if (id == PropertyId.AuthenticationData && ctx == PropertyContext.Connect)
                content = [.. content, .. SpecTables.ValidProperty(PropertyId.AuthenticationMethod)];
            var bytes = SpecTables.PacketWithProperties(ctx, content);
            if (SpecTables.IsRepeatable(id, ctx))
            {
                var props = SpecTables.PropertiesOf(PacketReader.Read(bytes, V5), ctx)!;
                if (id == PropertyId.UserProperty) Assert.Equal(2, props.UserProperties!.Count);
                else Assert.Equal([5u, 5u], props.SubscriptionIdentifiers!);
            }
            else
            {
                var ex = Assert.Throws<MqttProtocolException>(() => PacketReader.Read(bytes, V5));
                Assert.True(ex.ReasonCode == ReasonCode.ProtocolError, $"{id} twice in {ctx}: 0x{(byte)ex.ReasonCode:X2} {ex.Message}");
            }
        }
    }

    [Fact]
    public void Duplicate_property_is_detected_when_not_adjacent()
    {
        var bytes = SpecTables.PacketWithProperties(PropertyContext.Publish,
            [0x02, .. U32(5), 0x26, .. Str("k"), .. Str("v"), 0x01, 0x00, 0x02, .. U32(6)]);
        ProtocolError(bytes, V5);
    }

    [Fact]
    public void User_property_may_repeat_in_every_context_and_keeps_order()
    {
        foreach (var ctx in SpecTables.AllContexts)
        {
            var bytes = SpecTables.PacketWithProperties(ctx,
                [0x26, .. Str("k"), .. Str("1"), 0x26, .. Str("k"), .. Str("2"), 0x26, .. Str("a"), .. Str("3")]);
            var props = SpecTables.PropertiesOf(PacketReader.Read(bytes, V5), ctx)!;
            Assert.Equal(["k=1", "k=2", "a=3"], props.UserProperties!.Select(kv => $"{kv.Key}={kv.Value}"));
        }
    }

    [Theory]
    [InlineData(PropertyContext.Connect)]
    [InlineData(PropertyContext.ConnAck)]
    public void Receive_maximum_0_is_a_protocol_error(PropertyContext ctx)
    {
        // MQTT 5.0 §3.1.2.11.3 / §3.2.2.3.3: "It is a Protocol Error to include the Receive Maximum value more than once or for it to have the value 0."
        ProtocolError(SpecTables.PacketWithProperties(ctx, [0x21, .. U16(0)]), V5);
    }

    [Theory]
    [InlineData(PropertyContext.Connect)]
    [InlineData(PropertyContext.ConnAck)]
    public void Maximum_packet_size_0_is_a_protocol_error(PropertyContext ctx)
    {
        // MQTT 5.0 §3.1.2.11.4 / §3.2.2.3.6.
        ProtocolError(SpecTables.PacketWithProperties(ctx, [0x27, .. U32(0)]), V5);
    }

    [Theory]
    [InlineData(PropertyContext.Publish)]
    [InlineData(PropertyContext.Subscribe)]
    public void Subscription_identifier_0_is_a_protocol_error(PropertyContext ctx)
    {
        // MQTT 5.0 §3.3.2.3.8 / §3.8.2.1.2.
        ProtocolError(SpecTables.PacketWithProperties(ctx, [0x0B, 0x00]), V5);
    }

    [Fact]
    public void Subscription_identifier_longer_than_four_bytes_is_malformed()
    {
        Malformed(SpecTables.PacketWithProperties(PropertyContext.Publish, [0x0B, 0x80, 0x80, 0x80, 0x80, 0x01]), V5);
    }

    [Fact]
    public void Payload_format_indicator_of_any_value_is_passed_on()
    {
        var publish = (PublishPacket)PacketReader.Read(SpecTables.PacketWithProperties(PropertyContext.Publish, [0x01, 0xED]), V5);
        Assert.Equal((byte)0xED, publish.Properties!.PayloadFormatIndicator);
    }

    [Fact]
    public void Boolean_property_other_than_0_or_1_is_a_protocol_error()
    {
        foreach (var id in SpecTables.BooleanProperties)
        {
            var ctx = SpecTables.Table[id].Where[0];
            foreach (byte value in new byte[] { 2, 3, 0x80, 0xFF })
            {
                var ex = Assert.Throws<MqttProtocolException>(() => PacketReader.Read(SpecTables.PacketWithProperties(ctx, [(byte)id, value]), V5));
                Assert.True(ex.ReasonCode == ReasonCode.ProtocolError, $"{id}={value}: 0x{(byte)ex.ReasonCode:X2}");
            }
            foreach (byte value in new byte[] { 0, 1 })
                PacketReader.Read(SpecTables.PacketWithProperties(ctx, [(byte)id, value]), V5);
        }
    }

    [Fact]
    public void Authentication_data_without_method_in_connect_is_a_protocol_error()
    {
        // MQTT 5.0 §3.1.2.11.10: "It is a Protocol Error to include Authentication Data if there is no Authentication Method."
        ProtocolError(SpecTables.PacketWithProperties(PropertyContext.Connect, [0x16, .. LenPrefixed(1, 2)]), V5);
    }

    [Theory]
    [MemberData(nameof(Contexts))]
    public void Property_length_beyond_the_packet_is_malformed(PropertyContext ctx)
    {
        var bytes = SpecTables.PacketWithProperties(ctx, SpecTables.ValidProperty(PropertyId.UserProperty));
        // Find the property block (it starts with the length 0x0B = 1 + 3 + 3 + ... for "k"/"v": 1+3+3 = 7) and inflate it.
        var body = Body(bytes);
        int at = body.AsSpan().IndexOf([(byte)7, (byte)0x26]);
        Assert.True(at >= 0);
        body[at] = 0x7F;
        Malformed(Rewrap(bytes[0], body), V5);
    }

    [Fact]
    public void Property_value_cut_by_the_property_length_is_malformed()
    {
        // The block claims 3 bytes, but Message Expiry Interval needs 1 + 4: the value runs out inside the block.
        Malformed(Packet(0x30, Str("a"), [0x03, 0x02, 0x00, 0x00], [0x00, 0x05, 0x01]), V5);
        // A string whose length runs past the block.
        Malformed(Packet(0x40, U16(1), [0x80], [0x04, 0x1F, 0x00, 0x09, (byte)'x'], [.. "abcdefgh"u8]), V5);
    }

    // ------------------------------------------------------------------ SUBSCRIBE / UNSUBSCRIBE

    [Fact]
    public void Subscription_option_reserved_bits_are_malformed()
    {
        // MQTT 5.0 §3.8.3.1: bits 6 and 7 are reserved [MQTT-3.8.3-5].
        foreach (byte options in new byte[] { 0x40, 0x80, 0xC0, 0x41 })
            Malformed(Packet(0x82, U16(1), Props(), Str("a"), [options]), V5);
        // 3.1.1 §3.8.3.1: bits 2-7 are reserved [MQTT-3-8.3-4].
        foreach (byte options in new byte[] { 0x04, 0x08, 0x10, 0x20, 0x40, 0x80, 0xFC, 0x05 })
        {
            Malformed(Packet(0x82, U16(1), Str("a"), [options]), V3);
            Malformed(Packet(0x82, U16(1), Str("a"), [options]), ProtocolVersion.V310);
        }
    }

    [Fact]
    public void Subscription_options_decode()
    {
        var s = (SubscribePacket)PacketReader.Read(Packet(0x82, U16(9), Props(), Str("a/+"), [0x2E], Str("b/#"), [0x11]), V5);
        Assert.Equal(2, s.Subscriptions.Count);
        Assert.Equal(QualityOfService.ExactlyOnce, s.Subscriptions[0].MaximumQoS);
        Assert.True(s.Subscriptions[0].NoLocal);
        Assert.True(s.Subscriptions[0].RetainAsPublished);
        Assert.Equal(RetainHandling.DoNotSend, s.Subscriptions[0].RetainHandling);
        Assert.Equal(QualityOfService.AtLeastOnce, s.Subscriptions[1].MaximumQoS);
        Assert.False(s.Subscriptions[1].NoLocal);
        Assert.False(s.Subscriptions[1].RetainAsPublished);
        Assert.Equal(RetainHandling.SendAtSubscribeIfNew, s.Subscriptions[1].RetainHandling);
    }

    [Fact]
    public void Retain_handling_3_is_a_protocol_error()
    {
        // MQTT 5.0 §3.8.3.1: "It is a Protocol Error to send a Retain Handling value of 3."
        ProtocolError(Packet(0x82, U16(1), Props(), Str("a"), [0x30]), V5);
        ProtocolError(Packet(0x82, U16(1), Props(), Str("a"), [0x00], Str("b"), [0x31]), V5);
    }

    [Fact]
    public void Subscription_QoS_3_is_a_protocol_error_in_MQTT_5_and_malformed_in_3_1_1()
    {
        // MQTT 5.0 §3.8.3.1: "It is a Protocol Error if the Maximum QoS field has the value 3."
        ProtocolError(Packet(0x82, U16(1), Props(), Str("a"), [0x03]), V5);
        // 3.1.1 [MQTT-3-8.3-4]: malformed if QoS is not 0, 1 or 2.
        Malformed(Packet(0x82, U16(1), Str("a"), [0x03]), V3);
    }

    [Fact]
    public void No_local_on_a_shared_subscription_is_a_protocol_error()
    {
        // [MQTT-3.8.3-4]: "It is a Protocol Error to set the No Local bit to 1 on a Shared Subscription."
        ProtocolError(Packet(0x82, U16(1), Props(), Str("$share/g/a/b"), [0x05]), V5);
        var ok = (SubscribePacket)PacketReader.Read(Packet(0x82, U16(1), Props(), Str("$share/g/a/b"), [0x01], Str("a/b"), [0x05]), V5);
        Assert.True(ok.Subscriptions[1].NoLocal);
    }

    [Theory]
    [MemberData(nameof(Versions))]
    public void Subscribe_and_unsubscribe_without_filters_are_protocol_errors(ProtocolVersion v)
    {
        // [MQTT-3.8.3-2] / [MQTT-3.10.3-2].
        var p = v == V5 ? Props() : [];
        ProtocolError(Packet(0x82, U16(1), p), v);
        ProtocolError(Packet(0xA2, U16(1), p), v);
        if (v == V5)
        {
            ProtocolError(Packet(0x82, U16(1), Props([0x0B, 0x01])), v);
            ProtocolError(Packet(0xA2, U16(1), Props([0x26, .. Str("k"), .. Str("v")])), v);
        }
    }

    [Theory]
    [MemberData(nameof(Versions))]
    public void Subscribe_filter_without_options_byte_is_malformed(ProtocolVersion v)
    {
        Malformed(Packet(0x82, U16(1), v == V5 ? Props() : [], Str("a"), [0x00], Str("b")), v);
    }

    // ------------------------------------------------------------------ CONNECT

    private static byte[] Connect311(byte flags, params byte[][] payload) => Packet(0x10, Str("MQTT"), [0x04, flags], U16(60), Cat(payload));

    private static byte[] Connect5(byte flags, params byte[][] payload) => Packet(0x10, Str("MQTT"), [0x05, flags], U16(60), Props(), Cat(payload));

    [Fact]
    public void Connect_reserved_flag_is_malformed()
    {
        // [MQTT-3.1.2-3]: the reserved flag must be 0.
        Malformed(Connect311(0x03, Str("c")), V3);
        Malformed(Connect5(0x03, Str("c")), V5);
        Malformed(Packet(0x10, Str("MQIsdp"), [0x03, 0x03], U16(60), Str("c")), ProtocolVersion.V310);
    }

    [Fact]
    public void Will_QoS_3_is_malformed()
    {
        // [MQTT-3.1.2-14] (3.1.1) / MQTT 5.0 §3.1.2.6: "A value of 3 (0x03) is a Malformed Packet."
        Malformed(Connect311(0x1E, Str("c"), Str("w"), LenPrefixed(1)), V3);
        Malformed(Connect5(0x1E, Str("c"), Props(), Str("w"), LenPrefixed(1)), V5);
    }

    [Fact]
    public void Will_QoS_or_retain_without_will_flag_is_malformed()
    {
        // [MQTT-3.1.2-11] and [MQTT-3.1.2-13]: with Will Flag 0, Will QoS and Will Retain must be 0.
        foreach (byte flags in new byte[] { 0x0A, 0x12, 0x22, 0x3A })
        {
            Malformed(Connect311(flags, Str("c")), V3);
            Malformed(Connect5(flags, Str("c")), V5);
        }
    }

    [Fact]
    public void Will_decodes_with_its_flags()
    {
        var c = (ConnectPacket)PacketReader.Read(Connect311(0x36, Str("c"), Str("w/t"), LenPrefixed(1, 2)), V3);
        Assert.NotNull(c.Will);
        Assert.Equal(QualityOfService.ExactlyOnce, c.Will!.QoS);
        Assert.True(c.Will.Retain);
        Assert.Equal("w/t", c.Will.Topic);
        Assert.Equal(new byte[] { 1, 2 }, c.Will.Payload);
    }

    [Fact]
    public void Password_without_user_name_is_malformed_in_3_1_1_but_allowed_in_5()
    {
        // [MQTT-3.1.2-22] (3.1.1); MQTT 5.0 §3.1.2.9 allows a password without a user name.
        Malformed(Connect311(0x42, Str("c"), LenPrefixed(1)), V3);
        var c = (ConnectPacket)PacketReader.Read(Connect5(0x42, Str("c"), LenPrefixed(1)), V5);
        Assert.Null(c.UserName);
        Assert.Equal(new byte[] { 1 }, c.Password);
    }

    [Fact]
    public void Connect_missing_a_flagged_field_is_malformed()
    {
        Malformed(Connect311(0x82, Str("c")), V3);                       // user name flag, no user name
        Malformed(Connect311(0xC2, Str("c"), Str("u")), V3);             // password flag, no password
        Malformed(Connect311(0x06, Str("c"), Str("w")), V3);             // will flag, no will payload
        Malformed(Connect5(0x06, Str("c"), Props(), Str("w")), V5);
        Malformed(Packet(0x10, Str("MQTT"), [0x04, 0x02], U16(60)), V3); // no client id
        Malformed(Packet(0x10, Str("MQTT"), [0x05, 0x02], U16(60), Str("c")), V5); // MQTT 5 without property length
    }

    [Theory]
    [InlineData("MQTT", 0)]
    [InlineData("MQTT", 1)]
    [InlineData("MQTT", 2)]
    [InlineData("MQTT", 3)]
    [InlineData("MQTT", 6)]
    [InlineData("MQTT", 0x84)]   // 3.1 bridges set bit 7; not a level this broker knows
    [InlineData("MQTT", 0xFF)]
    [InlineData("MQIsdp", 4)]
    [InlineData("MQIsdp", 5)]
    public void Unknown_protocol_level_is_unsupported_protocol_version(string name, byte level)
    {
        // [MQTT-3.1.2-2]: respond with 0x01 (3.1.1) / 0x84 (5.0) "unacceptable protocol level" and close.
        // The rest of the packet may follow a different layout, so the decoder must stop before reading it.
        var bytes = Packet(0x10, Str(name), [level], [0xFF, 0xFF, 0xFF]);
        foreach (var v in MqttGen.AllVersions) Throws(bytes, v, ReasonCode.UnsupportedProtocolVersion);
    }

    [Theory]
    [InlineData("MQTX")]
    [InlineData("mqtt")]
    [InlineData("MQT")]
    [InlineData("")]
    [InlineData("MQTT ")]
    public void Unknown_protocol_name_is_malformed(string name)
    {
        // [MQTT-3.1.2-1]: if the protocol name is incorrect the server may disconnect the client.
        Malformed(Packet(0x10, Str(name), [0x04, 0x02], U16(60), Str("c")), V3);
        Malformed(Packet(0x10, Str(name), [0x05, 0x02], U16(60), Props(), Str("c")), V5);
    }

    [Fact]
    public void Connect_states_its_own_version_whatever_the_connection_version()
    {
        var c5 = Packet(0x10, Str("MQTT"), [0x05, 0x02], U16(60), Props([0x11, .. U32(30)]), Str("c"));
        foreach (var v in MqttGen.AllVersions)
        {
            var c = (ConnectPacket)PacketReader.Read(c5, v);
            Assert.Equal(ProtocolVersion.V500, c.ProtocolVersion);
            Assert.Equal(30u, c.Properties!.SessionExpiryInterval);
        }
    }

    [Fact]
    public void Connack_reserved_flags_are_malformed()
    {
        // MQTT 5.0 §3.2.2.1 / 3.1.1 §3.2.2.1: bits 7-1 of the Connect Acknowledge Flags are reserved.
        Malformed(Packet(0x20, [0x02, 0x00]), V3);
        Malformed(Packet(0x20, [0x80, 0x00], Props()), V5);
    }

    // ------------------------------------------------------------------ reason codes

    public static TheoryData<byte, byte[]> ReasonCodePackets() => new()
    {
        { 0x40, MqttGen.PubAckCodes },
        { 0x50, MqttGen.PubAckCodes },
        { 0x62, MqttGen.PubRelCodes },
        { 0x70, MqttGen.PubRelCodes },
        { 0xE0, MqttGen.DisconnectCodes },
        { 0xF0, MqttGen.AuthCodes },
    };

    /// <summary>Every byte as the reason code: accepted exactly when the packet's table in MQTT 5.0 chapter 3 lists it,
    /// otherwise a Protocol Error. With and without the property length (it may be omitted when the remaining length is short).</summary>
    [Theory]
    [MemberData(nameof(ReasonCodePackets))]
    public void Reason_code_must_be_valid_for_the_packet(byte first, byte[] valid)
    {
        bool hasId = first is not (0xE0 or 0xF0);
        for (int code = 0; code < 256; code++)
        {
            foreach (var withProps in new[] { false, true })
            {
                var bytes = Packet(first, hasId ? U16(1) : [], [(byte)code], withProps ? Props() : []);
                if (valid.Contains((byte)code))
                {
                    var packet = PacketReader.Read(bytes, V5);
                    var rc = packet switch
                    {
                        PublishResponsePacket r => r.ReasonCode,
                        DisconnectPacket d => d.ReasonCode,
                        AuthPacket a => a.ReasonCode,
                        _ => throw new InvalidOperationException(),
                    };
                    Assert.Equal(code, (int)rc);
                }
                else
                {
                    var ex = Assert.Throws<MqttProtocolException>(() => PacketReader.Read(bytes, V5));
                    Assert.True(ex.ReasonCode == ReasonCode.ProtocolError, $"0x{first:X2} with reason 0x{code:X2}: 0x{(byte)ex.ReasonCode:X2}");
                }
            }
        }
    }

    [Fact]
    public void Short_forms_of_acknowledgements_decode()
    {
        // MQTT 5.0 §3.4.2.1: reason code and property length may be omitted; with remaining length < 4 there is no property length.
        var a = (PubAckPacket)PacketReader.Read([0x40, 0x02, 0x00, 0x07], V5);
        Assert.Equal(ReasonCode.Success, a.ReasonCode);
        Assert.Null(a.Properties);
        a = (PubAckPacket)PacketReader.Read([0x40, 0x03, 0x00, 0x07, 0x10], V5);
        Assert.Equal(ReasonCode.NoMatchingSubscribers, a.ReasonCode);
        a = (PubAckPacket)PacketReader.Read([0x40, 0x04, 0x00, 0x07, 0x10, 0x00], V5);
        Assert.Equal(ReasonCode.NoMatchingSubscribers, a.ReasonCode);

        // §3.14.2.1 / §3.15.2.1: DISCONNECT and AUTH may have remaining length 0 (reason 0x00, no properties) or 1.
        Assert.Equal(ReasonCode.NormalDisconnection, ((DisconnectPacket)PacketReader.Read([0xE0, 0x00], V5)).ReasonCode);
        Assert.Equal(ReasonCode.DisconnectWithWillMessage, ((DisconnectPacket)PacketReader.Read([0xE0, 0x01, 0x04], V5)).ReasonCode);
        Assert.Equal(ReasonCode.Success, ((AuthPacket)PacketReader.Read([0xF0, 0x00], V5)).ReasonCode);
        Assert.Equal(ReasonCode.ContinueAuthentication, ((AuthPacket)PacketReader.Read([0xF0, 0x01, 0x18], V5)).ReasonCode);
    }

    // ------------------------------------------------------------------ golden bytes (writer against the spec's layouts)

    [Fact]
    public void Writer_produces_the_layouts_of_the_spec()
    {
        Assert.Equal(new byte[] { 0xC0, 0x00 }, PacketWriter.ToArray(PingReqPacket.Instance, V3));
        Assert.Equal(new byte[] { 0xD0, 0x00 }, PacketWriter.ToArray(PingRespPacket.Instance, V5));
        Assert.Equal(new byte[] { 0xE0, 0x00 }, PacketWriter.ToArray(new DisconnectPacket(), V3));
        Assert.Equal(new byte[] { 0xE0, 0x00 }, PacketWriter.ToArray(new DisconnectPacket(), V5));
        Assert.Equal(new byte[] { 0x62, 0x02, 0x12, 0x34 }, PacketWriter.ToArray(new PubRelPacket { PacketId = 0x1234 }, V3));
        Assert.Equal(new byte[] { 0x40, 0x02, 0x12, 0x34 }, PacketWriter.ToArray(new PubAckPacket { PacketId = 0x1234 }, V5));
        Assert.Equal(new byte[] { 0x40, 0x02, 0x12, 0x34 }, PacketWriter.ToArray(new PubAckPacket { PacketId = 0x1234, ReasonCode = ReasonCode.QuotaExceeded }, V3));
        // MQTT 5's shortest forms, as Mosquitto writes them: a reason code without properties has no property length.
        Assert.Equal(new byte[] { 0x40, 0x03, 0x12, 0x34, 0x97 }, PacketWriter.ToArray(new PubAckPacket { PacketId = 0x1234, ReasonCode = ReasonCode.QuotaExceeded }, V5));
        Assert.Equal(new byte[] { 0x50, 0x03, 0x12, 0x34, 0x10 }, PacketWriter.ToArray(new PubRecPacket { PacketId = 0x1234, ReasonCode = ReasonCode.NoMatchingSubscribers }, V5));
        Assert.Equal(new byte[] { 0xE0, 0x01, 0x8E }, PacketWriter.ToArray(new DisconnectPacket { ReasonCode = ReasonCode.SessionTakenOver }, V5));
        Assert.Equal(new byte[] { 0x20, 0x02, 0x01, 0x00 }, PacketWriter.ToArray(new ConnAckPacket { SessionPresent = true }, V3));
        Assert.Equal(new byte[] { 0x20, 0x02, 0x00, 0x05 }, PacketWriter.ToArray(new ConnAckPacket { ReasonCode = ReasonCode.NotAuthorized }, V3));
        Assert.Equal(new byte[] { 0x20, 0x03, 0x00, 0x87, 0x00 }, PacketWriter.ToArray(new ConnAckPacket { ReasonCode = ReasonCode.NotAuthorized }, V5));
        Assert.Equal(new byte[] { 0x90, 0x04, 0x00, 0x0A, 0x01, 0x80 },
            PacketWriter.ToArray(new SubAckPacket { PacketId = 10, ReasonCodes = [ReasonCode.GrantedQoS1, ReasonCode.NotAuthorized] }, V3));
        Assert.Equal(new byte[] { 0xB0, 0x02, 0x00, 0x0A }, PacketWriter.ToArray(new UnsubAckPacket { PacketId = 10, ReasonCodes = [ReasonCode.Success] }, V3));
        Assert.Equal(Packet(0x82, U16(10), Str("a/b"), [0x01]),
            PacketWriter.ToArray(new SubscribePacket { PacketId = 10, Subscriptions = [new() { TopicFilter = "a/b", MaximumQoS = QualityOfService.AtLeastOnce }] }, V3));
        Assert.Equal(Packet(0x3D, Str("a/b"), U16(10), Props(), [0x68, 0x69]),
            PacketWriter.ToArray(new PublishPacket { Dup = true, QoS = QualityOfService.ExactlyOnce, Retain = true, Topic = "a/b", PacketId = 10, Payload = "hi"u8.ToArray() }, V5));

        // The CONNECT example of MQTT 3.1.1 §3.1.2.10 / MQTT 5.0 §3.1.2.12 (keep alive 10, clean session, no payload fields but the client id).
        var connect = new ConnectPacket { ProtocolVersion = V3, KeepAlive = 10, ClientId = "c" };
        Assert.Equal(Packet(0x10, [0x00, 0x04, (byte)'M', (byte)'Q', (byte)'T', (byte)'T', 0x04, 0x02, 0x00, 0x0A], Str("c")), PacketWriter.ToArray(connect, V3));
        var connect5 = new ConnectPacket
        {
            ProtocolVersion = V5, KeepAlive = 10, ClientId = "c", CleanStart = false,
            Properties = new MqttProperties { SessionExpiryInterval = 10 },
            Will = new WillMessage { Topic = "w", Payload = [1], QoS = QualityOfService.AtLeastOnce, Retain = true },
            UserName = "u", Password = [2],
        };
        Assert.Equal(Packet(0x10, Str("MQTT"), [0x05, 0xEC], U16(10), Props([0x11, .. U32(10)]), Str("c"), Props(), Str("w"), LenPrefixed(1), Str("u"), LenPrefixed(2)),
            PacketWriter.ToArray(connect5, V5));
    }

    // ------------------------------------------------------------------ writer limits

    [Fact]
    public void Writer_refuses_a_string_longer_than_65535_bytes()
    {
        // MQTT 5.0 §1.5.4: a UTF-8 Encoded String is at most 65,535 bytes. Encoding a longer one would write a
        // wrong length prefix and corrupt the stream; the writer must refuse instead.
        var packet = new PublishPacket { Topic = new string('a', 65_536), Payload = new byte[1] };
        Assert.ThrowsAny<ArgumentException>(() => PacketWriter.GetSize(packet, V3));
        Assert.ThrowsAny<ArgumentException>(() => PacketWriter.ToArray(packet, V3));
        // Two-byte characters: 32,768 of them are 65,536 bytes.
        var wide = new PublishPacket { Topic = new string('é', 32_768) };
        Assert.ThrowsAny<ArgumentException>(() => PacketWriter.ToArray(wide, V3));
        var user = new ConnectPacket { ClientId = "c", UserName = "u", Password = new byte[65_536] };
        Assert.ThrowsAny<ArgumentException>(() => PacketWriter.ToArray(user, V3));
    }

    [Fact]
    public void Writer_refuses_a_packet_longer_than_the_largest_remaining_length()
    {
        // 268,435,455 bytes is the largest Remaining Length (MQTT 5.0 §2.1.4). Many subscriptions sharing one long
        // filter string make such a packet without allocating it.
        string filter = new('f', 60_000);
        var subs = Enumerable.Range(0, 4_500).Select(_ => new TopicSubscription { TopicFilter = filter }).ToList();
        var packet = new SubscribePacket { PacketId = 1, Subscriptions = subs };
        Assert.ThrowsAny<ArgumentException>(() => PacketWriter.GetSize(packet, V3));
        Assert.ThrowsAny<ArgumentException>(() => PacketWriter.Write(packet, V3, new ArrayBufferWriter<byte>()));
        // So large that an int sum would wrap around to a small or negative number.
        var huge = new UnsubscribePacket { PacketId = 1, TopicFilters = Enumerable.Repeat(filter, 40_000).ToList() };
        Assert.ThrowsAny<ArgumentException>(() => PacketWriter.GetSize(huge, V5));
    }
}
