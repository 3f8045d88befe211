using Holdfast.Protocol;
using Holdfast.Storage.Memory;

namespace Holdfast.Broker.Tests;

/// <summary>The broker's side of the store as a unit of work: keys it names, ids that survive a restart, sessions that
/// leave nothing behind.</summary>
public class ChangeSetTests
{
    [Fact]
    public void Message_ids_continue_after_the_highest_stored_one_and_queue_sequences_keep_increasing_across_a_restart()
    {
        var store = new MemoryStore();
        long highest;
        using (var first = new MqttBroker(new BrokerOptions(), store: store))
        {
            var sub = first.ConnectPersistent("sub");
            sub.Subscribe("t");
            sub.Lost();
            var pub = first.Connect("pub");
            for (ushort i = 1; i <= 3; i++) pub.Publish("t", $"m{i}", packetId: i);
            highest = store.Load().LastMessageId;
            Assert.True(highest > 0);
        }

        var state = store.Load();
        Assert.Equal([1L, 2, 3], state.Queues["sub"].Select(q => q.Sequence));
        Assert.Equal(highest, state.Queues["sub"][^1].Delivery.Message.Id);
        using var second = new MqttBroker(new BrokerOptions(), store: store);
        // A new message never takes the id of one the store still holds (Message.Id is process-wide: it only grows).
        Assert.True(new Message("x", ReadOnlyMemory<byte>.Empty, QualityOfService.AtMostOnce, false, null, null, 0).Id > highest);
        var pub2 = second.Connect("pub");
        pub2.Publish("t", "m4", packetId: 4);
        // Queued after the recovered ones, under the next sequence of that session's queue.
        var queue = store.Load().Queues["sub"];
        Assert.Equal([1L, 2, 3, 4], queue.Select(q => q.Sequence));
        Assert.Equal(["m1", "m2", "m3", "m4"], queue.Select(q => System.Text.Encoding.UTF8.GetString(q.Delivery.Message.Payload.Span)));
        Assert.Equal(4, store.BodyCount);
    }

    [Fact]
    public void Inflight_send_order_continues_after_a_restart()
    {
        var store = new MemoryStore();
        using (var first = new MqttBroker(new BrokerOptions(), store: store))
        {
            var sub = first.ConnectPersistent("sub");
            sub.Subscribe("t");
            var pub = first.Connect("pub");
            pub.Publish("t", "a", packetId: 1);
            pub.Publish("t", "b", packetId: 2);
        }
        using var second = new MqttBroker(new BrokerOptions(), store: store);
        var back = second.ConnectPersistent("sub");
        second.Connect("pub").Publish("t", "c", packetId: 3);
        Assert.Equal([1L, 2, 3], store.Load().Inflight["sub"].Select(f => f.Order));
    }

    [Fact]
    public void An_ended_session_leaves_no_records_and_no_bodies_while_a_shared_body_stays_for_the_other()
    {
        var store = new MemoryStore();
        // The publisher leaves two QoS 2 publishes unreleased: more than a Receive Maximum taken from the window of 1.
        using var broker = new MqttBroker(new BrokerOptions { MaxInflightMessages = 1, ReceiveMaximum = 10 }, store: store);
        var gone = broker.ConnectPersistent("gone");
        gone.Subscribe("t", QualityOfService.ExactlyOnce);
        var stays = broker.ConnectPersistent("stays");
        stays.Subscribe("t", QualityOfService.ExactlyOnce);
        var pub = broker.ConnectPersistent("pub");
        pub.Publish("t", "one", QualityOfService.ExactlyOnce, packetId: 1);
        pub.Publish("t", "two", QualityOfService.ExactlyOnce, packetId: 2);
        // gone: "one" past PUBREC (inflight), "two" queued, an inbound QoS 2 id awaiting PUBREL.
        gone.PubRec(gone.Publishes.Single().PacketId);
        gone.Publish("elsewhere", "x", QualityOfService.ExactlyOnce, packetId: 9);
        Assert.Equal(1, store.InflightCount("gone"));
        Assert.Equal(1, store.QueuedCount("gone"));
        Assert.Equal(1, store.InboundQoS2Count("gone"));
        int bodies = store.BodyCount;

        // Ends the session: expiry 0 at DISCONNECT.
        gone.Disconnect(properties: new MqttProperties { SessionExpiryInterval = 0 });

        Assert.False(store.HoldsAnything("gone"));
        // "one" and "two" are still held for "stays" (inflight and queued), so no body went, and none is orphaned.
        Assert.Equal(bodies, store.BodyCount);
        Assert.Equal(2, store.QueuedCount("stays") + store.InflightCount("stays"));
        for (int i = 0; i < 2; i++)
        {
            ushort packetId = stays.Publishes[^1].PacketId;
            stays.PubRec(packetId);
            stays.PubComp(packetId);
        }
        Assert.Equal(0, store.QueuedCount("stays") + store.InflightCount("stays"));
        Assert.Equal(0, store.BodyCount);
    }

    [Fact]
    public void A_persistent_session_reconnecting_with_expiry_0_leaves_the_store_and_its_bodies()
    {
        var store = new MemoryStore();
        using var broker = new MqttBroker(new BrokerOptions(), store: store);
        var sub = broker.ConnectPersistent("s");
        sub.Subscribe("t");
        sub.Lost();
        broker.Connect("p").Publish("t", "queued", packetId: 1);
        Assert.Equal(1, store.BodyCount);

        // Resumed without a session expiry: the session is no longer stored, whatever it still holds in memory.
        var back = broker.Connect("s", cleanStart: false, sessionExpiry: 0);
        Assert.False(store.HoldsAnything("s"));
        Assert.Equal(0, store.BodyCount);
        Assert.Equal(["queued"], back.Publishes.Select(p => p.Text()));
    }

    [Fact]
    public void Packets_of_one_operation_keep_their_order_around_a_close()
    {
        var store = new MemoryStore();
        using var broker = new MqttBroker(new BrokerOptions(), store: store);
        var sub = broker.ConnectPersistent("s");
        sub.Subscribe("t");
        var first = sub.Conn;
        // A takeover closes the old connection; the new one gets its CONNACK, then the resent flow.
        sub.Lost();
        broker.Connect("p").Publish("t", "x", packetId: 1);
        var back = broker.ConnectPersistent("s");
        Assert.IsType<ConnAckPacket>(back.Conn.Sent[0]);
        Assert.IsType<PublishPacket>(back.Conn.Sent[1]);
        var again = broker.ConnectPersistent("s");
        Assert.Single(back.Conn.Closes);
        Assert.IsType<ConnAckPacket>(again.Conn.Sent[0]);
        Assert.True(Assert.IsType<PublishPacket>(again.Conn.Sent[1]).Dup);
        Assert.NotSame(first, back.Conn);
    }
}
