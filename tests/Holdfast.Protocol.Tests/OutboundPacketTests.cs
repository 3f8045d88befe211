using System.Buffers;
using CsCheck;
using Holdfast.Protocol.Tests.Helpers;

namespace Holdfast.Protocol.Tests;

/// <summary>A PUBLISH or acknowledgement written from an <see cref="OutboundPacket"/>'s fields must be the very bytes of
/// the same packet written from an object, for every version, with and without properties.</summary>
public class OutboundPacketTests
{
    private sealed record Content(string Topic, ReadOnlyMemory<byte> Payload, MqttProperties? Properties) : IApplicationMessage;

    private static byte[] Written(in OutboundPacket packet, ProtocolVersion version)
    {
        var buffer = new ArrayBufferWriter<byte>();
        int written = PacketWriter.Write(packet, version, buffer);
        Assert.Equal(written, buffer.WrittenCount);
        Assert.Equal(written, PacketWriter.GetSize(packet, version));
        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>What the broker used to queue: the message's properties copied with this delivery's expiry and
    /// subscription identifiers (MQTT 5), none on 3.1.1.</summary>
    private static PublishPacket AsObject(Content message, QualityOfService qos, bool retain, bool dup, ushort packetId, uint? expiry,
        List<uint>? subscriptionIds, ProtocolVersion version)
    {
        MqttProperties? properties = null;
        if (version == ProtocolVersion.V500)
        {
            properties = message.Properties?.Clone() ?? new MqttProperties();
            properties.MessageExpiryInterval = expiry;
            properties.SubscriptionIdentifiers = subscriptionIds;
        }
        return new PublishPacket
        {
            Topic = message.Topic, Payload = message.Payload, QoS = qos, Retain = retain, Dup = dup, PacketId = packetId, Properties = properties,
        };
    }

    [Theory]
    [InlineData(ProtocolVersion.V311, false)]
    [InlineData(ProtocolVersion.V311, true)]
    [InlineData(ProtocolVersion.V500, false)]
    [InlineData(ProtocolVersion.V500, true)]
    public void Publish_from_fields_is_byte_for_byte_the_publish_from_a_packet(ProtocolVersion version, bool withProperties)
    {
        var properties = withProperties
            ? new MqttProperties { PayloadFormatIndicator = 1, MessageExpiryInterval = 600, ContentType = "text/plain", ResponseTopic = "reply/here", CorrelationData = [1, 2] }
            : null;
        if (withProperties) properties!.AddUserProperty("site", "north");
        var message = new Content("plant/line-42/sensor-7/temp", new byte[] { 1, 2, 3, 4 }, properties);
        uint? expiry = withProperties ? 17 : null;
        List<uint>? ids = withProperties ? [5, 300] : null;

        var fromFields = Written(OutboundPacket.Publish(message, QualityOfService.AtLeastOnce, true, true, 4242, expiry, ids), version);
        var fromPacket = PacketWriter.ToArray(AsObject(message, QualityOfService.AtLeastOnce, true, true, 4242, expiry, ids, version), version);

        Assert.Equal(fromPacket, fromFields);
        var read = (PublishPacket)PacketReader.Read(fromFields, version);
        Assert.True(read.Dup && read.Retain);
        Assert.Equal(4242, read.PacketId);
        if (version == ProtocolVersion.V500 && withProperties)
        {
            Assert.Equal(17u, read.Properties!.MessageExpiryInterval);
            Assert.Equal([5u, 300u], read.Properties.SubscriptionIdentifiers!);
            Assert.Equal("text/plain", read.Properties.ContentType);
        }
        // The shared message's own properties are never changed by writing a delivery of it.
        if (withProperties)
        {
            Assert.Equal(600u, properties!.MessageExpiryInterval);
            Assert.Null(properties.SubscriptionIdentifiers);
        }
    }

    [Fact]
    public void Publish_from_fields_matches_the_packet_for_generated_messages()
    {
        Gen.Select(MqttGen.TopicName, MqttGen.Binary, MqttGen.Properties(PropertyContext.Publish),
                Gen.Select(Gen.Int[0, 2], Gen.Bool, Gen.Bool, MqttGen.PacketId),
                Gen.Select(Gen.UInt[0, 100_000], MqttGen.SubscriptionIdentifier.List[1, 3].Null(), Gen.OneOfConst(MqttGen.AllVersions)))
            .Sample((topic, payload, properties, flags, overrides) =>
            {
                var (qos, retain, dup, packetId) = flags;
                var (expirySeconds, ids, version) = overrides;
                uint? expiry = expirySeconds == 0 ? null : expirySeconds;
                var q = (QualityOfService)qos;
                dup &= q > 0;
                var message = new Content(topic, payload, properties);
                var fromFields = Written(OutboundPacket.Publish(message, q, retain, dup, q > 0 ? packetId : (ushort)0, expiry, ids), version);
                var fromPacket = PacketWriter.ToArray(AsObject(message, q, retain, dup, q > 0 ? packetId : (ushort)0, expiry, ids, version), version);
                Assert.Equal(fromPacket, fromFields);
            }, iter: 400);
    }

    [Theory]
    [InlineData(ProtocolVersion.V311)]
    [InlineData(ProtocolVersion.V500)]
    public void Acknowledgements_from_fields_are_byte_for_byte_the_packets(ProtocolVersion version)
    {
        foreach (var type in new[] { PacketType.PubAck, PacketType.PubRec, PacketType.PubRel, PacketType.PubComp })
            foreach (var code in new[] { ReasonCode.Success, type is PacketType.PubRel or PacketType.PubComp ? ReasonCode.PacketIdentifierNotFound : ReasonCode.QuotaExceeded })
            {
                var packet = PublishResponsePacket.Create(type);
                packet.PacketId = 513;
                packet.ReasonCode = code;
                var fields = OutboundPacket.Ack(type, 513, code);
                Assert.Equal(PacketWriter.ToArray(packet, version), Written(fields, version));
                Assert.Equal(type, fields.Type);
                Assert.Equal(type, fields.ToPacket(version).Type);
            }
    }

    [Fact]
    public void A_packet_object_converts_and_is_written_as_itself()
    {
        OutboundPacket queued = new ConnAckPacket { SessionPresent = true, ReasonCode = ReasonCode.Success };
        Assert.IsType<ConnAckPacket>(queued.Packet);
        Assert.False(queued.IsPublish);
        Assert.Equal(PacketWriter.ToArray(queued.Packet!, ProtocolVersion.V500), Written(queued, ProtocolVersion.V500));
    }

    [Fact]
    public void ToPacket_shows_what_a_reader_of_the_bytes_sees()
    {
        var message = new Content("a/b", new byte[] { 9 }, new MqttProperties { ContentType = "x", MessageExpiryInterval = 99 });
        var queued = OutboundPacket.Publish(message, QualityOfService.ExactlyOnce, false, false, 7, 12, [3]);

        var v5 = (PublishPacket)queued.ToPacket(ProtocolVersion.V500);
        var read = (PublishPacket)PacketReader.Read(Written(queued, ProtocolVersion.V500), ProtocolVersion.V500);
        Assert.Equal(read.Properties!.MessageExpiryInterval, v5.Properties!.MessageExpiryInterval);
        Assert.Equal(read.Properties.SubscriptionIdentifiers!, v5.Properties.SubscriptionIdentifiers!);
        Assert.Equal("x", v5.Properties.ContentType);
        Assert.Equal(7, v5.PacketId);
        Assert.Equal(QualityOfService.ExactlyOnce, v5.QoS);

        Assert.Null(((PublishPacket)queued.ToPacket(ProtocolVersion.V311)).Properties);
    }
}
