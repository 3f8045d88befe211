using Holdfast.Protocol;
using Holdfast.Storage.Memory;

namespace Holdfast.Broker.Tests;

/// <summary>A stored session's queue keeps its head in memory and its tail in the store, read back as the head drains.</summary>
public class QueueTailTests
{
    private const int Messages = 1000;

    private static BrokerOptions Unbounded() => new() { MaxInflightMessages = 20, MaxQueuedMessages = 0 };

    private static void PublishMany(Peer pub, int count, int from = 1)
    {
        for (int i = from; i < from + count; i++) pub.Publish("f/x", $"m{i}", QualityOfService.AtLeastOnce, packetId: (ushort)(i % 60000 + 1));
    }

    /// <summary>Acknowledges every message as it arrives until <paramref name="count"/> have; returns their payloads.</summary>
    private static List<string> ReceiveAll(Peer sub, int count)
    {
        int acked = 0;
        while (acked < sub.Publishes.Length)
        {
            var p = sub.Publishes[acked++];
            if (p.QoS == QualityOfService.AtLeastOnce) sub.PubAck(p.PacketId);
        }
        Assert.Equal(count, sub.Publishes.Length);
        return [.. sub.Publishes.Select(p => p.Text())];
    }

    [Fact]
    public void An_offline_queue_keeps_only_its_head_in_memory_and_comes_back_whole_in_order()
    {
        var store = new MemoryStore();
        using var broker = TestBroker.New(Unbounded(), store: store);
        var sub = broker.ConnectPersistent("dead1");
        sub.Subscribe("f/#");
        sub.Lost();
        var pub = broker.Connect("pub");
        PublishMany(pub, Messages);

        var session = sub.Client.Session;
        Assert.Equal(Messages, session.QueuedCount);
        Assert.Equal(Outbox.HeadLimit, session.HeadCount);
        Assert.Equal(Messages - Outbox.HeadLimit, session.TailCount);
        Assert.Equal(Messages, store.QueuedCount("dead1"));
        // Only the head's messages are in the message log; the tail's records carry their own.
        Assert.Equal(Outbox.HeadLimit, store.BodyCount);

        var back = broker.ConnectPersistent("dead1");
        PublishMany(pub, 5, from: Messages + 1);
        Assert.Equal(Enumerable.Range(1, Messages + 5).Select(i => $"m{i}"), ReceiveAll(back, Messages + 5));
        Assert.Equal(0, store.QueuedCount("dead1"));
        Assert.Equal(0, store.BodyCount);
    }

    [Fact]
    public void A_recovered_queue_reads_its_tail_from_the_store()
    {
        var store = new MemoryStore();
        using (var first = TestBroker.New(Unbounded(), store: store))
        {
            var sub = first.ConnectPersistent("dead1");
            sub.Subscribe("f/#");
            sub.Lost();
            PublishMany(first.Connect("pub"), Messages);
        }

        using var second = TestBroker.New(Unbounded(), store: store);
        Assert.Equal(Messages, second.Status().QueuedMessages);
        var back = second.ConnectPersistent("dead1");
        Assert.True(back.ConnAck.SessionPresent);
        Assert.Equal(Enumerable.Range(1, Messages).Select(i => $"m{i}"), ReceiveAll(back, Messages));
    }

    [Fact]
    public void Ending_a_session_removes_its_tail_from_the_store()
    {
        var store = new MemoryStore();
        using var broker = TestBroker.New(new BrokerOptions { MaxQueuedMessages = Messages, MaxInflightMessages = 20 }, store: store);
        var sub = broker.ConnectPersistent("dead1");
        sub.Subscribe("f/#");
        sub.Lost();
        var live = broker.Connect("live");
        live.Subscribe("f/#");
        var pub = broker.Connect("pub");
        PublishMany(pub, Messages + 1);

        // The queue filled (head and tail) and the session ended: nothing of it is left in the store.
        Assert.Equal(1, broker.Metrics.SessionsEndedQueueFull);
        Assert.Equal(Messages, broker.Metrics.Dropped(DropCause.SessionEndedQueueFull));
        Assert.False(store.HoldsAnything("dead1"));
        Assert.True(sub.Client.Session.Ended);
        Assert.Equal(0, sub.Client.Session.QueuedCount);
    }

    [Fact]
    public void Without_a_store_that_reads_back_the_queue_stays_in_memory()
    {
        using var broker = TestBroker.New(Unbounded());
        var sub = broker.ConnectPersistent("dead1");
        sub.Subscribe("f/#");
        sub.Lost();
        PublishMany(broker.Connect("pub"), Messages);
        Assert.Equal(Messages, sub.Client.Session.HeadCount);
        Assert.Equal(0, sub.Client.Session.TailCount);
    }
}
