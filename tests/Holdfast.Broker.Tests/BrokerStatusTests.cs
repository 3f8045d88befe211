using Holdfast.Protocol;
using Holdfast.Storage.Memory;

namespace Holdfast.Broker.Tests;

/// <summary>The broker's status snapshot and its own $SYS publishes (the server's collector builds on both).</summary>
public class BrokerStatusTests
{
    [Fact]
    public void Status_counts_connections_sessions_inflight_queued_retained_and_subscriptions()
    {
        using var broker = TestBroker.New(new BrokerOptions { MaxInflightMessages = 1 });
        var sub = broker.Connect("sub");
        sub.Subscribe("a/b");
        var away = broker.ConnectPersistent("away");
        away.Subscribe("a/#");
        away.Lost();
        var pub = broker.Connect("pub");
        for (ushort i = 1; i <= 3; i++) pub.Publish("a/b", $"m{i}", QualityOfService.AtLeastOnce, i);
        pub.Publish("a/kept", "r", QualityOfService.AtMostOnce, retain: true);

        var status = broker.Status();
        Assert.Equal(2, status.ClientsConnected);
        Assert.Equal(3, status.ClientsTotal);
        // sub: one inflight (window 1), two queued; away (offline): its three a/b messages queued (QoS 0 a/kept is not).
        Assert.Equal(1, status.InflightMessages);
        Assert.Equal(2 + 3, status.QueuedMessages);
        Assert.Equal(1, status.RetainedMessages);
        Assert.Equal(2, status.Subscriptions);
        Assert.Equal(6 * 2, status.HeldBytes);
        Assert.Equal(0, status.ClientsPastAckTimeout);
    }

    /// <summary>Shared subscriptions are counted among all subscriptions and on their own (Mosquitto's
    /// shared_subscriptions/count); a repeated SUBSCRIBE replaces, an UNSUBSCRIBE or the session's end removes.</summary>
    [Fact]
    public void Shared_subscriptions_are_counted_apart_too()
    {
        using var broker = TestBroker.New();
        var a = broker.Connect("a");
        a.Subscribe("$share/g/t");
        a.Subscribe("$share/g/t");
        a.Subscribe("plain");
        var b = broker.Connect("b");
        b.Subscribe("$share/g/t");
        b.Subscribe("$share/h/t");
        Assert.Equal((4, 3), (broker.Status().Subscriptions, broker.Status().SharedSubscriptions));

        b.Disconnect();
        Assert.Equal((2, 1), (broker.Status().Subscriptions, broker.Status().SharedSubscriptions));
    }

    [Fact]
    public void A_client_past_its_ack_timeout_counts_until_it_acknowledges()
    {
        using var broker = TestBroker.New();
        var stuck = broker.Connect("stuck", policy: new ListenerPolicy { AckTimeout = TimeSpan.FromMilliseconds(100) });
        stuck.Subscribe("x");
        broker.Connect("pub").Publish("x", "1", QualityOfService.AtLeastOnce, 1);

        broker.TickUntil(() => broker.Status().ClientsPastAckTimeout == 1, what: "the stuck client counted");
        stuck.PubAck(stuck.Publishes[0].PacketId);
        Assert.Equal(0, broker.Status().ClientsPastAckTimeout);
    }

    [Fact]
    public void Broker_status_is_retained_for_SYS_subscribers_only_never_stored_and_not_client_traffic()
    {
        var store = new MemoryStore();
        using var broker = TestBroker.New(new BrokerOptions(), store: store);
        var sys = broker.Connect("sys");
        sys.Subscribe("$SYS/#", QualityOfService.AtMostOnce);
        var all = broker.Connect("all");
        all.Subscribe("#", QualityOfService.AtMostOnce);
        var away = broker.ConnectPersistent("away");
        away.Subscribe("$SYS/#", QualityOfService.AtMostOnce);
        away.Lost();

        broker.PublishBrokerStatus("$SYS/broker/uptime", "5 seconds");

        Assert.Equal(["5 seconds"], sys.Publishes.Select(p => p.Text()));
        Assert.Empty(all.Publishes);
        Assert.Equal(0, broker.Metrics.MessagesSent);
        // The offline session simply misses it (it gets the retained value when it returns): no drop.
        Assert.Equal(0, broker.Metrics.DroppedTotal);
        Assert.Equal(1, broker.RetainedCount);
        Assert.Equal(0, store.RetainedCount);

        var late = broker.Connect("late");
        late.Subscribe("$SYS/broker/+", QualityOfService.AtMostOnce);
        var retained = Assert.Single(late.Publishes);
        Assert.True(retained.Retain);
        Assert.Equal("5 seconds", retained.Text());
    }

    [Fact]
    public void Broker_status_never_fills_a_queue_nor_counts_as_a_drop()
    {
        // queue_qos0_messages would queue QoS 0 for an offline session: $SYS must not ride on it into the store and fill
        // the queue until the session's real QoS 1 traffic is refused.
        var store = new MemoryStore();
        using var broker = TestBroker.New(new BrokerOptions { MaxQueuedMessages = 5, QueueQos0Messages = true }, store: store);
        var away = broker.ConnectPersistent("away");
        away.Subscribe("$SYS/#", QualityOfService.AtMostOnce);
        away.Subscribe("data/x");
        away.Lost();
        // A client that cannot take them (tiny Maximum Packet Size, or too slow) is skipped without a drop.
        var tiny = broker.Connect("tiny", maximumPacketSize: 24);
        tiny.Subscribe("$SYS/#", QualityOfService.AtMostOnce);
        var slow = broker.Connect("slow");
        slow.Subscribe("$SYS/#", QualityOfService.AtMostOnce);
        slow.Conn.PendingBytes = 64 * 1024 * 1024;

        for (int i = 0; i < 10; i++) broker.PublishBrokerStatus($"$SYS/broker/load/messages/received/{i}min", "1.00");
        var pub = broker.Connect("pub");
        pub.Publish("data/x", "m1", QualityOfService.AtLeastOnce, 1);

        Assert.Equal(ReasonCode.Success, pub.Conn.SentOf<PubAckPacket>().Single().ReasonCode);
        Assert.Equal(0, broker.Metrics.DroppedTotal);
        Assert.Empty(tiny.Publishes);
        Assert.Empty(slow.Publishes);
        Assert.Equal(1, broker.Status().QueuedMessages);
    }
}
