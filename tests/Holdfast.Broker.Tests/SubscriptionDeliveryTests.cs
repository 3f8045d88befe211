using Holdfast.Protocol;

namespace Holdfast.Broker.Tests;

public class SubscriptionDeliveryTests
{
    [Fact]
    public void Overlapping_subscriptions_give_one_delivery_at_the_highest_qos_with_all_subscription_ids()
    {
        using var broker = TestBroker.New();
        var sub = broker.Connect("sub");
        sub.Subscribe("a/b", QualityOfService.AtMostOnce, subscriptionId: 1);
        sub.Subscribe("a/+", QualityOfService.ExactlyOnce, subscriptionId: 2);
        sub.Subscribe("#", QualityOfService.AtLeastOnce, subscriptionId: 3);
        sub.Subscribe("a/#", QualityOfService.AtLeastOnce); // no id
        var pub = broker.Connect("pub");

        pub.Publish("a/b", "x", QualityOfService.ExactlyOnce, 1);
        var p = Assert.Single(sub.Publishes);
        Assert.Equal(QualityOfService.ExactlyOnce, p.QoS);
        Assert.Equal([1u, 2u, 3u], p.Properties!.SubscriptionIdentifiers!.Order());

        // The QoS is capped by the message's own QoS.
        pub.Publish("a/b", "y", QualityOfService.AtLeastOnce, 2);
        Assert.Equal(QualityOfService.AtLeastOnce, sub.Publishes[1].QoS);
        Assert.Equal(2, sub.Publishes.Length);

        // Only the ids of the matching subscriptions.
        pub.Publish("z", "z", QualityOfService.AtLeastOnce, 3);
        Assert.Equal([3u], sub.Publishes[2].Properties!.SubscriptionIdentifiers!);
    }

    [Fact]
    public void Subscription_qos_downgrades_delivery()
    {
        using var broker = TestBroker.New();
        var sub = broker.Connect("sub");
        sub.Subscribe("t", QualityOfService.AtMostOnce);
        var pub = broker.Connect("pub");
        pub.Publish("t", "x", QualityOfService.ExactlyOnce, 1);
        var p = Assert.Single(sub.Publishes);
        Assert.Equal(QualityOfService.AtMostOnce, p.QoS);
        Assert.Equal(0, p.PacketId);
        Assert.Equal(0, sub.Client.Session.InflightCount);
    }

    [Fact]
    public void Suback_carries_granted_qos_and_invalid_filter_code()
    {
        using var broker = TestBroker.New();
        var sub = broker.Connect("sub");
        broker.HandleSubscribe(sub.Client, new SubscribePacket
        {
            PacketId = 9,
            Subscriptions =
            [
                new TopicSubscription { TopicFilter = "a", MaximumQoS = QualityOfService.ExactlyOnce },
                new TopicSubscription { TopicFilter = "a/#/b", MaximumQoS = QualityOfService.AtLeastOnce },
                new TopicSubscription { TopicFilter = "b", MaximumQoS = QualityOfService.AtMostOnce },
            ],
        });
        var ack = Assert.Single(sub.Conn.SentOf<SubAckPacket>());
        Assert.Equal(9, ack.PacketId);
        Assert.Equal([ReasonCode.GrantedQoS2, ReasonCode.TopicFilterInvalid, ReasonCode.GrantedQoS0], ack.ReasonCodes);
        Assert.Equal(2, broker.SubscriptionCount);
    }

    [Fact]
    public void Unsubscribe_stops_delivery()
    {
        using var broker = TestBroker.New();
        var sub = broker.Connect("sub");
        sub.Subscribe("t");
        broker.HandleUnsubscribe(sub.Client, new UnsubscribePacket { PacketId = 4, TopicFilters = ["t", "never"] });
        var ack = Assert.Single(sub.Conn.SentOf<UnsubAckPacket>());
        Assert.Equal([ReasonCode.Success, ReasonCode.NoSubscriptionExisted], ack.ReasonCodes);
        var pub = broker.Connect("pub");
        pub.Publish("t", "x", QualityOfService.AtLeastOnce, 1);
        Assert.Empty(sub.Publishes);
        Assert.Equal(0, broker.SubscriptionCount);
    }

    [Fact]
    public void No_local_suppresses_own_messages_only()
    {
        using var broker = TestBroker.New();
        var a = broker.Connect("a");
        a.Subscribe("t", noLocal: true);
        var b = broker.Connect("b");
        b.Subscribe("t");
        a.Publish("t", "from-a", QualityOfService.AtLeastOnce, 1);
        b.Publish("t", "from-b", QualityOfService.AtLeastOnce, 1);
        Assert.Equal(["from-b"], a.Publishes.Select(p => p.Text()));
        Assert.Equal(["from-a", "from-b"], b.Publishes.Select(p => p.Text()));
    }

    [Fact]
    public void No_local_on_one_overlapping_subscription_does_not_hide_the_other()
    {
        using var broker = TestBroker.New();
        var a = broker.Connect("a");
        a.Subscribe("t", noLocal: true, subscriptionId: 1);
        a.Subscribe("#", subscriptionId: 2);
        a.Publish("t", "own", QualityOfService.AtLeastOnce, 1);
        var p = Assert.Single(a.Publishes);
        Assert.Equal([2u], p.Properties!.SubscriptionIdentifiers!);
    }

    [Fact]
    public void Retain_as_published_keeps_the_retain_flag_otherwise_it_is_cleared()
    {
        using var broker = TestBroker.New();
        var rap = broker.Connect("rap");
        rap.Subscribe("t", retainAsPublished: true);
        var plain = broker.Connect("plain");
        plain.Subscribe("t");
        var pub = broker.Connect("pub");
        pub.Publish("t", "r", QualityOfService.AtLeastOnce, 1, retain: true);
        pub.Publish("t", "n", QualityOfService.AtLeastOnce, 2, retain: false);
        Assert.Equal([("r", true), ("n", false)], rap.Publishes.Select(p => (p.Text(), p.Retain)));
        Assert.Equal([("r", false), ("n", false)], plain.Publishes.Select(p => (p.Text(), p.Retain)));
    }

    [Fact]
    public void Retained_set_replace_clear_and_delivered_on_subscribe_with_retain_flag()
    {
        using var broker = TestBroker.New();
        var pub = broker.Connect("pub");
        pub.Publish("r/1", "first", QualityOfService.AtLeastOnce, 1, retain: true);
        pub.Publish("r/2", "other", QualityOfService.AtMostOnce, retain: true);
        Assert.Equal(2, broker.RetainedCount);
        pub.Publish("r/1", "second", QualityOfService.AtLeastOnce, 2, retain: true);
        Assert.Equal(2, broker.RetainedCount);

        var s1 = broker.Connect("s1");
        s1.Subscribe("r/+", QualityOfService.AtLeastOnce);
        Assert.Equal([("other", true, QualityOfService.AtMostOnce), ("second", true, QualityOfService.AtLeastOnce)],
            s1.Publishes.Select(p => (p.Text(), p.Retain, p.QoS)).OrderBy(x => x.Item1, StringComparer.Ordinal));
        // SUBACK goes before the retained messages.
        Assert.IsType<SubAckPacket>(s1.Conn.Sent[1]);

        // Empty payload clears and is itself not retained.
        pub.Publish("r/1", "", QualityOfService.AtLeastOnce, 3, retain: true);
        Assert.Equal(1, broker.RetainedCount);
        var s2 = broker.Connect("s2");
        s2.Subscribe("r/#");
        Assert.Equal(["other"], s2.Publishes.Select(p => p.Text()));

        // A non-retained publish does not touch the store.
        pub.Publish("r/2", "live", QualityOfService.AtLeastOnce, 4);
        var s3 = broker.Connect("s3");
        s3.Subscribe("r/2");
        Assert.Equal(["other"], s3.Publishes.Select(p => p.Text()));
    }

    [Fact]
    public void Retain_handling_0_1_2()
    {
        using var broker = TestBroker.New();
        var pub = broker.Connect("pub");
        pub.Publish("t", "kept", QualityOfService.AtLeastOnce, 1, retain: true);

        var s0 = broker.Connect("s0");
        s0.Subscribe("t", retainHandling: RetainHandling.SendAtSubscribe);
        s0.Subscribe("t", retainHandling: RetainHandling.SendAtSubscribe);
        Assert.Equal(2, s0.Publishes.Length); // sent on every subscribe

        var s1 = broker.Connect("s1");
        s1.Subscribe("t", retainHandling: RetainHandling.SendAtSubscribeIfNew);
        s1.Subscribe("t", retainHandling: RetainHandling.SendAtSubscribeIfNew);
        Assert.Single(s1.Publishes); // only when the subscription is new

        var s2 = broker.Connect("s2");
        s2.Subscribe("t", retainHandling: RetainHandling.DoNotSend);
        Assert.Empty(s2.Publishes);
        // ...but live messages still arrive.
        pub.Publish("t", "live", QualityOfService.AtLeastOnce, 2);
        Assert.Equal(["live"], s2.Publishes.Select(p => p.Text()));
    }

    [Fact]
    public void Retained_messages_are_not_sent_to_shared_subscriptions()
    {
        using var broker = TestBroker.New();
        var pub = broker.Connect("pub");
        pub.Publish("t", "kept", QualityOfService.AtLeastOnce, 1, retain: true);
        var s = broker.Connect("s");
        s.Subscribe("$share/g/t");
        Assert.Empty(s.Publishes);
        Assert.Equal(ReasonCode.GrantedQoS1, Assert.Single(s.Conn.SentOf<SubAckPacket>()).ReasonCodes[0]);
        pub.Publish("t", "live", QualityOfService.AtLeastOnce, 2);
        Assert.Equal(["live"], s.Publishes.Select(p => p.Text()));
    }

    [Fact]
    public void Shared_subscription_delivers_each_message_to_one_member_round_robin()
    {
        using var broker = TestBroker.New();
        var members = Enumerable.Range(0, 3).Select(i => broker.Connect("m" + i)).ToArray();
        foreach (var m in members) m.Subscribe("$share/g/jobs/+", QualityOfService.AtMostOnce);
        var plain = broker.Connect("plain");
        plain.Subscribe("jobs/#", QualityOfService.AtMostOnce);
        var pub = broker.Connect("pub");
        for (int i = 0; i < 9; i++) pub.Publish("jobs/x", "j" + i, QualityOfService.AtMostOnce);

        Assert.All(members, m => Assert.Equal(3, m.Publishes.Length));
        var all = members.SelectMany(m => m.Publishes.Select(p => p.Text())).Order(StringComparer.Ordinal).ToList();
        Assert.Equal(Enumerable.Range(0, 9).Select(i => "j" + i).Order(StringComparer.Ordinal), all);
        Assert.Equal(9, plain.Publishes.Length);
        // Strict rotation.
        Assert.Equal(["j0", "j3", "j6"], members[0].Publishes.Select(p => p.Text()));
        Assert.Equal(["j1", "j4", "j7"], members[1].Publishes.Select(p => p.Text()));
    }

    [Fact]
    public void Shared_subscription_skips_a_member_with_a_full_window()
    {
        using var broker = TestBroker.New(new BrokerOptions { MaxInflightMessages = 1 });
        var a = broker.Connect("a");
        var b = broker.Connect("b");
        a.Subscribe("$share/g/t");
        b.Subscribe("$share/g/t");
        var pub = broker.Connect("pub");
        pub.Publish("t", "1", QualityOfService.AtLeastOnce, 1); // a
        pub.Publish("t", "2", QualityOfService.AtLeastOnce, 2); // b
        a.PubAck(a.Publishes[0].PacketId);
        pub.Publish("t", "3", QualityOfService.AtLeastOnce, 3); // a again: b is full
        Assert.Equal(["1", "3"], a.Publishes.Select(p => p.Text()));
        Assert.Equal(["2"], b.Publishes.Select(p => p.Text()));
    }

    [Fact]
    public void No_local_on_a_shared_subscription_is_a_protocol_error()
    {
        using var broker = TestBroker.New();
        var s = broker.Connect("s");
        s.Subscribe("$share/g/t", noLocal: true);
        Assert.Equal(ReasonCode.ProtocolError, s.Conn.CloseReason);
    }

    /// <summary>As Mosquitto: $SYS and $share/… are closed to publishers (MQTT 5: 0x87; 3.1.1: acknowledged, dropped),
    /// except the state topic a bridge from another broker publishes.</summary>
    [Theory]
    [InlineData("$SYS/broker/fake", ProtocolVersion.V500, ReasonCode.NotAuthorized)]
    [InlineData("$SYS/broker/connection/me", ProtocolVersion.V500, ReasonCode.NotAuthorized)]
    [InlineData("$SYS/broker/connection/a/b/state", ProtocolVersion.V500, ReasonCode.NotAuthorized)]
    [InlineData("$share/group/topic", ProtocolVersion.V500, ReasonCode.NotAuthorized)]
    [InlineData("$SYS/broker/fake", ProtocolVersion.V311, ReasonCode.Success)]
    [InlineData("$SYS/broker/connection/me/state", ProtocolVersion.V500, ReasonCode.NoMatchingSubscribers)]
    public void Publishes_to_SYS_and_share_are_denied_but_bridge_state_is_routed(string topic, ProtocolVersion version, ReasonCode expected)
    {
        using var broker = TestBroker.New();
        var sub = broker.Connect("sub");
        sub.Subscribe("$SYS/broker/+");
        var pub = broker.Connect("pub", version);
        pub.Publish(topic, "x", QualityOfService.AtLeastOnce, 1);
        Assert.Empty(sub.Publishes);
        Assert.Equal(expected, Assert.Single(pub.Conn.SentOf<PubAckPacket>()).ReasonCode);
    }

    [Fact]
    public void Bridge_state_published_by_a_client_reaches_its_subscribers()
    {
        using var broker = TestBroker.New();
        var sub = broker.Connect("sub");
        sub.Subscribe("$SYS/broker/connection/#");
        var pub = broker.Connect("pub");
        pub.Publish("$SYS/broker/connection/edge/state", "1", QualityOfService.AtLeastOnce, 1);
        Assert.Equal("$SYS/broker/connection/edge/state", Assert.Single(sub.Publishes).Topic);
    }

    [Fact]
    public void Internal_sys_publish_reaches_sys_subscribers_but_not_hash()
    {
        using var broker = TestBroker.New();
        var sys = broker.Connect("sys");
        sys.Subscribe("$SYS/#", QualityOfService.AtMostOnce);
        var all = broker.Connect("all");
        all.Subscribe("#", QualityOfService.AtMostOnce);
        broker.PublishInternal(new Message("$SYS/broker/uptime", "5"u8.ToArray(), QualityOfService.AtMostOnce, true, null, null, Environment.TickCount64));
        Assert.Equal(["5"], sys.Publishes.Select(p => p.Text()));
        Assert.Empty(all.Publishes);
    }
}
