using System.Buffers;

namespace Holdfast.Protocol.Tests;

/// <summary>A connection's reader cache: PUBLISHes read into the packet handed back, topic strings reused for the same bytes.</summary>
public class PacketReaderCacheTests
{
    private static PublishPacket Read(PublishPacket sent, ProtocolVersion version, PacketReaderCache? cache)
    {
        var buffer = new ReadOnlySequence<byte>(PacketWriter.ToArray(sent, version));
        Assert.True(PacketReader.TryRead(ref buffer, version, 0, out var packet, cache));
        Assert.True(buffer.IsEmpty);
        return Assert.IsType<PublishPacket>(packet);
    }

    private static PublishPacket Publish(string topic, QualityOfService qos = QualityOfService.AtMostOnce, ushort packetId = 0) =>
        new() { Topic = topic, QoS = qos, PacketId = packetId, Payload = new byte[] { 1, 2 } };

    [Fact]
    public void The_same_topic_bytes_give_the_same_string()
    {
        var cache = new PacketReaderCache();
        var first = Read(Publish("plant/line-42/sensor-7/temp"), ProtocolVersion.V311, cache).Topic;
        var second = Read(Publish("plant/line-42/sensor-7/temp"), ProtocolVersion.V311, cache).Topic;
        Assert.Equal("plant/line-42/sensor-7/temp", first);
        Assert.Same(first, second);

        // Without a cache every read makes its own string.
        var plain = Read(Publish("plant/line-42/sensor-7/temp"), ProtocolVersion.V311, null);
        Assert.NotSame(first, plain.Topic);
    }

    [Fact]
    public void Many_topics_sharing_few_slots_always_read_as_themselves()
    {
        var cache = new PacketReaderCache();
        var topics = Enumerable.Range(0, 100).Select(i => $"plant/line-{i}/temp")
            .Concat(["caf\u00e9/\u6e29\u5ea6", "caf\u00e9/\u6e29\u5ea7", "\U0001F600/x", new string('a', TopicNameCache.MaxNameBytes), new string('b', 300)])
            .ToArray();
        for (int round = 0; round < 3; round++)
            foreach (var topic in topics)
                Assert.Equal(topic, Read(Publish(topic), ProtocolVersion.V500, cache).Topic);
    }

    [Fact]
    public void A_topic_cache_hit_needs_exactly_the_same_bytes()
    {
        var topics = new TopicNameCache();
        topics.Add("a/b"u8, "a/b");
        Assert.True(topics.TryGet("a/b"u8, out var hit));
        Assert.Equal("a/b", hit);
        Assert.False(topics.TryGet("a/c"u8, out _));
        Assert.False(topics.TryGet("a/b/"u8, out _));
        Assert.False(topics.TryGet(""u8, out _));
    }

    [Theory]
    [InlineData(ProtocolVersion.V311)]
    [InlineData(ProtocolVersion.V500)]
    public void An_invalid_topic_is_refused_even_after_valid_ones_were_cached(ProtocolVersion version)
    {
        var cache = new PacketReaderCache();
        Read(Publish("a/b"), version, cache);
        var bytes = PacketWriter.ToArray(Publish("a/+"), version);
        var buffer = new ReadOnlySequence<byte>(bytes);
        var e = Assert.Throws<MqttProtocolException>(() => PacketReader.TryRead(ref buffer, version, 0, out _, cache));
        Assert.Equal(ReasonCode.TopicNameInvalid, e.ReasonCode);
        Assert.Equal("a/b", Read(Publish("a/b"), version, cache).Topic);
    }

    [Fact]
    public void A_returned_packet_is_read_into_again_and_keeps_nothing_of_the_previous_message()
    {
        var cache = new PacketReaderCache();
        var first = Read(new PublishPacket
        {
            Topic = "a/b", QoS = QualityOfService.ExactlyOnce, Dup = true, Retain = true, PacketId = 77,
            Properties = new MqttProperties { ContentType = "x" }, Payload = new byte[] { 1, 2, 3 },
        }, ProtocolVersion.V500, cache);
        var firstPayload = first.Payload;
        var firstProperties = first.Properties;
        cache.Return(first);

        var second = Read(Publish("c"), ProtocolVersion.V500, cache);
        Assert.Same(first, second);
        Assert.Equal("c", second.Topic);
        Assert.Equal(QualityOfService.AtMostOnce, second.QoS);
        Assert.False(second.Dup || second.Retain);
        Assert.Equal(0, second.PacketId);
        Assert.Null(second.Properties);
        Assert.Equal(new byte[] { 1, 2 }, second.Payload.ToArray());
        // What the broker took from the first message (payload, properties) is its own: not overwritten.
        Assert.Equal(new byte[] { 1, 2, 3 }, firstPayload.ToArray());
        Assert.Equal("x", firstProperties!.ContentType);

        // Not handed back (the broker kept it): the next PUBLISH gets a packet of its own.
        var third = Read(Publish("d"), ProtocolVersion.V500, cache);
        Assert.NotSame(second, third);
        Assert.Equal("c", second.Topic);
    }

    [Fact]
    public void A_returned_acknowledgement_is_read_into_again_for_its_own_type_only()
    {
        var cache = new PacketReaderCache();
        PublishResponsePacket ReadAck(PublishResponsePacket sent)
        {
            var buffer = new ReadOnlySequence<byte>(PacketWriter.ToArray(sent, ProtocolVersion.V500));
            Assert.True(PacketReader.TryRead(ref buffer, ProtocolVersion.V500, 0, out var packet, cache));
            return Assert.IsAssignableFrom<PublishResponsePacket>(packet);
        }

        var first = ReadAck(new PubAckPacket { PacketId = 5, ReasonCode = ReasonCode.QuotaExceeded, Properties = new MqttProperties { ReasonString = "full" } });
        cache.Return(first);
        var rec = ReadAck(new PubRecPacket { PacketId = 6 });
        Assert.IsType<PubRecPacket>(rec);
        Assert.NotSame(first, rec);

        var second = ReadAck(new PubAckPacket { PacketId = 7 });
        Assert.Same(first, second);
        Assert.Equal(7, second.PacketId);
        Assert.Equal(ReasonCode.Success, second.ReasonCode);
        Assert.Null(second.Properties);

        // Not handed back: the next one is new.
        Assert.NotSame(second, ReadAck(new PubAckPacket { PacketId = 8 }));
    }
}
