using Holdfast.Broker.Storage;
using Holdfast.Protocol;
using Holdfast.Storage.RocksDb;
using Holdfast.Storage.Tests.Support;

namespace Holdfast.Storage.Tests;

/// <summary>WhenDurable must never complete before the write holding its sequence: an acknowledgement released early is
/// one a crash can undo. Many "connections" commit change sets concurrently and wait for them while the writer swaps
/// batches as fast as it can; a change recorded between the writer taking a batch and naming that batch's signal used
/// to be released with the wrong batch.</summary>
public sealed class DurableSignalTests
{
    [Fact]
    public async Task A_waiter_is_released_only_by_the_write_that_holds_its_change()
    {
        using var store = new RocksDbStore(new QuickFile(), Durability.Sync);
        store.SaveSession(new StoredSession("c", ProtocolVersion.V500, 60, []));
        long waits = 0, early = 0;
        var until = DateTime.UtcNow.AddSeconds(3);
        var connections = Enumerable.Range(0, 16).Select(t => Task.Run(async () =>
        {
            ushort packetId = (ushort)(t * 4000);
            while (DateTime.UtcNow < until)
            {
                // No lock of the caller's: the store orders commits under its own.
                long sequence = store.SetInboundQoS2("c", ++packetId, true);
                if (store.IsDurable(sequence)) continue;
                Interlocked.Increment(ref waits);
                await store.WhenDurable(sequence);
                if (!store.IsDurable(sequence)) Interlocked.Increment(ref early);
            }
        })).ToArray();
        await Task.WhenAll(connections);

        Assert.True(waits > 1000, $"only {waits} waits: the test did not exercise the writer");
        Assert.Equal(0, early);
    }

    /// <summary>A write that takes a little time and keeps nothing.</summary>
    private sealed class QuickFile : IStoreFile
    {
        public void Write(IReadOnlyList<StoreOp> ops, bool sync) => Thread.SpinWait(2000);
        public IEnumerable<(byte[] Key, byte[] Value)> Scan(byte prefix) => [];
        public IEnumerable<(byte[] Key, byte[] Value)> Scan(byte[] from, int prefixLength) => [];
        public byte[]? Read(byte[] key) => null;
        public void Dispose() { }
    }
}
