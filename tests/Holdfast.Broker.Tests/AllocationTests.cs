using Holdfast.Protocol;

namespace Holdfast.Broker.Tests;

/// <summary>The steady publish path allocates one Message per PUBLISH and nothing per subscriber (docs/performance.md, "Micro-benchmarks").</summary>
public class AllocationTests
{
    /// <summary>Drops what it is sent, remembering the packet id of the last PUBLISH; allocates nothing itself.</summary>
    private sealed class DroppingConnection : IClientConnection
    {
        public ushort LastPacketId;
        public string RemoteAddress => "127.0.0.1:1";
        public long PendingBytes => 0;
        public void Send(OutboundPacket packet, long durableAt = 0)
        {
            if (packet.IsPublish) LastPacketId = packet.PacketId;
        }
        public void Close(MqttPacket? goodbye = null) => throw new InvalidOperationException($"closed: {goodbye}");
    }

    /// <param name="mqtt5Extras">Subscriptions with identifiers and a message with a Message Expiry Interval and a user
    /// property: each subscriber's PUBLISH then carries properties of its own (written, not copied).</param>
    [Theory]
    [InlineData(QualityOfService.AtMostOnce, false)]
    [InlineData(QualityOfService.AtLeastOnce, false)]
    [InlineData(QualityOfService.ExactlyOnce, false)]
    [InlineData(QualityOfService.AtMostOnce, true)]
    [InlineData(QualityOfService.AtLeastOnce, true)]
    public void Routing_a_publish_allocates_only_its_message_whatever_the_number_of_subscribers(QualityOfService qos, bool mqtt5Extras)
    {
        using var broker = TestBroker.New(new BrokerOptions { ConnectionMessages = false });
        var publisher = Connect(broker, "pub", new DroppingConnection());
        var subscribers = new (ConnectedClient Client, DroppingConnection Connection, PubAckPacket Ack, PubRecPacket Rec, PubCompPacket Comp)[20];
        for (int i = 0; i < subscribers.Length; i++)
        {
            var connection = new DroppingConnection();
            var client = Connect(broker, $"sub-{i}", connection);
            broker.HandleSubscribe(client, new SubscribePacket
            {
                PacketId = 1,
                Properties = mqtt5Extras ? new MqttProperties { SubscriptionIdentifiers = [(uint)i + 1] } : null,
                Subscriptions = [new TopicSubscription { TopicFilter = "plant/+/temp", MaximumQoS = QualityOfService.ExactlyOnce }],
            });
            subscribers[i] = (client, connection, new PubAckPacket(), new PubRecPacket(), new PubCompPacket());
        }
        var publish = new PublishPacket { Topic = "plant/line-1/temp", QoS = qos, Payload = new byte[64] };
        if (mqtt5Extras)
        {
            publish.Properties = new MqttProperties { MessageExpiryInterval = 3600 };
            publish.Properties.AddUserProperty("site", "north");
        }
        var pubRel = new PubRelPacket();
        ushort nextId = 0;

        void PublishOnce()
        {
            if (qos > 0) publish.PacketId = ++nextId == 0 ? ++nextId : nextId;
            Assert.False(broker.HandlePublish(publisher, publish).PacketKept);
            if (qos == QualityOfService.ExactlyOnce) { pubRel.PacketId = publish.PacketId; broker.HandlePubRel(publisher, pubRel); }
            foreach (var (client, connection, ack, rec, comp) in subscribers)
            {
                if (qos == QualityOfService.AtLeastOnce) { ack.PacketId = connection.LastPacketId; broker.HandlePubAck(client, ack); }
                if (qos == QualityOfService.ExactlyOnce)
                {
                    rec.PacketId = comp.PacketId = connection.LastPacketId;
                    broker.HandlePubRec(client, rec);
                    broker.HandlePubComp(client, comp);
                }
            }
        }

        for (int i = 0; i < 100; i++) PublishOnce();
        const int Runs = 500;
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < Runs; i++) PublishOnce();
        long perPublish = (GC.GetAllocatedBytesForCurrentThread() - before) / Runs;

        // One Message (96 bytes on 64-bit); before, each of the 20 subscribers cost 56-168 bytes more.
        Assert.InRange(perPublish, 0, 128);
        Assert.All(subscribers, s => Assert.Equal(0, s.Client.Session.InflightCount));
    }

    [Fact]
    public void A_new_session_makes_none_of_its_collections()
    {
        new Session("warm-up").ToString();
        long before = GC.GetAllocatedBytesForCurrentThread();
        var session = new Session("s");
        long used = GC.GetAllocatedBytesForCurrentThread() - before;
        // The Session object alone (248 bytes with the store's keys - queue sequence, send order, epoch - its shard, its
        // drop counts and its queue's tail on disk); its empty dictionaries, set and queue used to add about 300 bytes.
        Assert.InRange(used, 1, 248);
        Assert.Equal(0, session.QueuedCount + session.InflightCount + session.SubscriptionCount + session.InboundQoS2Count);
    }

    private static ConnectedClient Connect(MqttBroker broker, string clientId, IClientConnection connection) =>
        broker.HandleConnect(connection, new ConnectPacket { ProtocolVersion = ProtocolVersion.V500, ClientId = clientId }, ListenerPolicy.Default)
        ?? throw new InvalidOperationException($"{clientId} was refused");
}
