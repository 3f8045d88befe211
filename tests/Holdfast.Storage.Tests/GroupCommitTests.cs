using Holdfast.Broker.Storage;
using Holdfast.Protocol;
using Holdfast.Storage.RocksDb;
using Holdfast.Storage.Tests.Support;

namespace Holdfast.Storage.Tests;

/// <summary>The single writer: changes recorded meanwhile share one write, the durability level decides the sync flag
/// and when a change counts as durable.</summary>
public sealed class GroupCommitTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    private static StoredSession Session(string clientId) => new(clientId, ProtocolVersion.V500, 60, []);

    private static StoredDelivery Delivery(string payload) => new(Messages.Create("t", payload), QualityOfService.AtLeastOnce, false, null);

    [Fact]
    public async Task Changes_from_many_threads_share_writes_and_all_reach_the_file_in_order()
    {
        const int threads = 8, perThread = 300;
        var counting = new CountingStoreFile(RocksDbFile.Open(_dir.Path));
        long changes;
        using (var store = new RocksDbStore(counting, Durability.Sync))
        {
            // Each thread commits its own change sets, as broker operations under different locks would.
            var start = new ManualResetEventSlim(false);
            var workers = Enumerable.Range(0, threads).Select(t => Task.Factory.StartNew(() =>
            {
                start.Wait();
                string client = $"c{t}";
                store.SaveSession(Session(client));
                for (int i = 0; i < perThread; i++) store.AddQueued(client, Delivery($"{t}:{i}"));
            }, TaskCreationOptions.LongRunning)).ToArray();
            start.Set();
            await Task.WhenAll(workers).Within();

            changes = store.CommittedSequence;
            await store.WhenDurable(changes).Within();
            Assert.True(store.IsDurable(changes));
        }

        var writes = counting.Writes;
        // One change set per session and per message; a message's set holds its body and its queue entry.
        Assert.Equal(threads * (1 + (long)perThread), changes);
        Assert.True(writes.Count < changes, $"{writes.Count} writes for {changes} change sets: no group commit");
        // Every change written exactly once (no failures here, so no batch was retried).
        Assert.Equal(threads * (1 + 2L * perThread), writes.Sum(w => (long)w.Ops));

        using var reopened = RocksDbStore.Open(_dir.Path, Durability.Sync);
        var state = reopened.Load();
        for (int t = 0; t < threads; t++)
            Assert.Equal(Enumerable.Range(0, perThread).Select(i => $"{t}:{i}"), state.Queues[$"c{t}"].Select(d => d.Delivery.Message.Text()));
    }

    [Fact]
    public async Task A_change_set_is_never_split_across_writes()
    {
        const int threads = 4, sets = 100, perSet = 25;
        var file = new QueuedKeysPerWrite(RocksDbFile.Open(_dir.Path));
        using (var store = new RocksDbStore(file, Durability.Os))
        {
            for (int t = 0; t < threads; t++) store.SaveSession(Session($"c{t}"));
            // Threads commit sets of 25 queue entries while the writer takes batches as fast as it can: a batch taken in
            // the middle of a set would hold a number of queue entries that is not a multiple of 25.
            var workers = Enumerable.Range(0, threads).Select(t => Task.Run(() =>
            {
                for (int s = 0; s < sets; s++)
                    store.Record(c =>
                    {
                        for (int i = 0; i < perSet; i++)
                        {
                            var d = Delivery($"{s}:{i}");
                            c.Reference(d.Message);
                            c.AddQueued($"c{t}", s * perSet + i + 1, d);
                        }
                    });
            })).ToArray();
            await Task.WhenAll(workers).Within();
            store.Flush();
        }

        Assert.Equal(threads * sets * perSet, file.Writes.Sum());
        Assert.True(file.Writes.Count > 1, "one write: the test did not exercise the writer");
        Assert.All(file.Writes, queued => Assert.Equal(0, queued % perSet));
    }

    /// <summary>Counts the queue entries (q keys) each write holds.</summary>
    private sealed class QueuedKeysPerWrite(IStoreFile inner) : IStoreFile
    {
        private readonly List<int> _writes = [];
        public IReadOnlyList<int> Writes { get { lock (_writes) return [.. _writes]; } }

        public void Write(IReadOnlyList<StoreOp> ops, bool sync)
        {
            int queued = ops.Count(op => op.Key[0] == (byte)'q');
            lock (_writes) if (queued > 0) _writes.Add(queued);
            inner.Write(ops, sync);
        }

        public IEnumerable<(byte[] Key, byte[] Value)> Scan(byte prefix) => inner.Scan(prefix);
        public IEnumerable<(byte[] Key, byte[] Value)> Scan(byte[] from, int prefixLength) => inner.Scan(from, prefixLength);
        public byte[]? Read(byte[] key) => inner.Read(key);
        public void Dispose() => inner.Dispose();
    }

    [Fact]
    public void Changes_recorded_while_a_write_is_on_disk_go_out_together_in_the_next_write()
    {
        var gate = new GatedStoreFile(RocksDbFile.Open(_dir.Path));
        var counting = new CountingStoreFile(gate);
        using var store = new RocksDbStore(counting, Durability.Sync);
        store.SaveSession(Session("c"));
        gate.WaitForEntered(1);
        for (int i = 0; i < 100; i++) store.AddQueued("c", Delivery($"{i}"));
        gate.Open();
        store.Flush();

        Assert.True(store.IsDurable(store.CommittedSequence));
        Assert.Equal([1, 200], counting.Writes.Select(w => w.Ops));
    }

    [Theory]
    [InlineData(Durability.Sync, true)]
    [InlineData(Durability.Os, false)]
    [InlineData(Durability.Memory, false)]
    public void The_durability_level_decides_whether_writes_are_synced(Durability durability, bool synced)
    {
        var counting = new CountingStoreFile(RocksDbFile.Open(_dir.Path));
        using var store = new RocksDbStore(counting, durability);
        store.SaveSession(Session("c"));
        store.Flush();
        for (int i = 0; i < 10; i++)
        {
            store.AddQueued("c", Delivery($"{i}"));
            store.Flush();
        }

        var writes = counting.Writes;
        Assert.NotEmpty(writes);
        Assert.All(writes, w => Assert.Equal(synced, w.Sync));
    }

    [Theory]
    [InlineData(Durability.Sync)]
    [InlineData(Durability.Os)]
    public async Task A_change_is_durable_only_once_the_write_holding_it_has_returned(Durability durability)
    {
        var gate = new GatedStoreFile(RocksDbFile.Open(_dir.Path));
        using var store = new RocksDbStore(gate, durability);
        Assert.Equal(0, store.CommittedSequence);
        Assert.True(store.IsDurable(0));
        Assert.True(store.WhenDurable(0).AsTask().IsCompletedSuccessfully);

        store.SaveSession(Session("c"));
        long first = store.CommittedSequence;
        gate.WaitForEntered(1);
        var firstDurable = store.WhenDurable(first).AsTask();
        Assert.False(store.IsDurable(first));
        Assert.False(firstDurable.IsCompleted);

        // Recorded while the first write is on disk: it needs the next write.
        store.AddQueued("c", Delivery("x"));
        long second = store.CommittedSequence;
        var secondDurable = store.WhenDurable(second).AsTask();

        gate.Allow(1);
        await firstDurable.Within();
        Assert.True(store.IsDurable(first));

        gate.WaitForEntered(2);
        Assert.False(store.IsDurable(second));
        Assert.False(secondDurable.IsCompleted);
        // Asked for while the second write is on disk: it is that write's signal.
        var secondAgain = store.WhenDurable(second).AsTask();
        Assert.False(secondAgain.IsCompleted);

        gate.Allow(1);
        await secondDurable.Within();
        await secondAgain.Within();
        Assert.True(store.IsDurable(second));
        Assert.True(store.WhenDurable(second).AsTask().IsCompletedSuccessfully);
    }

    [Fact]
    public async Task At_memory_level_a_change_counts_as_durable_at_once_and_is_written_in_the_background()
    {
        var file = RocksDbFile.Open(_dir.Path);
        var gate = new GatedStoreFile(file);
        using var store = new RocksDbStore(gate, Durability.Memory);
        store.SaveSession(Session("c"));
        store.AddQueued("c", Delivery("fast"));
        long sequence = store.CommittedSequence;
        gate.WaitForEntered(1);

        // The write is held at the gate, yet the acknowledgement may go out.
        Assert.True(store.IsDurable(sequence));
        Assert.True(store.WhenDurable(sequence).AsTask().IsCompletedSuccessfully);
        Assert.Empty(file.Scan((byte)'q'));

        // Flush waits for the write whatever the level.
        var flushed = Task.Run(store.Flush);
        Assert.False(flushed.IsCompleted);
        gate.Open();
        await flushed.Within();
        Assert.Single(file.Scan((byte)'q'));
    }
}
