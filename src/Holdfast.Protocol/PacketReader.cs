using System.Buffers;

namespace Holdfast.Protocol;

/// <summary>Decodes control packets from a connection's input. Pure: no I/O, no session knowledge.</summary>
public static class PacketReader
{
    /// <summary>The largest Remaining Length a four-byte Variable Byte Integer holds.</summary>
    public const int MaxRemainingLength = 268_435_455;

    /// <summary>
    /// Tries to take one whole packet from the front of <paramref name="buffer"/>. Returns false when more
    /// bytes are needed (buffer untouched). On success <paramref name="buffer"/> is advanced past the packet.
    /// Throws <see cref="MqttProtocolException"/> on a malformed packet or one larger than
    /// <paramref name="maxPacketSize"/> (whole packet size, as MQTT 5 counts it).
    /// </summary>
    /// <param name="version">The connection's version, used for every packet but CONNECT (which states its own).</param>
    /// <param name="cache">The connection's <see cref="PacketReaderCache"/>, so that PUBLISHes reuse a packet and topic
    /// strings; null to allocate both.</param>
    public static bool TryRead(ref ReadOnlySequence<byte> buffer, ProtocolVersion version, int maxPacketSize, out MqttPacket? packet,
        PacketReaderCache? cache = null)
    {
        packet = null;
        if (!TryReadFixedHeader(buffer, out byte first, out int remainingLength, out int headerLength))
            return false;

        long total = (long)headerLength + remainingLength;
        if (maxPacketSize > 0 && total > maxPacketSize)
            throw new MqttProtocolException(ReasonCode.PacketTooLarge, $"packet of {total} bytes exceeds the maximum of {maxPacketSize}");
        if (buffer.Length < total)
            return false;

        var body = buffer.Slice(headerLength, remainingLength);
        if (body.IsSingleSegment)
        {
            packet = Decode(first, body.FirstSpan, version, cache);
        }
        else
        {
            byte[] rented = ArrayPool<byte>.Shared.Rent(remainingLength);
            try
            {
                body.CopyTo(rented);
                packet = Decode(first, rented.AsSpan(0, remainingLength), version, cache);
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(rented);
            }
        }
        buffer = buffer.Slice(total);
        return true;
    }

    /// <summary>Decodes a whole packet held in one span (used by tests and tools).</summary>
    public static MqttPacket Read(ReadOnlySpan<byte> packet, ProtocolVersion version)
    {
        var sequence = new ReadOnlySequence<byte>(packet.ToArray());
        if (!TryRead(ref sequence, version, 0, out var result) || !sequence.IsEmpty)
            throw MqttProtocolException.Malformed("bytes do not hold exactly one packet");
        return result!;
    }

    /// <summary>The length of the packet at the start of <paramref name="buffer"/>, fixed header included, once its fixed
    /// header is there (the rest need not be): for a transport that frames the byte stream by packet.</summary>
    public static bool TryMeasure(ReadOnlySequence<byte> buffer, out long packetLength)
    {
        packetLength = 0;
        if (!TryReadFixedHeader(buffer, out _, out int remainingLength, out int headerLength)) return false;
        packetLength = headerLength + (long)remainingLength;
        return true;
    }

    private static bool TryReadFixedHeader(ReadOnlySequence<byte> buffer, out byte first, out int remainingLength, out int headerLength)
    {
        first = 0;
        remainingLength = 0;
        headerLength = 0;
        var reader = new SequenceReader<byte>(buffer);
        if (!reader.TryRead(out first)) return false;
        int value = 0;
        for (int i = 0; i < 4; i++)
        {
            if (!reader.TryRead(out byte b)) return false;
            value |= (b & 0x7F) << (7 * i);
            if ((b & 0x80) == 0)
            {
                remainingLength = value;
                headerLength = 2 + i;
                return true;
            }
        }
        throw MqttProtocolException.Malformed("remaining length longer than four bytes");
    }

    private static MqttPacket Decode(byte first, ReadOnlySpan<byte> body, ProtocolVersion version, PacketReaderCache? cache)
    {
        try
        {
            return DecodeBody(first, body, version, cache);
        }
        catch (MqttProtocolException e) when (e.PacketType is null)
        {
            // The receiver's answer may depend on the type (a server closes on a packet only servers send).
            throw new MqttProtocolException(e.ReasonCode, e.Message) { PacketType = (PacketType)(first >> 4) };
        }
    }

    private static MqttPacket DecodeBody(byte first, ReadOnlySpan<byte> body, ProtocolVersion version, PacketReaderCache? cache)
    {
        var type = (PacketType)(first >> 4);
        int flags = first & 0x0F;
        var r = new MqttSpanReader(body);

        if (type == PacketType.Publish) return PublishDecoder.Decode(flags, ref r, version, cache);

        // Every packet but PUBLISH has fixed flags: 0010 for PUBREL, SUBSCRIBE, UNSUBSCRIBE, else 0000 [MQTT-2.1.3-1].
        int expectedFlags = type is PacketType.PubRel or PacketType.Subscribe or PacketType.Unsubscribe ? 2 : 0;
        // MQTT 3.1 let these three carry DUP when resent (its §3.6 PUBREL "DUP flag"); Mosquitto reads them so.
        if (version == ProtocolVersion.V310 && expectedFlags == 2) flags &= ~0x08;
        if (flags != expectedFlags)
            throw MqttProtocolException.Malformed($"invalid fixed header flags {flags:X} for {type}");

        MqttPacket packet = type switch
        {
            PacketType.Connect => ConnectDecoder.Decode(ref r),
            PacketType.ConnAck => DecodeConnAck(ref r, version),
            PacketType.PubAck or PacketType.PubRec or PacketType.PubRel or PacketType.PubComp => DecodePublishResponse(type, ref r, version, cache),
            PacketType.Subscribe => SubscribeDecoder.Decode(ref r, version),
            PacketType.SubAck => DecodeSubAck(ref r, version),
            PacketType.Unsubscribe => DecodeUnsubscribe(ref r, version),
            PacketType.UnsubAck => DecodeUnsubAck(ref r, version),
            PacketType.PingReq => PingReqPacket.Instance,
            PacketType.PingResp => PingRespPacket.Instance,
            PacketType.Disconnect => DecodeDisconnect(ref r, version),
            PacketType.Auth when version == ProtocolVersion.V500 => DecodeAuth(ref r),
            _ => throw MqttProtocolException.Malformed($"reserved packet type {(int)type}"),
        };
        if (!r.End) throw MqttProtocolException.Malformed($"{type} has {r.Remaining} unexpected trailing bytes");
        return packet;
    }

    /// <summary>A packet identifier, which must not be 0 [MQTT-2.2.1-3]. The spec names no code for 0: a protocol error
    /// (0x82), except in SUBSCRIBE and UNSUBSCRIBE, which Mosquitto judges malformed (<paramref name="zeroIsMalformed"/>, 0x81).</summary>
    internal static ushort ReadPacketId(ref MqttSpanReader r, bool zeroIsMalformed = false)
    {
        ushort id = r.ReadUInt16();
        if (id == 0) throw zeroIsMalformed ? MqttProtocolException.Malformed("packet identifier 0") : MqttProtocolException.ProtocolError("packet identifier 0");
        return id;
    }

    private static ConnAckPacket DecodeConnAck(ref MqttSpanReader r, ProtocolVersion version)
    {
        byte ackFlags = r.ReadByte();
        if ((ackFlags & 0xFE) != 0) throw MqttProtocolException.Malformed("reserved CONNACK flags set");
        byte code = r.ReadByte();
        var packet = new ConnAckPacket { SessionPresent = (ackFlags & 1) != 0 };
        if (version == ProtocolVersion.V500)
        {
            packet.ReasonCode = (ReasonCode)code;
            packet.Properties = PropertyReader.Read(ref r, PropertyContext.ConnAck);
        }
        else
        {
            packet.ReasonCode = ReasonCodes.FromV311((ConnectReturnCode)code);
        }
        return packet;
    }

    private static PublishResponsePacket DecodePublishResponse(PacketType type, ref MqttSpanReader r, ProtocolVersion version, PacketReaderCache? cache)
    {
        var packet = cache?.TakeAck(type) ?? PublishResponsePacket.Create(type);
        packet.PacketId = ReadPacketId(ref r);
        // Every field is set: a reused packet keeps nothing of the previous one.
        packet.ReasonCode = ReasonCode.Success;
        packet.Properties = null;
        if (version == ProtocolVersion.V500 && !r.End)
        {
            packet.ReasonCode = (ReasonCode)r.ReadByte();
            if (!ReasonCodeRules.IsValidFor(type, packet.ReasonCode))
                throw MqttProtocolException.ProtocolError($"reason code 0x{(byte)packet.ReasonCode:X2} is not valid in {type}");
            if (!r.End)
                packet.Properties = PropertyReader.Read(ref r, type switch
                {
                    PacketType.PubAck => PropertyContext.PubAck,
                    PacketType.PubRec => PropertyContext.PubRec,
                    PacketType.PubRel => PropertyContext.PubRel,
                    _ => PropertyContext.PubComp,
                });
        }
        return packet;
    }

    private static SubAckPacket DecodeSubAck(ref MqttSpanReader r, ProtocolVersion version)
    {
        var packet = new SubAckPacket { PacketId = ReadPacketId(ref r) };
        if (version == ProtocolVersion.V500) packet.Properties = PropertyReader.Read(ref r, PropertyContext.SubAck);
        while (!r.End) packet.ReasonCodes.Add((ReasonCode)r.ReadByte());
        return packet;
    }

    private static UnsubscribePacket DecodeUnsubscribe(ref MqttSpanReader r, ProtocolVersion version)
    {
        var packet = new UnsubscribePacket { PacketId = ReadPacketId(ref r, zeroIsMalformed: true) };
        if (version == ProtocolVersion.V500) packet.Properties = PropertyReader.Read(ref r, PropertyContext.Unsubscribe);
        while (!r.End) packet.TopicFilters.Add(SubscribeDecoder.ReadFilter(ref r));
        // An UNSUBSCRIBE with no topic filter is a Protocol Error [MQTT-3.10.3-2].
        if (packet.TopicFilters.Count == 0) throw MqttProtocolException.ProtocolError("UNSUBSCRIBE without topic filters");
        return packet;
    }

    private static UnsubAckPacket DecodeUnsubAck(ref MqttSpanReader r, ProtocolVersion version)
    {
        var packet = new UnsubAckPacket { PacketId = ReadPacketId(ref r) };
        if (version == ProtocolVersion.V500)
        {
            packet.Properties = PropertyReader.Read(ref r, PropertyContext.UnsubAck);
            while (!r.End) packet.ReasonCodes.Add((ReasonCode)r.ReadByte());
        }
        return packet;
    }

    private static DisconnectPacket DecodeDisconnect(ref MqttSpanReader r, ProtocolVersion version)
    {
        var packet = new DisconnectPacket();
        if (version == ProtocolVersion.V500 && !r.End)
        {
            packet.ReasonCode = (ReasonCode)r.ReadByte();
            if (!ReasonCodeRules.IsValidFor(PacketType.Disconnect, packet.ReasonCode))
                throw MqttProtocolException.ProtocolError($"reason code 0x{(byte)packet.ReasonCode:X2} is not valid in DISCONNECT");
            if (!r.End) packet.Properties = PropertyReader.Read(ref r, PropertyContext.Disconnect);
        }
        return packet;
    }

    private static AuthPacket DecodeAuth(ref MqttSpanReader r)
    {
        var packet = new AuthPacket();
        if (!r.End)
        {
            packet.ReasonCode = (ReasonCode)r.ReadByte();
            if (!ReasonCodeRules.IsValidFor(PacketType.Auth, packet.ReasonCode))
                throw MqttProtocolException.ProtocolError($"reason code 0x{(byte)packet.ReasonCode:X2} is not valid in AUTH");
            if (!r.End) packet.Properties = PropertyReader.Read(ref r, PropertyContext.Auth);
        }
        return packet;
    }
}
