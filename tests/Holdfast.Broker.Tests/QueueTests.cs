using Holdfast.Protocol;

namespace Holdfast.Broker.Tests;

public class QueueTests
{
    public enum Limit { Count, Bytes }

    /// <summary>Window 1 and room for exactly one queued 6-byte message, by count or by bytes.</summary>
    private static BrokerOptions Options(Limit limit, QueueFullPolicy policy) => limit == Limit.Count
        ? new BrokerOptions { MaxInflightMessages = 1, MaxQueuedMessages = 1, QueueFullPolicy = policy }
        : new BrokerOptions { MaxInflightMessages = 1, MaxQueuedMessages = 0, MaxQueuedBytes = 10, QueueFullPolicy = policy };

    [Theory]
    [InlineData(Limit.Count)]
    [InlineData(Limit.Bytes)]
    public void Block_v5_publisher_gets_0x97_and_no_subscriber_gets_the_message(Limit limit)
    {
        using var broker = TestBroker.New(Options(limit, QueueFullPolicy.Block));
        var slow = broker.Connect("slow");
        slow.Subscribe("t");
        var fast = broker.Connect("fast");
        fast.Subscribe("t");
        var pub = broker.Connect("pub");

        pub.Publish("t", "msg-01", packetId: 1); // slow: inflight
        fast.AckAllQoS1();
        pub.Publish("t", "msg-02", packetId: 2); // slow: queued
        fast.AckAllQoS1();
        pub.Publish("t", "msg-03", packetId: 3); // slow: full
        pub.Publish("t", "msg-04", QualityOfService.ExactlyOnce, 4);

        var acks = pub.Conn.SentOf<PubAckPacket>();
        Assert.Equal([(1, ReasonCode.Success), (2, ReasonCode.Success), (3, ReasonCode.QuotaExceeded)],
            acks.Select(a => ((int)a.PacketId, a.ReasonCode)));
        var rec = Assert.Single(pub.Conn.SentOf<PubRecPacket>());
        Assert.Equal((4, ReasonCode.QuotaExceeded), (rec.PacketId, rec.ReasonCode));
        Assert.Equal(["msg-01", "msg-02"], fast.Publishes.Select(p => p.Text()));
        Assert.Equal(["msg-01"], slow.Publishes.Select(p => p.Text()));
        Assert.Equal(2, broker.Metrics.PublishesRejected);
        Assert.Equal(0, broker.Metrics.DroppedTotal);

        // The refused QoS 2 id is not held: once there is room, the same id is a new, accepted message.
        slow.PubAck(slow.Publishes[0].PacketId);
        pub.Publish("t", "msg-04", QualityOfService.ExactlyOnce, 4);
        Assert.Equal(ReasonCode.Success, pub.Conn.SentOf<PubRecPacket>()[^1].ReasonCode);
        Assert.Equal(["msg-01", "msg-02", "msg-04"], fast.Publishes.Select(p => p.Text()));
        slow.PubAck(slow.Publishes[1].PacketId);
        Assert.Equal(["msg-01", "msg-02", "msg-04"], slow.Publishes.Select(p => p.Text()));
    }

    [Theory]
    [InlineData(Limit.Count)]
    [InlineData(Limit.Bytes)]
    public async Task Block_v311_publisher_is_held_back_until_the_subscriber_drains(Limit limit)
    {
        using var broker = TestBroker.New(Options(limit, QueueFullPolicy.Block));
        var slow = broker.Connect("slow", ProtocolVersion.V311);
        slow.Subscribe("t");
        var fast = broker.Connect("fast");
        fast.Subscribe("t", QualityOfService.AtMostOnce);
        var pub = broker.Connect("pub", ProtocolVersion.V311);

        pub.Publish("t", "msg-01", packetId: 1);
        pub.Publish("t", "msg-02", packetId: 2);
        var held = pub.PublishAsync("t", "msg-03", packetId: 3);
        Assert.False(held.IsCompleted);
        Assert.Equal([1, 2], pub.Conn.SentOf<PubAckPacket>().Select(a => (int)a.PacketId));
        Assert.Equal(["msg-01", "msg-02"], fast.Publishes.Select(p => p.Text()));
        Assert.Equal(0, broker.Metrics.DroppedTotal);

        slow.PubAck(slow.Publishes[0].PacketId);
        await held.WaitAsync(TimeSpan.FromSeconds(5));

        var ack3 = pub.Conn.SentOf<PubAckPacket>()[^1];
        Assert.Equal((3, ReasonCode.Success), (ack3.PacketId, ack3.ReasonCode));
        Assert.Equal(["msg-01", "msg-02", "msg-03"], fast.Publishes.Select(p => p.Text()));
        Assert.Equal(["msg-01", "msg-02"], slow.Publishes.Select(p => p.Text()));
        slow.PubAck(slow.Publishes[1].PacketId);
        Assert.Equal(["msg-01", "msg-02", "msg-03"], slow.Publishes.Select(p => p.Text()));
        Assert.Equal(0, broker.Metrics.DroppedTotal);
        Assert.Equal(0, broker.Metrics.PublishesRejected);
    }

    [Fact]
    public async Task Block_v311_qos2_publisher_is_held_back_then_gets_pubrec()
    {
        using var broker = TestBroker.New(Options(Limit.Count, QueueFullPolicy.Block));
        var slow = broker.Connect("slow");
        slow.Subscribe("t", QualityOfService.ExactlyOnce);
        var pub = broker.Connect("pub", ProtocolVersion.V311);
        pub.Publish("t", "msg-01", QualityOfService.ExactlyOnce, 1);
        pub.Publish("t", "msg-02", QualityOfService.ExactlyOnce, 2);
        var held = pub.PublishAsync("t", "msg-03", QualityOfService.ExactlyOnce, 3);
        Assert.False(held.IsCompleted);
        Assert.Equal(2, pub.Conn.SentOf<PubRecPacket>().Length);

        slow.PubRec(slow.Publishes[0].PacketId);
        slow.PubComp(slow.Publishes[0].PacketId);
        await held.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.Equal(3, pub.Conn.SentOf<PubRecPacket>()[^1].PacketId);
        pub.PubRel(3);
        Assert.Equal(ReasonCode.Success, pub.Conn.SentOf<PubCompPacket>()[^1].ReasonCode);
        slow.PubRec(slow.Publishes[1].PacketId);
        slow.PubComp(slow.Publishes[1].PacketId);
        Assert.Equal(["msg-01", "msg-02", "msg-03"], slow.Publishes.Select(p => p.Text()));
    }

    [Theory]
    [InlineData(Limit.Count, ProtocolVersion.V500)]
    [InlineData(Limit.Bytes, ProtocolVersion.V500)]
    [InlineData(Limit.Count, ProtocolVersion.V311)]
    public void DropNew_drops_the_new_message_and_counts_it(Limit limit, ProtocolVersion publisherVersion)
    {
        using var broker = TestBroker.New(Options(limit, QueueFullPolicy.DropNew));
        var slow = broker.Connect("slow");
        slow.Subscribe("t");
        var pub = broker.Connect("pub", publisherVersion);
        pub.Publish("t", "msg-01", packetId: 1);
        pub.Publish("t", "msg-02", packetId: 2);
        pub.Publish("t", "msg-03", packetId: 3);
        pub.Publish("t", "msg-04", packetId: 4);
        Assert.Equal(2, broker.Metrics.Dropped(DropCause.QueueFull));
        Assert.All(pub.Conn.SentOf<PubAckPacket>(), a => Assert.Equal(ReasonCode.Success, a.ReasonCode));
        Assert.Equal(4, pub.Conn.SentOf<PubAckPacket>().Length);

        slow.PubAck(slow.Publishes[0].PacketId);
        slow.PubAck(slow.Publishes[1].PacketId);
        Assert.Equal(["msg-01", "msg-02"], slow.Publishes.Select(p => p.Text()));
    }

    [Theory]
    [InlineData(Limit.Count)]
    [InlineData(Limit.Bytes)]
    public void DropOldest_drops_the_oldest_queued_message_and_counts_it(Limit limit)
    {
        using var broker = TestBroker.New(Options(limit, QueueFullPolicy.DropOldest));
        var slow = broker.Connect("slow");
        slow.Subscribe("t");
        var pub = broker.Connect("pub");
        pub.Publish("t", "msg-01", packetId: 1);
        pub.Publish("t", "msg-02", packetId: 2);
        pub.Publish("t", "msg-03", packetId: 3);
        pub.Publish("t", "msg-04", packetId: 4);
        Assert.Equal(2, broker.Metrics.Dropped(DropCause.QueueFull));

        slow.PubAck(slow.Publishes[0].PacketId);
        slow.PubAck(slow.Publishes[1].PacketId);
        // The inflight message is never the one dropped; the queue keeps the newest.
        Assert.Equal(["msg-01", "msg-04"], slow.Publishes.Select(p => p.Text()));
        Assert.Equal(0, slow.Client.Session.QueuedBytes);
    }

    [Fact]
    public void Queue_limits_apply_to_offline_sessions_too()
    {
        using var broker = TestBroker.New(new BrokerOptions { MaxQueuedMessages = 3, QueueFullPolicy = QueueFullPolicy.DropNew });
        var sub = broker.ConnectPersistent("sub");
        sub.Subscribe("t");
        sub.Lost();
        var pub = broker.Connect("pub");
        for (int i = 0; i < 5; i++) pub.Publish("t", "m" + i, packetId: (ushort)(i + 1));
        Assert.Equal(2, broker.Metrics.Dropped(DropCause.QueueFull));
        var back = broker.ConnectPersistent("sub");
        Assert.Equal(["m0", "m1", "m2"], back.Publishes.Select(p => p.Text()));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Queue_qos0_messages_for_offline_sessions(bool queueQos0)
    {
        using var broker = TestBroker.New(new BrokerOptions { QueueQos0Messages = queueQos0 });
        var sub = broker.ConnectPersistent("sub");
        sub.Subscribe("t", QualityOfService.AtLeastOnce);
        sub.Lost();
        var pub = broker.Connect("pub");
        pub.Publish("t", "q0-a", QualityOfService.AtMostOnce);
        pub.Publish("t", "q1-b", QualityOfService.AtLeastOnce, 1);
        pub.Publish("t", "q0-c", QualityOfService.AtMostOnce);

        var back = broker.ConnectPersistent("sub");
        var got = back.Publishes.Select(p => (p.Text(), p.QoS)).ToList();
        if (queueQos0)
            Assert.Equal([("q0-a", QualityOfService.AtMostOnce), ("q1-b", QualityOfService.AtLeastOnce), ("q0-c", QualityOfService.AtMostOnce)], got);
        else
            Assert.Equal([("q1-b", QualityOfService.AtLeastOnce)], got);
        Assert.All(back.Publishes.Where(p => p.QoS == 0), p => Assert.Equal(0, p.PacketId));
    }

    [Fact]
    public void Queued_message_expires_while_offline_and_the_remaining_interval_is_forwarded()
    {
        using var broker = TestBroker.New();
        var sub = broker.ConnectPersistent("sub");
        sub.Subscribe("t");
        var v3 = broker.ConnectPersistent("v3", ProtocolVersion.V311);
        v3.Subscribe("t");
        sub.Lost();
        v3.Lost();
        var pub = broker.Connect("pub");
        pub.Publish("t", "short", packetId: 1, properties: new MqttProperties { MessageExpiryInterval = 1 });
        pub.Publish("t", "long", packetId: 2, properties: new MqttProperties { MessageExpiryInterval = 60 });
        pub.Publish("t", "forever", packetId: 3);
        pub.Publish("r/short", "r1", packetId: 4, retain: true, properties: new MqttProperties { MessageExpiryInterval = 1 });
        pub.Publish("r/long", "r60", packetId: 5, retain: true, properties: new MqttProperties { MessageExpiryInterval = 60 });
        Assert.Equal(2, broker.RetainedCount);

        broker.TickFor(1100); // the 1 s expiry must elapse

        // An expired retained message is no longer sent on subscribe; a live one carries its remaining interval.
        var late = broker.Connect("late");
        late.Subscribe("r/#");
        var retained = Assert.Single(late.Publishes);
        Assert.Equal("r60", retained.Text());
        Assert.InRange(retained.Properties!.MessageExpiryInterval!.Value, 1u, 59u);
        Assert.Equal(1, broker.RetainedCount);

        var back = broker.ConnectPersistent("sub");
        Assert.Equal(["long", "forever"], back.Publishes.Select(p => p.Text()));
        var remaining = back.Publishes[0].Properties?.MessageExpiryInterval;
        Assert.NotNull(remaining);
        Assert.InRange(remaining.Value, 1u, 59u);
        Assert.Null(back.Publishes[1].Properties?.MessageExpiryInterval);

        var back3 = broker.ConnectPersistent("v3", ProtocolVersion.V311);
        Assert.Equal(["long", "forever"], back3.Publishes.Select(p => p.Text()));
        Assert.All(back3.Publishes, p => Assert.Null(p.Properties));
        Assert.Equal(2, broker.Metrics.Dropped(DropCause.Expired));
    }

    [Fact]
    public void Expiry_interval_is_forwarded_to_online_subscribers()
    {
        using var broker = TestBroker.New();
        var sub = broker.Connect("sub");
        sub.Subscribe("t");
        var pub = broker.Connect("pub");
        pub.Publish("t", "x", packetId: 1, properties: new MqttProperties { MessageExpiryInterval = 30 });
        Assert.Equal(30u, Assert.Single(sub.Publishes).Properties?.MessageExpiryInterval);
    }
}
