using Holdfast.Protocol;

namespace Holdfast.Broker.Tests;

/// <summary>Edge cases found in review: none of these may lose or reorder what the broker owes a subscriber.</summary>
public class DeliveryEdgeTests
{
    [Fact]
    public void Every_retained_message_is_sent_on_subscribe_even_beyond_the_queue_limit()
    {
        using var broker = TestBroker.New(new BrokerOptions { MaxInflightMessages = 2, MaxQueuedMessages = 3 });
        var pub = broker.Connect("pub");
        for (int i = 0; i < 20; i++) pub.Publish($"r/{i}", $"v{i}", QualityOfService.AtLeastOnce, packetId: (ushort)(i + 1), retain: true);

        var sub = broker.Connect("sub");
        sub.Subscribe("r/#", QualityOfService.AtLeastOnce);
        var seen = new HashSet<string>();
        for (int round = 0; round < 30 && seen.Count < 20; round++)
        {
            foreach (var p in sub.Publishes) seen.Add(p.Topic);
            sub.AckAllQoS1();
        }
        Assert.Equal(20, seen.Count);
        Assert.Equal(0, broker.Metrics.Dropped(DropCause.QueueFull));
    }

    [Fact]
    public void Expired_messages_do_not_keep_an_offline_queue_full()
    {
        using var broker = TestBroker.New(new BrokerOptions { MaxQueuedMessages = 2, QueueFullPolicy = QueueFullPolicy.Block });
        var sub = broker.ConnectPersistent("sub");
        sub.Subscribe("t", QualityOfService.AtLeastOnce);
        sub.Lost();
        var pub = broker.Connect("pub");
        var shortLived = new MqttProperties { MessageExpiryInterval = 1 };
        pub.Publish("t", "a", QualityOfService.AtLeastOnce, packetId: 1, properties: shortLived);
        pub.Publish("t", "b", QualityOfService.AtLeastOnce, packetId: 2, properties: shortLived);
        pub.Publish("t", "full", QualityOfService.AtLeastOnce, packetId: 3);
        Assert.Equal(ReasonCode.QuotaExceeded, pub.Conn.SentOf<PubAckPacket>().Single(a => a.PacketId == 3).ReasonCode);

        broker.TickUntil(() => broker.Metrics.Dropped(DropCause.Expired) == 2, what: "both messages to expire");
        pub.Publish("t", "fits", QualityOfService.AtLeastOnce, packetId: 4);
        Assert.Equal(ReasonCode.Success, pub.Conn.SentOf<PubAckPacket>().Single(a => a.PacketId == 4).ReasonCode);

        var back = broker.ConnectPersistent("sub");
        Assert.Equal(["fits"], back.Publishes.Select(p => p.Text()));
    }

    [Fact]
    public void A_live_QoS0_message_never_overtakes_a_queued_one()
    {
        using var broker = TestBroker.New(new BrokerOptions { MaxInflightMessages = 1, QueueQos0Messages = true });
        var sub = broker.ConnectPersistent("sub");
        sub.Subscribe("t", QualityOfService.AtLeastOnce);
        sub.Lost();
        var pub = broker.Connect("pub");
        pub.Publish("t", "q1", QualityOfService.AtLeastOnce, packetId: 1);
        pub.Publish("t", "q2", QualityOfService.AtLeastOnce, packetId: 2);
        pub.Publish("t", "b1", QualityOfService.AtMostOnce);

        var back = broker.ConnectPersistent("sub");
        pub.Publish("t", "b2", QualityOfService.AtMostOnce);
        for (int i = 0; i < 5; i++) back.AckAllQoS1();
        Assert.Equal(["q1", "q2", "b1", "b2"], back.Publishes.Select(p => p.Text()));
    }

    [Fact]
    public void A_delayed_will_expires_counting_from_its_publication()
    {
        using var broker = TestBroker.New();
        var watcher = broker.Connect("watcher");
        watcher.Subscribe("will/t", QualityOfService.AtMostOnce);
        var dying = broker.Connect("dying", sessionExpiry: 60, will: new WillMessage
        {
            Topic = "will/t",
            Payload = "gone"u8.ToArray(),
            Properties = new MqttProperties { WillDelayInterval = 1, MessageExpiryInterval = 1 },
        });
        dying.Lost();
        broker.TickUntil(() => watcher.Publishes.Length == 1, what: "the delayed will");
        Assert.Equal("gone", watcher.Publishes[0].Text());
        Assert.Equal(1u, watcher.Publishes[0].Properties?.MessageExpiryInterval);
    }

    [Theory]
    [InlineData(ProtocolVersion.V311)]
    [InlineData(ProtocolVersion.V500)]
    public void Max_keepalive_0_means_no_limit(ProtocolVersion version)
    {
        using var broker = TestBroker.New(new BrokerOptions { MaxKeepAlive = 0 });
        var conn = new FakeConnection();
        var client = broker.HandleConnect(conn, new ConnectPacket { ProtocolVersion = version, ClientId = "k", KeepAlive = 600 }, ListenerPolicy.Default);
        Assert.NotNull(client);
        Assert.Equal(600, client.KeepAlive);
        Assert.Null(conn.SentOf<ConnAckPacket>().Single().Properties?.ServerKeepAlive);
    }

    [Fact]
    public void A_will_on_SYS_is_refused()
    {
        using var broker = TestBroker.New();
        var peer = broker.Connect("w", will: new WillMessage { Topic = "$SYS/broker/uptime", Payload = "x"u8.ToArray() });
        Assert.Null(peer.ClientOrNull);
        Assert.Equal(ReasonCode.NotAuthorized, peer.ConnAck.ReasonCode);
    }

    /// <summary>message_size_limit holds for a will as for any message: a CONNECT whose will is larger is refused
    /// (MQTT 5: 0x95; 3.1.1: code 5, as Mosquitto), one at the limit is accepted.</summary>
    [Theory]
    [InlineData(ProtocolVersion.V500, ReasonCode.PacketTooLarge)]
    [InlineData(ProtocolVersion.V311, ReasonCode.NotAuthorized)]
    public void A_will_over_message_size_limit_is_refused(ProtocolVersion version, ReasonCode refusal)
    {
        using var broker = TestBroker.New(new BrokerOptions { MessageSizeLimit = 1 });
        var large = broker.Connect("w", version, will: new WillMessage { Topic = "w/t", Payload = "AB"u8.ToArray() });
        Assert.Null(large.ClientOrNull);
        Assert.Equal(refusal, large.ConnAck.ReasonCode);
        Assert.NotNull(broker.Connect("w", version, will: new WillMessage { Topic = "w/t", Payload = "A"u8.ToArray() }).ClientOrNull);
    }
}
