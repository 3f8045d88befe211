using Holdfast.Broker;
using Holdfast.Protocol;
using Holdfast.Storage.RocksDb;
using Holdfast.Storage.Tests.Support;
using Xunit.Abstractions;

namespace Holdfast.Storage.Tests;

/// <summary>Measures the process's memory, so it runs alone: no other test allocates meanwhile.</summary>
[CollectionDefinition(nameof(QueueMemoryTests), DisableParallelization = true)]
public sealed class RunsAlone;

/// <summary>A million messages queued for an offline session cost disk, not memory (issue 14's bound): the managed heap
/// after a full collection grows by less than <see cref="HeapBound"/> and the resident set by less than
/// <see cref="RssBound"/> from 100,000 to 1,000,000 queued. Either would grow by tens of MiB if each queued message kept
/// even one small object in memory. The client then gets them all, in order, before a message published after it
/// returned.</summary>
[Collection(nameof(QueueMemoryTests))]
public sealed class QueueMemoryTests(ITestOutputHelper output) : IDisposable
{
    private const long HeapBound = 16L << 20;
    /// <summary>The heap bound plus the store's memtables (two of 8 MiB) and room for the allocator's own variation.</summary>
    private const long RssBound = 64L << 20;

    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void A_million_queued_messages_cost_disk_not_memory()
    {
        const int million = 1_000_000, warm = 100_000;
        using var store = RocksDbStore.Open(_dir.Path, Durability.Os);
        using var broker = new MqttBroker(new BrokerOptions { MaxQueuedMessages = 0, MaxInflightMessages = 20 }, store: store);
        var sub = TestClient.Connect(broker, "dead1", persistent: true);
        sub.Subscribe("f/#", QualityOfService.AtLeastOnce);
        sub.Lost();
        var pub = TestClient.Connect(broker, "pub");
        long heapAtWarm = 0, rssAtWarm = 0;
        for (int i = 1; i <= million; i++)
        {
            // Packet ids are reused: each PUBACK has gone out before the next publish.
            pub.Publish("f/x", $"m{i}", QualityOfService.AtLeastOnce, packetId: (ushort)(i % 60000 + 1));
            // The test's own record of the PUBACKs is not the broker's memory.
            if (i % 10_000 == 0) pub.Connection.TakeSent();
            if (i == warm) (heapAtWarm, rssAtWarm) = (GC.GetTotalMemory(forceFullCollection: true), Environment.WorkingSet);
        }
        long heapAtMillion = GC.GetTotalMemory(forceFullCollection: true), rssAtMillion = Environment.WorkingSet;
        Assert.Equal(million, broker.Status().QueuedMessages);
        output.WriteLine($"at {warm:N0} / {million:N0} queued: managed heap {Mib(heapAtWarm)} / {Mib(heapAtMillion)} MiB, "
            + $"resident set {Mib(rssAtWarm)} / {Mib(rssAtMillion)} MiB");
        Assert.True(heapAtMillion - heapAtWarm < HeapBound, $"managed heap grew {Mib(heapAtMillion - heapAtWarm)} MiB");
        Assert.True(rssAtMillion - rssAtWarm < RssBound, $"resident set grew {Mib(rssAtMillion - rssAtWarm)} MiB");

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

    private static long Mib(long bytes) => bytes / (1024 * 1024);
}
