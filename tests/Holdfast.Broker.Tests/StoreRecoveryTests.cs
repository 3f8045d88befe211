using Microsoft.Extensions.Time.Testing;
using Holdfast.Protocol;
using Holdfast.Storage.Memory;

namespace Holdfast.Broker.Tests;

/// <summary>The write-through store interface: a second broker on the same store recovers what the first held.</summary>
public class StoreRecoveryTests
{
    [Fact]
    public void Recovers_sessions_queues_inflight_inbound_qos2_and_retained()
    {
        var store = new MemoryStore();
        using (var first = TestBroker.New(new BrokerOptions(), store: store))
        {
            var sub = first.ConnectPersistent("sub");
            sub.Subscribe("a/#", QualityOfService.ExactlyOnce);
            var pub = first.ConnectPersistent("pub");
            pub.Publish("a/1", "one", QualityOfService.AtLeastOnce, packetId: 1);
            pub.Publish("a/2", "two", QualityOfService.ExactlyOnce, packetId: 2);
            pub.Publish("a/r", "kept", QualityOfService.AtMostOnce, retain: true);
            // sub: m1 (a/1) inflight awaiting PUBACK, m2 (a/2) moved past PUBREC; pub: inbound QoS 2 id 2 awaiting PUBREL.
            var delivered = sub.Publishes;
            sub.PubRec(delivered.Single(p => p.Topic == "a/2").PacketId);
            sub.Lost();
            pub.Publish("a/3", "three", QualityOfService.AtLeastOnce, packetId: 3);
            pub.Lost();

            Assert.Equal(1, store.QueuedCount("sub"));
            Assert.Equal(2, store.InflightCount("sub"));
            Assert.Equal(1, store.InboundQoS2Count("pub"));
            Assert.Equal(1, store.RetainedCount);
        }

        using var second = TestBroker.New(new BrokerOptions(), store: store);
        Assert.Equal(2, second.SessionCount);
        Assert.Equal(1, second.RetainedCount);

        var back = second.ConnectPersistent("sub");
        Assert.True(back.ConnAck.SessionPresent);
        var sent = back.Conn.Sent.Where(p => p is PublishPacket or PubRelPacket).ToList();
        // Inflight first, in order: a/1 again with DUP=1, PUBREL for a/2 (past PUBREC), then the queued a/3.
        var first1 = Assert.IsType<PublishPacket>(sent[0]);
        Assert.Equal("a/1", first1.Topic);
        Assert.True(first1.Dup);
        Assert.IsType<PubRelPacket>(sent[1]);
        var queued = Assert.IsType<PublishPacket>(sent[2]);
        Assert.Equal("a/3", queued.Topic);
        Assert.False(queued.Dup);
        Assert.NotEqual(first1.PacketId, queued.PacketId);

        // The publisher's QoS 2 resend after the restart is recognised: PUBREC again, no second delivery.
        var pubBack = second.ConnectPersistent("pub");
        back.Conn.Clear();
        pubBack.Publish("a/2", "two", QualityOfService.ExactlyOnce, packetId: 2, dup: true);
        Assert.Single(pubBack.Conn.SentOf<PubRecPacket>());
        Assert.Empty(back.Publishes);
    }

    [Fact]
    public void A_session_connected_when_the_broker_stopped_counts_its_expiry_from_the_restart()
    {
        var store = new MemoryStore();
        var time = new FakeTimeProvider();
        using (var first = TestBroker.New(new BrokerOptions(), store: store, time: time))
        {
            // Offline once, long ago in session-expiry terms, then connected again until the "crash".
            first.Connect("c", cleanStart: false, sessionExpiry: 2).Lost();
            first.TickFor(1000);
            first.Connect("c", cleanStart: false, sessionExpiry: 2);
            first.TickFor(1500);
        }

        // 2.5 s after the first disconnection, but the session was connected until the broker stopped: it is still there.
        using var second = TestBroker.New(new BrokerOptions(), store: store, time: time);
        Assert.Equal(1, second.SessionCount);
        Assert.True(second.Connect("c", cleanStart: false, sessionExpiry: 2).ConnAck.SessionPresent);
    }

    [Fact]
    public void Completed_flows_and_ended_sessions_leave_nothing_in_the_store()
    {
        var store = new MemoryStore();
        using var broker = TestBroker.New(new BrokerOptions(), store: store);
        var sub = broker.ConnectPersistent("s");
        sub.Subscribe("t", QualityOfService.ExactlyOnce);
        var pub = broker.Connect("p");
        pub.Publish("t", "x", QualityOfService.ExactlyOnce, packetId: 7);
        var m = sub.Publishes.Single();
        sub.PubRec(m.PacketId);
        sub.PubComp(m.PacketId);
        Assert.Equal(0, store.InflightCount("s"));
        Assert.Equal(1, store.SessionCount);

        sub.Disconnect(properties: new MqttProperties { SessionExpiryInterval = 0 });
        Assert.Equal(0, store.SessionCount);
    }
}
