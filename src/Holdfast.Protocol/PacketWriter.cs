using System.Buffers;

namespace Holdfast.Protocol;

/// <summary>Encodes control packets straight into an output buffer (a connection's PipeWriter on the hot path).</summary>
public static class PacketWriter
{
    /// <summary>Encodes <paramref name="packet"/> and returns the number of bytes written.</summary>
    public static int Write(MqttPacket packet, ProtocolVersion version, IBufferWriter<byte> output)
    {
        int remaining = RemainingLength(packet, version);
        int total = 1 + WireSize.VariableByteInteger((uint)remaining) + remaining;
        var span = output.GetSpan(total);
        var w = new MqttSpanWriter(span);
        w.WriteByte(FirstByte(packet));
        w.WriteVariableByteInteger((uint)remaining);
        WriteBody(ref w, packet, version);
        output.Advance(total);
        return total;
    }

    /// <summary>The whole encoded size (what MQTT 5's Maximum Packet Size limits).</summary>
    public static int GetSize(MqttPacket packet, ProtocolVersion version)
    {
        int remaining = RemainingLength(packet, version);
        return 1 + WireSize.VariableByteInteger((uint)remaining) + remaining;
    }

    /// <summary>Encodes a queued packet in any of its forms and returns the number of bytes written.</summary>
    public static int Write(in OutboundPacket packet, ProtocolVersion version, IBufferWriter<byte> output)
    {
        if (packet.Packet is { } whole) return Write(whole, version, output);
        int remaining = RemainingLength(packet, version);
        int total = 1 + WireSize.VariableByteInteger((uint)remaining) + remaining;
        var span = output.GetSpan(total);
        var w = new MqttSpanWriter(span);
        w.WriteByte(packet.FirstByte);
        w.WriteVariableByteInteger((uint)remaining);
        if (packet.Message is { } message)
            WritePublishBody(ref w, message.Topic, packet.QoS, packet.PacketId, message.Properties, packet.MessageExpiry, packet.SubscriptionIds,
                message.Payload.Span, V5(version));
        else
            WriteAckBody(ref w, packet.PacketId, packet.ReasonCode, null, V5(version));
        output.Advance(total);
        return total;
    }

    /// <summary>The whole encoded size of a queued packet (what MQTT 5's Maximum Packet Size limits).</summary>
    public static int GetSize(in OutboundPacket packet, ProtocolVersion version)
    {
        if (packet.Packet is { } whole) return GetSize(whole, version);
        int remaining = RemainingLength(packet, version);
        return 1 + WireSize.VariableByteInteger((uint)remaining) + remaining;
    }

    public static byte[] ToArray(MqttPacket packet, ProtocolVersion version)
    {
        var buffer = new ArrayBufferWriter<byte>();
        Write(packet, version, buffer);
        return buffer.WrittenSpan.ToArray();
    }

    private static byte FirstByte(MqttPacket packet) =>
        packet is PublishPacket p ? PublishFirstByte(p.QoS, p.Retain, p.Dup) : FirstByte(packet.Type);

    internal static byte PublishFirstByte(QualityOfService qos, bool retain, bool dup) =>
        (byte)(0x30 | (dup ? 8 : 0) | ((int)qos << 1) | (retain ? 1 : 0));

    /// <summary>The first byte of any packet but PUBLISH: its type and the fixed flags [MQTT-2.1.3-1].</summary>
    internal static byte FirstByte(PacketType type) =>
        type is PacketType.PubRel or PacketType.Subscribe or PacketType.Unsubscribe ? (byte)(((int)type << 4) | 2) : (byte)((int)type << 4);

    private static bool V5(ProtocolVersion v) => v == ProtocolVersion.V500;

    private static int RemainingLength(MqttPacket packet, ProtocolVersion version)
    {
        // Summed in long: a packet built from shared large strings can exceed int before the check.
        long remaining = RemainingLengthUnchecked(packet, version);
        if (remaining > PacketReader.MaxRemainingLength)
            throw new ArgumentException($"{packet.Type} needs a remaining length of {remaining}, more than the {PacketReader.MaxRemainingLength} MQTT allows");
        return (int)remaining;
    }

    private static int RemainingLength(in OutboundPacket packet, ProtocolVersion version)
    {
        if (packet.Message is not { } message) return AckRemainingLength(packet.ReasonCode, null, V5(version));
        long remaining = PublishRemainingLength(message.Topic, packet.QoS, message.Properties, packet.MessageExpiry, packet.SubscriptionIds,
            message.Payload.Length, V5(version));
        if (remaining > PacketReader.MaxRemainingLength)
            throw new ArgumentException($"PUBLISH needs a remaining length of {remaining}, more than the {PacketReader.MaxRemainingLength} MQTT allows");
        return (int)remaining;
    }

    // PUBLISH and acknowledgements are written from a packet object or from an OutboundPacket's fields, by the same code.
    private static long PublishRemainingLength(string topic, QualityOfService qos, MqttProperties? properties, uint? messageExpiry,
        List<uint>? subscriptionIds, int payloadLength, bool v5) =>
        (long)WireSize.String(topic) + (qos > 0 ? 2 : 0) + (v5 ? PropertyWriter.BlockSize(properties, messageExpiry, subscriptionIds) : 0) + payloadLength;

    private static void WritePublishBody(ref MqttSpanWriter w, string topic, QualityOfService qos, ushort packetId, MqttProperties? properties,
        uint? messageExpiry, List<uint>? subscriptionIds, ReadOnlySpan<byte> payload, bool v5)
    {
        w.WriteString(topic);
        if (qos > 0) w.WriteUInt16(packetId);
        if (v5) PropertyWriter.Write(ref w, properties, messageExpiry, subscriptionIds);
        w.WriteBytes(payload);
    }

    // The shortest form MQTT 5 allows, as Mosquitto writes it: without properties, no property length (remaining length
    // 3), and with reason code 0x00 no reason code either (2) [MQTT-3.4.2.1, 3.4.2.2].
    private static int AckRemainingLength(ReasonCode code, MqttProperties? properties, bool v5)
    {
        if (!v5 || (code == ReasonCode.Success && properties is null)) return 2;
        return properties is null ? 3 : 3 + PropertyWriter.BlockSize(properties);
    }

    private static void WriteAckBody(ref MqttSpanWriter w, ushort packetId, ReasonCode code, MqttProperties? properties, bool v5)
    {
        w.WriteUInt16(packetId);
        if (v5 && (code != ReasonCode.Success || properties is not null))
        {
            w.WriteByte((byte)code);
            if (properties is not null) PropertyWriter.Write(ref w, properties);
        }
    }

    private static long RemainingLengthUnchecked(MqttPacket packet, ProtocolVersion version)
    {
        bool v5 = V5(version);
        switch (packet)
        {
            case PublishPacket p:
                return PublishRemainingLength(p.Topic, p.QoS, p.Properties, p.Properties?.MessageExpiryInterval, p.Properties?.SubscriptionIdentifiers,
                    p.Payload.Length, v5);
            case PublishResponsePacket a:
                return AckRemainingLength(a.ReasonCode, a.Properties, v5);
            case ConnAckPacket c:
                return 2 + (v5 ? PropertyWriter.BlockSize(c.Properties) : 0);
            case SubAckPacket s:
                return 2 + (v5 ? PropertyWriter.BlockSize(s.Properties) : 0) + s.ReasonCodes.Count;
            case UnsubAckPacket u:
                return 2 + (v5 ? PropertyWriter.BlockSize(u.Properties) + u.ReasonCodes.Count : 0);
            case SubscribePacket s:
            {
                long size = 2 + (v5 ? PropertyWriter.BlockSize(s.Properties) : 0);
                foreach (var sub in s.Subscriptions) size += WireSize.String(sub.TopicFilter) + 1;
                return size;
            }
            case UnsubscribePacket u:
            {
                long size = 2 + (v5 ? PropertyWriter.BlockSize(u.Properties) : 0);
                foreach (var f in u.TopicFilters) size += WireSize.String(f);
                return size;
            }
            case DisconnectPacket d:
                if (!v5 || (d.ReasonCode == ReasonCode.NormalDisconnection && d.Properties is null)) return 0;
                // Without properties, no property length (as Mosquitto writes it) [MQTT-3.14.2.2].
                return d.Properties is null ? 1 : 1 + PropertyWriter.BlockSize(d.Properties);
            case AuthPacket a:
                if (a.ReasonCode == ReasonCode.Success && a.Properties is null) return 0;
                return 1 + PropertyWriter.BlockSize(a.Properties);
            case PingReqPacket or PingRespPacket:
                return 0;
            case ConnectPacket c:
                return ConnectSize(c);
            default:
                throw new ArgumentException($"cannot encode {packet.GetType().Name}");
        }
    }

    private static int ConnectSize(ConnectPacket c)
    {
        bool v5 = c.ProtocolVersion == ProtocolVersion.V500;
        int size = WireSize.String(c.ProtocolName) + 1 + 1 + 2 + (v5 ? PropertyWriter.BlockSize(c.Properties) : 0) + WireSize.String(c.ClientId);
        if (c.Will is { } will)
            size += (v5 ? PropertyWriter.BlockSize(will.Properties) : 0) + WireSize.String(will.Topic) + WireSize.Binary(will.Payload);
        if (c.UserName is not null) size += WireSize.String(c.UserName);
        if (c.Password is not null) size += WireSize.Binary(c.Password);
        return size;
    }

    private static void WriteBody(ref MqttSpanWriter w, MqttPacket packet, ProtocolVersion version)
    {
        bool v5 = V5(version);
        switch (packet)
        {
            case PublishPacket p:
                WritePublishBody(ref w, p.Topic, p.QoS, p.PacketId, p.Properties, p.Properties?.MessageExpiryInterval, p.Properties?.SubscriptionIdentifiers,
                    p.Payload.Span, v5);
                break;
            case PublishResponsePacket a:
                WriteAckBody(ref w, a.PacketId, a.ReasonCode, a.Properties, v5);
                break;
            case ConnAckPacket c:
                w.WriteByte((byte)(c.SessionPresent ? 1 : 0));
                if (v5)
                {
                    w.WriteByte((byte)c.ReasonCode);
                    PropertyWriter.Write(ref w, c.Properties);
                }
                else
                {
                    w.WriteByte((byte)ReasonCodes.ToV311(c.ReasonCode));
                }
                break;
            case SubAckPacket s:
                w.WriteUInt16(s.PacketId);
                if (v5) PropertyWriter.Write(ref w, s.Properties);
                // 3.1.1 knows only granted QoS 0-2 and 0x80 Failure.
                foreach (var code in s.ReasonCodes) w.WriteByte(v5 || (byte)code < 0x80 ? (byte)code : (byte)0x80);
                break;
            case UnsubAckPacket u:
                w.WriteUInt16(u.PacketId);
                if (v5)
                {
                    PropertyWriter.Write(ref w, u.Properties);
                    foreach (var code in u.ReasonCodes) w.WriteByte((byte)code);
                }
                break;
            case SubscribePacket s:
                w.WriteUInt16(s.PacketId);
                if (v5) PropertyWriter.Write(ref w, s.Properties);
                foreach (var sub in s.Subscriptions)
                {
                    w.WriteString(sub.TopicFilter);
                    w.WriteByte((byte)((int)sub.MaximumQoS | (sub.NoLocal ? 4 : 0) | (sub.RetainAsPublished ? 8 : 0) | ((int)sub.RetainHandling << 4)));
                }
                break;
            case UnsubscribePacket u:
                w.WriteUInt16(u.PacketId);
                if (v5) PropertyWriter.Write(ref w, u.Properties);
                foreach (var f in u.TopicFilters) w.WriteString(f);
                break;
            case DisconnectPacket d:
                if (v5 && (d.ReasonCode != ReasonCode.NormalDisconnection || d.Properties is not null))
                {
                    w.WriteByte((byte)d.ReasonCode);
                    if (d.Properties is not null) PropertyWriter.Write(ref w, d.Properties);
                }
                break;
            case AuthPacket a:
                if (a.ReasonCode != ReasonCode.Success || a.Properties is not null)
                {
                    w.WriteByte((byte)a.ReasonCode);
                    PropertyWriter.Write(ref w, a.Properties);
                }
                break;
            case ConnectPacket c:
                WriteConnect(ref w, c);
                break;
        }
    }

    private static void WriteConnect(ref MqttSpanWriter w, ConnectPacket c)
    {
        bool v5 = c.ProtocolVersion == ProtocolVersion.V500;
        w.WriteString(c.ProtocolName);
        w.WriteByte((byte)c.ProtocolVersion);
        int flags = (c.CleanStart ? 0x02 : 0)
            | (c.Will is not null ? 0x04 | ((int)c.Will.QoS << 3) | (c.Will.Retain ? 0x20 : 0) : 0)
            | (c.Password is not null ? 0x40 : 0)
            | (c.UserName is not null ? 0x80 : 0);
        w.WriteByte((byte)flags);
        w.WriteUInt16(c.KeepAlive);
        if (v5) PropertyWriter.Write(ref w, c.Properties);
        w.WriteString(c.ClientId);
        if (c.Will is { } will)
        {
            if (v5) PropertyWriter.Write(ref w, will.Properties);
            w.WriteString(will.Topic);
            w.WriteBinary(will.Payload);
        }
        if (c.UserName is not null) w.WriteString(c.UserName);
        if (c.Password is not null) w.WriteBinary(c.Password);
    }
}
