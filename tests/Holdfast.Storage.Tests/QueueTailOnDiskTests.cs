using Holdfast.Broker;
using Holdfast.Protocol;
using Holdfast.Storage.RocksDb;
using Holdfast.Storage.Tests.Support;

namespace Holdfast.Storage.Tests;

/// <summary>A long queue on RocksDB: its head in memory, its tail in records that carry their own bodies, read back in
/// order as the head drains, after a restart too, and removed in one range when the session ends.</summary>
public sealed class QueueTailOnDiskTests : IDisposable
{
    private const int Messages = 2000;
    private const int Head = MqttBroker.QueueHeadLimit;
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    private static BrokerOptions Unbounded() => new() { MaxQueuedMessages = 0, MaxInflightMessages = 20 };

    private static void QueueFor(MqttBroker broker, string clientId, int count)
    {
        var sub = TestClient.Connect(broker, clientId, persistent: true);
        sub.Subscribe("f/#", QualityOfService.AtLeastOnce);
        sub.Lost();
        var pub = TestClient.Connect(broker, "pub");
        for (int i = 1; i <= count; i++) pub.Publish("f/x", $"m{i}", QualityOfService.AtLeastOnce, packetId: (ushort)i);
    }

    /// <summary>Reconnects and acknowledges each message as it arrives; returns the payloads in arrival order.</summary>
    private static List<string> Drain(MqttBroker broker, string clientId)
    {
        var back = TestClient.Connect(broker, clientId, persistent: true);
        Assert.True(back.ConnAck.SessionPresent);
        int acked = 0;
        PublishPacket[] sent;
        while (acked < (sent = [.. back.Connection.SentOf<PublishPacket>().Select(s => s.Packet)]).Length)
            back.PubAck(sent[acked++].PacketId);
        return [.. sent.Select(p => p.Text())];
    }

    [Fact]
    public void The_tail_is_on_disk_and_comes_back_in_order()
    {
        var file = RocksDbFile.Open(_dir.Path);
        using var store = new RocksDbStore(file, Durability.Sync);
        using var broker = new MqttBroker(Unbounded(), store: store);
        QueueFor(broker, "dead1", Messages);
        store.Flush();

        Assert.Equal(Messages, file.Scan((byte)'q').Count());
        // Bodies in the message log only for the head: the tail's records carry theirs.
        Assert.Equal(Head, file.Scan((byte)'m').Count());
        Assert.Equal(Messages, broker.Status().QueuedMessages);

        Assert.Equal(Enumerable.Range(1, Messages).Select(i => $"m{i}"), Drain(broker, "dead1"));
        store.Flush();
        Assert.Empty(file.Scan((byte)'q'));
        Assert.Empty(file.Scan((byte)'m'));
    }

    [Fact]
    public void A_restarted_broker_reads_the_head_and_leaves_the_tail_on_disk()
    {
        using (var store = RocksDbStore.Open(_dir.Path, Durability.Sync))
        using (var broker = new MqttBroker(Unbounded(), store: store))
            QueueFor(broker, "dead1", Messages);

        using (var store = RocksDbStore.Open(_dir.Path, Durability.Sync))
        {
            var state = store.Load(Head);
            Assert.Equal(Head, state.Queues["dead1"].Count);
            Assert.Equal(Messages - Head, state.QueueTails["dead1"].Count);
            Assert.Equal(Enumerable.Range(Head + 1, Messages - Head).Sum(i => (long)$"m{i}".Length), state.QueueTails["dead1"].Bytes);
        }

        using (var store = RocksDbStore.Open(_dir.Path, Durability.Sync))
        using (var broker = new MqttBroker(Unbounded(), store: store))
            Assert.Equal(Enumerable.Range(1, Messages).Select(i => $"m{i}"), Drain(broker, "dead1"));
    }

    [Fact]
    public void An_ended_session_leaves_no_queue_records()
    {
        var file = RocksDbFile.Open(_dir.Path);
        using var store = new RocksDbStore(file, Durability.Sync);
        using var broker = new MqttBroker(new BrokerOptions { MaxQueuedMessages = Messages }, store: store);
        QueueFor(broker, "dead1", Messages + 1);
        store.Flush();

        Assert.Equal(1, broker.Metrics.SessionsEndedQueueFull);
        Assert.Empty(file.Scan((byte)'q'));
        Assert.Empty(file.Scan((byte)'m'));
        Assert.Empty(file.Scan((byte)'s'));
    }
}
