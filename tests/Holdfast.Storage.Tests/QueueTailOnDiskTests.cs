using Holdfast.Broker;
using Holdfast.Protocol;
using Holdfast.Storage.RocksDb;
using Holdfast.Storage.Tests.Support;
using Xunit.Abstractions;

namespace Holdfast.Storage.Tests;

/// <summary>A long queue on RocksDB: its head in memory, its tail in records that carry their own bodies, read back in
/// order as the head drains, after a restart too, and removed in one range when the session ends.</summary>
public sealed class QueueTailOnDiskTests(ITestOutputHelper output) : IDisposable
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

    /// <summary>A million messages queued for an offline session: the broker's memory stays flat (the managed heap after
    /// a full collection grows by less than <see cref="HeapBound"/> from 100,000 to 1,000,000 queued), and the client
    /// gets them all, in order, before a message published after it returned.</summary>
    [Fact]
    public void A_million_queued_messages_cost_disk_not_memory()
    {
        const int million = 1_000_000, warm = 100_000;
        using var store = RocksDbStore.Open(_dir.Path, Durability.Os);
        using var broker = new MqttBroker(Unbounded(), store: store);
        var sub = TestClient.Connect(broker, "dead1", persistent: true);
        sub.Subscribe("f/#", QualityOfService.AtLeastOnce);
        sub.Lost();
        var pub = TestClient.Connect(broker, "pub");
        long heapAtWarm = 0;
        for (int i = 1; i <= million; i++)
        {
            // QoS 1 with packet ids reused as acknowledgements arrive: each PUBACK here is already sent.
            pub.Publish("f/x", $"m{i}", QualityOfService.AtLeastOnce, packetId: (ushort)(i % 60000 + 1));
            if (i % 10_000 == 0) pub.Connection.TakeSent();
            if (i == warm) heapAtWarm = GC.GetTotalMemory(forceFullCollection: true);
        }
        long heapAtMillion = GC.GetTotalMemory(forceFullCollection: true);
        Assert.Equal(million, broker.Status().QueuedMessages);
        output.WriteLine($"managed heap after a full collection: {heapAtWarm / 1024 / 1024} MiB at {warm:N0} queued, " +
            $"{heapAtMillion / 1024 / 1024} MiB at {million:N0}; process working set {Environment.WorkingSet / 1024 / 1024} MiB");
        Assert.True(heapAtMillion - heapAtWarm < HeapBound,
            $"managed heap grew {(heapAtMillion - heapAtWarm) / 1024 / 1024} MiB from {warm:N0} to {million:N0} queued messages");

        store.Flush();
        var back = TestClient.Connect(broker, "dead1", persistent: true);
        Assert.True(back.ConnAck.SessionPresent);
        pub.Publish("f/x", "after", QualityOfService.AtLeastOnce, packetId: 1);
        int next = 1;
        while (back.Connection.TakeSent().OfType<PublishPacket>().ToArray() is { Length: > 0 } sent)
            foreach (var p in sent)
            {
                string expected = next <= million ? $"m{next}" : "after";
                Assert.True(p.Text() == expected, $"message {next}: '{p.Text()}', expected '{expected}'");
                next++;
                back.PubAck(p.PacketId);
            }
        Assert.Equal(million + 2, next);
    }

    /// <summary>What a million queued messages may add to the heap: their head and the store's bookkeeping, not them.</summary>
    private const long HeapBound = 16L << 20;
}
