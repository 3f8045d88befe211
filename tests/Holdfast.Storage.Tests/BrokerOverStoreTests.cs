using Holdfast.Broker;
using Holdfast.Broker.Storage;
using Holdfast.Protocol;
using Holdfast.Storage.RocksDb;
using Holdfast.Storage.Tests.Support;

namespace Holdfast.Storage.Tests;

/// <summary>The broker on the RocksDB store: acknowledgements wait for the disk, and a broker built on the reopened
/// store resumes the sessions (DESIGN.md §2.3, §2.4).</summary>
public sealed class BrokerOverStoreTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    private static async Task WaitUntilDurable(MqttBroker broker, long sequence)
    {
        var deadline = DateTime.UtcNow + Wait.Timeout;
        while (!broker.IsDurable(sequence))
        {
            try { await broker.WhenDurable(sequence).AsTask().WaitAsync(deadline - DateTime.UtcNow); }
            catch (StoreWriteException) { }
        }
    }

    [Theory]
    [InlineData(ProtocolVersion.V311)]
    [InlineData(ProtocolVersion.V500)]
    public async Task A_puback_waits_for_the_disk_and_a_restarted_broker_resends_inflight_with_dup_then_the_queue(ProtocolVersion version)
    {
        ushort inflightPacketId;
        var fault = new FaultInjectingStoreFile(RocksDbFile.Open(_dir.Path));
        using (var store = new RocksDbStore(fault, Durability.Sync))
        using (var broker = new MqttBroker(new BrokerOptions(), store: store))
        {
            var sub = TestClient.Connect(broker, "sub", version, persistent: true);
            sub.Subscribe("t/#", QualityOfService.AtLeastOnce);
            var pub = TestClient.Connect(broker, "pub");

            // Online subscriber: the message goes straight into its window (inflight).
            pub.Publish("t/1", "one", QualityOfService.AtLeastOnce, packetId: 1);
            var (ack1, at1) = pub.PubAckFor(1);
            Assert.Equal(ReasonCode.Success, ack1.ReasonCode);
            Assert.True(at1 > 0, "a PUBACK must wait for the store");
            await broker.WhenDurable(at1).Within();
            Assert.True(broker.IsDurable(at1));
            var (delivered, deliveredAt) = sub.Connection.SentOf<PublishPacket>().Single();
            Assert.InRange(deliveredAt, 1, at1);
            Assert.False(delivered.Dup);
            inflightPacketId = delivered.PacketId;
            Assert.Single(fault.Scan((byte)'i'));

            // Offline subscriber: queued. Once the PUBACK may go out, the queued copy is on disk.
            sub.Lost();
            pub.Publish("t/2", "two", QualityOfService.AtLeastOnce, packetId: 2);
            var (_, at2) = pub.PubAckFor(2);
            Assert.True(at2 > at1);
            await broker.WhenDurable(at2).Within();
            Assert.Single(fault.Scan((byte)'q'));

            // The disk fails: the PUBACK stays held back.
            fault.Failing = true;
            pub.Publish("t/3", "three", QualityOfService.AtLeastOnce, packetId: 3);
            var (_, at3) = pub.PubAckFor(3);
            await Assert.ThrowsAsync<StoreWriteException>(() => broker.WhenDurable(at3).Within());
            Assert.False(broker.IsDurable(at3));
            Assert.Single(fault.Scan((byte)'q'));

            fault.Failing = false;
            await WaitUntilDurable(broker, at3);
            Assert.Equal(2, fault.Scan((byte)'q').Count());
        }

        var file = RocksDbFile.Open(_dir.Path);
        using (var store = new RocksDbStore(file, Durability.Sync))
        using (var broker = new MqttBroker(new BrokerOptions(), store: store))
        {
            // The publisher's session (clean) was never stored; the subscriber's was.
            Assert.Equal(1, broker.SessionCount);
            var sub = TestClient.Connect(broker, "sub", version, persistent: true);
            Assert.True(sub.ConnAck.SessionPresent);
            var resent = sub.Connection.Publishes;
            Assert.Equal(["one", "two", "three"], resent.Select(p => p.Text()));
            Assert.True(resent[0].Dup, "the inflight message is resent with DUP=1");
            Assert.Equal(inflightPacketId, resent[0].PacketId);
            Assert.False(resent[1].Dup);
            Assert.False(resent[2].Dup);
            Assert.All(resent, p => Assert.Equal(QualityOfService.AtLeastOnce, p.QoS));
            Assert.Equal(3, resent.Select(p => p.PacketId).Distinct().Count());

            // Acknowledged: nothing of the messages is left on disk.
            foreach (var p in resent) sub.PubAck(p.PacketId);
            store.Flush();
            Assert.Empty(file.Scan((byte)'i'));
            Assert.Empty(file.Scan((byte)'q'));
            Assert.Empty(file.Scan((byte)'m'));
            Assert.Single(file.Scan((byte)'s'));
        }
    }

    [Fact]
    public async Task An_inbound_qos2_packet_id_survives_a_restart_so_a_resent_publish_is_not_delivered_twice()
    {
        using (var store = RocksDbStore.Open(_dir.Path, Durability.Sync))
        using (var broker = new MqttBroker(new BrokerOptions(), store: store))
        {
            var sub = TestClient.Connect(broker, "sub", persistent: true);
            sub.Subscribe("t", QualityOfService.ExactlyOnce);
            var pub = TestClient.Connect(broker, "pub", persistent: true);
            pub.Publish("t", "once", QualityOfService.ExactlyOnce, packetId: 7);
            var (pubrec, at) = pub.Connection.SentOf<PubRecPacket>().Single();
            Assert.Equal(ReasonCode.Success, pubrec.ReasonCode);
            await broker.WhenDurable(at).Within();
            Assert.Single(sub.Connection.Publishes);
        }

        using (var store = RocksDbStore.Open(_dir.Path, Durability.Sync))
        using (var broker = new MqttBroker(new BrokerOptions(), store: store))
        {
            var sub = TestClient.Connect(broker, "sub", persistent: true);
            // The first copy is still inflight (no PUBREC from the subscriber): resent with DUP=1.
            var first = Assert.Single(sub.Connection.Publishes);
            Assert.True(first.Dup);

            var pub = TestClient.Connect(broker, "pub", persistent: true);
            // The publisher never saw its PUBREC and sends the message again: PUBREC, no second delivery.
            pub.Publish("t", "once", QualityOfService.ExactlyOnce, packetId: 7);
            Assert.Single(pub.Connection.SentOf<PubRecPacket>());
            Assert.Single(sub.Connection.Publishes);
        }
    }
}
