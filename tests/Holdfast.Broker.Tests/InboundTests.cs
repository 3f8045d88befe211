using Holdfast.Protocol;

namespace Holdfast.Broker.Tests;

public class InboundTests
{
    [Theory]
    [InlineData(ProtocolVersion.V500)]
    [InlineData(ProtocolVersion.V311)]
    public void Duplicate_qos2_publish_before_pubrel_is_routed_once_and_pubrec_resent(ProtocolVersion version)
    {
        using var broker = TestBroker.New();
        var sub = broker.Connect("sub");
        sub.Subscribe("t", QualityOfService.ExactlyOnce);
        var pub = broker.Connect("pub", version);

        pub.Publish("t", "once", QualityOfService.ExactlyOnce, 7);
        pub.Publish("t", "once", QualityOfService.ExactlyOnce, 7, dup: true);
        pub.Publish("t", "once", QualityOfService.ExactlyOnce, 7, dup: true);
        Assert.Single(sub.Publishes);
        var recs = pub.Conn.SentOf<PubRecPacket>();
        Assert.Equal(3, recs.Length);
        Assert.All(recs, r => Assert.Equal((ushort)7, r.PacketId));
        Assert.All(recs, r => Assert.Equal(ReasonCode.Success, r.ReasonCode));

        pub.PubRel(7);
        var comp = Assert.Single(pub.Conn.SentOf<PubCompPacket>());
        Assert.Equal((7, ReasonCode.Success), (comp.PacketId, comp.ReasonCode));

        // After PUBREL the id is free: the same id now carries a new message.
        pub.Publish("t", "again", QualityOfService.ExactlyOnce, 7);
        Assert.Equal(["once", "again"], sub.Publishes.Select(p => p.Text()));
    }

    [Fact]
    public void Duplicate_detection_survives_a_reconnect_of_the_publisher()
    {
        using var broker = TestBroker.New();
        var sub = broker.Connect("sub");
        sub.Subscribe("t", QualityOfService.ExactlyOnce);
        var pub = broker.ConnectPersistent("pub");
        pub.Publish("t", "x", QualityOfService.ExactlyOnce, 3);
        pub.Lost();
        var pub2 = broker.ConnectPersistent("pub");
        pub2.Publish("t", "x", QualityOfService.ExactlyOnce, 3, dup: true);
        Assert.Single(sub.Publishes);
        Assert.Single(pub2.Conn.SentOf<PubRecPacket>());
        pub2.PubRel(3);
        Assert.Equal(ReasonCode.Success, Assert.Single(pub2.Conn.SentOf<PubCompPacket>()).ReasonCode);
    }

    [Fact]
    public void Pubrel_for_unknown_id_gets_pubcomp_0x92_on_v5_and_success_on_v311()
    {
        using var broker = TestBroker.New();
        var v5 = broker.Connect("v5");
        v5.PubRel(11);
        var c5 = Assert.Single(v5.Conn.SentOf<PubCompPacket>());
        Assert.Equal((11, ReasonCode.PacketIdentifierNotFound), (c5.PacketId, c5.ReasonCode));

        var v3 = broker.Connect("v3", ProtocolVersion.V311);
        v3.PubRel(12);
        var c3 = Assert.Single(v3.Conn.SentOf<PubCompPacket>());
        Assert.Equal((12, ReasonCode.Success), (c3.PacketId, c3.ReasonCode));
    }

    [Fact]
    public void Qos1_publish_gets_puback_and_v5_no_matching_subscribers()
    {
        using var broker = TestBroker.New();
        var pub = broker.Connect("pub");
        pub.Publish("nobody", "x", QualityOfService.AtLeastOnce, 5);
        var ack = Assert.Single(pub.Conn.SentOf<PubAckPacket>());
        Assert.Equal((5, ReasonCode.NoMatchingSubscribers), (ack.PacketId, ack.ReasonCode));

        var pub3 = broker.Connect("pub3", ProtocolVersion.V311);
        pub3.Publish("nobody", "x", QualityOfService.AtLeastOnce, 5);
        Assert.Equal(ReasonCode.Success, Assert.Single(pub3.Conn.SentOf<PubAckPacket>()).ReasonCode);
    }

    /// <summary>As Mosquitto (which routes QoS 2 at PUBREL): a PUBREC says Success with or without subscribers, and the
    /// publisher's own No Local subscription counts as a subscriber.</summary>
    [Fact]
    public void Pubrec_and_a_publishers_own_no_local_subscription_say_success()
    {
        using var broker = TestBroker.New();
        var pub = broker.Connect("pub");
        pub.Publish("nobody", "x", QualityOfService.ExactlyOnce, 6);
        var rec = Assert.Single(pub.Conn.SentOf<PubRecPacket>());
        Assert.Equal((6, ReasonCode.Success), (rec.PacketId, rec.ReasonCode));

        pub.Subscribe("own", noLocal: true);
        pub.Publish("own", "x", QualityOfService.AtLeastOnce, 7);
        Assert.Equal(ReasonCode.Success, Assert.Single(pub.Conn.SentOf<PubAckPacket>()).ReasonCode);
        Assert.Empty(pub.Publishes);
    }

    [Fact]
    public void Topic_alias_set_then_reused_and_subscriber_never_sees_the_alias()
    {
        using var broker = TestBroker.New(new BrokerOptions { TopicAliasMaximum = 5 });
        var sub = broker.Connect("sub");
        sub.Subscribe("a/b", QualityOfService.AtMostOnce);
        var pub = broker.Connect("pub");
        Assert.Equal((ushort)5, pub.ConnAck.Properties!.TopicAliasMaximum);

        pub.Publish("a/b", "1", QualityOfService.AtMostOnce, properties: new MqttProperties { TopicAlias = 3, ContentType = "text/plain" });
        pub.Publish("", "2", QualityOfService.AtMostOnce, properties: new MqttProperties { TopicAlias = 3 });
        // Re-map alias 3 to another topic; a/b no longer matches.
        pub.Publish("x/y", "3", QualityOfService.AtMostOnce, properties: new MqttProperties { TopicAlias = 3 });
        pub.Publish("", "4", QualityOfService.AtMostOnce, properties: new MqttProperties { TopicAlias = 3 });

        Assert.Equal(["1", "2"], sub.Publishes.Select(p => p.Text()));
        Assert.All(sub.Publishes, p => Assert.Equal("a/b", p.Topic));
        Assert.All(sub.Publishes, p => Assert.Null(p.Properties?.TopicAlias));
        Assert.Equal("text/plain", sub.Publishes[0].Properties?.ContentType);
        Assert.False(pub.Conn.IsClosed);
    }

    [Fact]
    public void Unknown_topic_alias_is_a_protocol_error()
    {
        using var broker = TestBroker.New();
        var sub = broker.Connect("sub");
        sub.Subscribe("#");
        var pub = broker.Connect("pub");
        pub.Publish("", "x", QualityOfService.AtLeastOnce, 1, properties: new MqttProperties { TopicAlias = 2 });
        Assert.Equal(ReasonCode.ProtocolError, pub.Conn.CloseReason);
        Assert.Empty(pub.Conn.SentOf<PubAckPacket>());
        Assert.Empty(sub.Publishes);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(11)]
    public void Topic_alias_out_of_range_is_topic_alias_invalid(ushort alias)
    {
        using var broker = TestBroker.New(new BrokerOptions { TopicAliasMaximum = 10 });
        var sub = broker.Connect("sub");
        sub.Subscribe("#");
        var pub = broker.Connect("pub");
        pub.Publish("t", "x", QualityOfService.AtLeastOnce, 1, properties: new MqttProperties { TopicAlias = alias });
        Assert.Equal(ReasonCode.TopicAliasInvalid, pub.Conn.CloseReason);
        Assert.Empty(sub.Publishes);
    }

    [Fact]
    public void Topic_aliases_are_per_connection()
    {
        using var broker = TestBroker.New();
        var pub = broker.ConnectPersistent("pub");
        pub.Publish("t", "x", QualityOfService.AtMostOnce, properties: new MqttProperties { TopicAlias = 1 });
        pub.Lost();
        var again = broker.ConnectPersistent("pub");
        again.Publish("", "y", QualityOfService.AtMostOnce, properties: new MqttProperties { TopicAlias = 1 });
        Assert.Equal(ReasonCode.ProtocolError, again.Conn.CloseReason);
    }

    [Fact]
    public void More_qos2_publishes_than_receive_maximum_without_pubrel_closes_with_0x93()
    {
        using var broker = TestBroker.New(new BrokerOptions { ReceiveMaximum = 3 });
        var sub = broker.Connect("sub");
        sub.Subscribe("t", QualityOfService.ExactlyOnce);
        var pub = broker.Connect("pub");
        Assert.Equal((ushort)3, pub.ConnAck.Properties!.ReceiveMaximum);

        pub.Publish("t", "1", QualityOfService.ExactlyOnce, 1);
        pub.Publish("t", "2", QualityOfService.ExactlyOnce, 2);
        // QoS 1 is acknowledged at once: while quota remains, any number may pass without using it up.
        for (int i = 0; i < 10; i++) pub.Publish("t", "q1", QualityOfService.AtLeastOnce, (ushort)(100 + i));
        pub.Publish("t", "3", QualityOfService.ExactlyOnce, 3);
        Assert.False(pub.Conn.IsClosed);
        // A PUBREL frees one slot: a fourth is fine.
        pub.PubRel(1);
        pub.Publish("t", "4", QualityOfService.ExactlyOnce, 4);
        Assert.False(pub.Conn.IsClosed);

        pub.Publish("t", "5", QualityOfService.ExactlyOnce, 5);
        Assert.Equal(ReasonCode.ReceiveMaximumExceeded, pub.Conn.CloseReason);
        Assert.DoesNotContain(sub.Publishes, p => p.Text() == "5");
        Assert.Equal(4, pub.Conn.SentOf<PubRecPacket>().Length);
    }

    [Fact]
    public void Publish_from_client_with_subscription_identifier_is_a_protocol_error()
    {
        using var broker = TestBroker.New();
        var pub = broker.Connect("pub");
        pub.Publish("t", "x", QualityOfService.AtLeastOnce, 1, properties: new MqttProperties { SubscriptionIdentifiers = [1] });
        Assert.Equal(ReasonCode.ProtocolError, pub.Conn.CloseReason);
    }

    [Fact]
    public void Publisher_properties_are_passed_through()
    {
        using var broker = TestBroker.New();
        var sub = broker.Connect("sub");
        sub.Subscribe("t");
        var pub = broker.Connect("pub");
        var props = new MqttProperties
        {
            ContentType = "application/json", ResponseTopic = "reply/here", CorrelationData = [1, 2, 3], PayloadFormatIndicator = 1,
        };
        props.AddUserProperty("k", "v");
        pub.Publish("t", "{}", QualityOfService.AtLeastOnce, 1, properties: props);
        var got = Assert.Single(sub.Publishes).Properties!;
        Assert.Equal("application/json", got.ContentType);
        Assert.Equal("reply/here", got.ResponseTopic);
        Assert.Equal(new byte[] { 1, 2, 3 }, got.CorrelationData);
        Assert.Equal((byte)1, got.PayloadFormatIndicator);
        Assert.Equal([new KeyValuePair<string, string>("k", "v")], got.UserProperties!);
    }
}
