using Holdfast.Protocol;
using Holdfast.Server.Connections;
using Xunit;

namespace Holdfast.Server.Tests.Connections;

public class OutboundQueueTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    private static Outbound Ack(ushort id) => new(OutboundPacket.Ack(PacketType.PubAck, id), 0);

    private static List<ushort> TakeAll(OutboundQueue queue)
    {
        var ids = new List<ushort>();
        while (queue.TryTakeAll(out var batch))
        {
            for (int i = 0; i < batch.Count; i++) ids.Add(batch.Items[i].Packet.PacketId);
            queue.Recycle(batch);
        }
        return ids;
    }

    [Fact]
    public void Packets_come_out_in_the_order_they_were_queued_across_growth_and_recycled_buffers()
    {
        var queue = new OutboundQueue();
        ushort next = 1;
        var expected = new List<ushort>();
        var taken = new List<ushort>();
        foreach (int burst in new[] { 1, 3, 4, 5, 300, 2, 17 })
        {
            for (int i = 0; i < burst; i++) { expected.Add(next); Assert.True(queue.TryAdd(Ack(next++))); }
            taken.AddRange(TakeAll(queue));
        }
        Assert.Equal(expected, taken);
        Assert.False(queue.TryTakeAll(out _));
    }

    [Fact]
    public async Task A_waiting_consumer_is_woken_by_a_packet_from_another_thread()
    {
        var queue = new OutboundQueue();
        var wait = queue.WaitToReadAsync();
        Assert.False(wait.IsCompleted);
        _ = Task.Run(() => queue.TryAdd(Ack(7)));
        Assert.True(await wait.AsTask().WaitAsync(Timeout));
        Assert.Equal([7], TakeAll(queue));
    }

    [Fact]
    public async Task After_Complete_what_was_queued_still_comes_out_then_the_wait_says_false()
    {
        var queue = new OutboundQueue();
        queue.TryAdd(Ack(1));
        queue.Complete();
        Assert.False(queue.TryAdd(Ack(2)));
        Assert.True(await queue.WaitToReadAsync());
        Assert.Equal([1], TakeAll(queue));
        Assert.False(await queue.WaitToReadAsync());

        var waiting = new OutboundQueue();
        var wait = waiting.WaitToReadAsync();
        waiting.Complete();
        Assert.False(await wait.AsTask().WaitAsync(Timeout));
    }

    [Fact]
    public async Task Many_producers_lose_nothing_and_keep_each_producer_s_order()
    {
        var queue = new OutboundQueue();
        const int producers = 4, each = 10_000; // ids fit a ushort
        var consumer = Task.Run(async () =>
        {
            var seen = new List<ushort>();
            while (await queue.WaitToReadAsync()) seen.AddRange(TakeAll(queue));
            return seen;
        });
        await Task.WhenAll(Enumerable.Range(0, producers).Select(p => Task.Run(() =>
        {
            for (int i = 0; i < each; i++) queue.TryAdd(Ack((ushort)(p * each + i)));
        })));
        queue.Complete();
        var seen = await consumer.WaitAsync(Timeout);
        Assert.Equal(producers * each, seen.Count);
        for (int p = 0; p < producers; p++)
        {
            var mine = seen.Where(id => id / each == p).ToList();
            Assert.Equal(Enumerable.Range(p * each, each).Select(i => (ushort)i), mine);
        }
    }

    [Fact]
    public void Queueing_and_taking_allocates_nothing_once_the_buffers_exist()
    {
        var queue = new OutboundQueue();
        var item = Ack(1);
        void Cycle()
        {
            for (int i = 0; i < 8; i++) queue.TryAdd(item);
            while (queue.TryTakeAll(out var batch)) queue.Recycle(batch);
        }
        Cycle();
        Cycle();
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 1000; i++) Cycle();
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }
}
