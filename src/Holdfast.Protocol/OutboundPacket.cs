using System.Buffers;

namespace Holdfast.Protocol;

/// <summary>What a PUBLISH to a subscriber shares with every other subscriber of the same message.</summary>
public interface IApplicationMessage
{
    string Topic { get; }
    ReadOnlyMemory<byte> Payload { get; }
    /// <summary>The publisher's properties to forward (MQTT 5); their Message Expiry Interval and Subscription
    /// Identifiers are not written: each delivery states its own.</summary>
    MqttProperties? Properties { get; }
}

/// <summary>
/// A packet queued for sending, in one of three forms, so that the steady publish path allocates nothing per
/// subscriber: a PUBLISH written from a shared message and this delivery's own fields (QoS, RETAIN, DUP, packet id,
/// remaining expiry, subscription identifiers); an acknowledgement (PUBACK, PUBREC, PUBREL, PUBCOMP) as type, packet
/// id and reason code; any other packet as its object. <see cref="PacketWriter"/> writes all three.
/// </summary>
public readonly struct OutboundPacket
{
    // One field for the packet object or the shared message (null for an acknowledgement): the struct is queued per
    // packet, so it is kept to 24 bytes.
    private readonly object? _content;
    private readonly List<uint>? _subscriptionIds;
    /// <summary>0 = no Message Expiry Interval (one sent to a subscriber is at least 1).</summary>
    private readonly uint _messageExpiry;
    private readonly ushort _packetId;
    /// <summary>The fixed header's first byte, for the PUBLISH and acknowledgement forms.</summary>
    private readonly byte _firstByte;
    private readonly ReasonCode _reasonCode;

    private OutboundPacket(MqttPacket packet) => _content = packet;

    private OutboundPacket(IApplicationMessage message, byte firstByte, ushort packetId, uint messageExpiry, List<uint>? subscriptionIds)
    {
        _content = message;
        _firstByte = firstByte;
        _packetId = packetId;
        _messageExpiry = messageExpiry;
        _subscriptionIds = subscriptionIds;
    }

    private OutboundPacket(byte firstByte, ushort packetId, ReasonCode reasonCode)
    {
        _firstByte = firstByte;
        _packetId = packetId;
        _reasonCode = reasonCode;
    }

    public static implicit operator OutboundPacket(MqttPacket packet) => new(packet);

    /// <summary>A PUBLISH of <paramref name="message"/> to one subscriber.</summary>
    /// <param name="messageExpiry">Seconds left of the Message Expiry Interval, or null when the message does not expire (MQTT 5 only).</param>
    /// <param name="subscriptionIds">The identifiers of the subscriptions it matched, or null (MQTT 5 only).</param>
    public static OutboundPacket Publish(IApplicationMessage message, QualityOfService qos, bool retain, bool dup, ushort packetId,
        uint? messageExpiry, List<uint>? subscriptionIds)
    {
        if (messageExpiry == 0) throw new ArgumentOutOfRangeException(nameof(messageExpiry), "a message sent with an expiry has at least 1 second left");
        return new(message, PacketWriter.PublishFirstByte(qos, retain, dup), packetId, messageExpiry ?? 0, subscriptionIds);
    }

    /// <summary>PUBACK, PUBREC, PUBREL or PUBCOMP without properties.</summary>
    public static OutboundPacket Ack(PacketType type, ushort packetId, ReasonCode reasonCode = ReasonCode.Success)
    {
        if (type is not (PacketType.PubAck or PacketType.PubRec or PacketType.PubRel or PacketType.PubComp))
            throw new ArgumentOutOfRangeException(nameof(type), $"{type} is not an acknowledgement");
        return new(PacketWriter.FirstByte(type), packetId, reasonCode);
    }

    /// <summary>The packet object, for a packet queued as one; null for the PUBLISH and acknowledgement forms.</summary>
    public MqttPacket? Packet => _content as MqttPacket;
    public PacketType Type => _content is MqttPacket packet ? packet.Type : (PacketType)(_firstByte >> 4);
    public bool IsPublish => Type == PacketType.Publish;

    /// <summary>The shared message of the PUBLISH form.</summary>
    public IApplicationMessage? Message => _content as IApplicationMessage;
    public QualityOfService QoS => (QualityOfService)((_firstByte >> 1) & 3);
    public bool Retain => (_firstByte & 1) != 0;
    public bool Dup => (_firstByte & 8) != 0;
    public ushort PacketId => _packetId;
    public uint? MessageExpiry => _messageExpiry == 0 ? null : _messageExpiry;
    public List<uint>? SubscriptionIds => _subscriptionIds;
    public ReasonCode ReasonCode => _reasonCode;
    internal byte FirstByte => _firstByte;

    /// <summary>The packet as an object, read back from the bytes <see cref="PacketWriter"/> writes for it on
    /// <paramref name="version"/> (a PUBLISH has properties on MQTT 5 only): the wire form itself, not a second rendering of
    /// the fields, for traces and tests. Allocates: not for the hot path.</summary>
    public MqttPacket ToPacket(ProtocolVersion version)
    {
        if (_content is MqttPacket packet) return packet;
        var written = new ArrayBufferWriter<byte>();
        int size = PacketWriter.Write(this, version, written);
        if (size != written.WrittenCount || size != PacketWriter.GetSize(this, version))
            throw new InvalidOperationException($"{Type}: wrote {written.WrittenCount} bytes, reported {size}, sized {PacketWriter.GetSize(this, version)}");
        var bytes = new ReadOnlySequence<byte>(written.WrittenMemory);
        if (!PacketReader.TryRead(ref bytes, version, 0, out var read) || !bytes.IsEmpty)
            throw new InvalidOperationException($"{Type}: the bytes written do not read back as one packet");
        return read!;
    }

    public override string ToString() => Type.ToString();
}
