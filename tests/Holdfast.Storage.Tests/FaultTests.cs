using Holdfast.Broker.Storage;
using Holdfast.Protocol;
using Holdfast.Storage.RocksDb;
using Holdfast.Storage.Tests.Support;

namespace Holdfast.Storage.Tests;

/// <summary>Failed writes: never reported durable, waiters are told, the changes are retried and written once the file works again.</summary>
public sealed class FaultTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    private static StoredDelivery Delivery(string payload) => new(Messages.Create("t", payload), QualityOfService.AtLeastOnce, false, null);

    /// <summary>Waits until <paramref name="sequence"/> is durable, going past failures of writes that began before the fault was cleared.</summary>
    private static async Task WaitUntilDurable(RocksDbStore store, long sequence)
    {
        var deadline = DateTime.UtcNow + Wait.Timeout;
        while (!store.IsDurable(sequence))
        {
            try { await store.WhenDurable(sequence).AsTask().WaitAsync(deadline - DateTime.UtcNow); }
            catch (StoreWriteException) { }
        }
    }

    [Fact]
    public async Task While_writes_fail_nothing_is_durable_and_waiters_are_told_then_everything_is_written()
    {
        var fault = new FaultInjectingStoreFile(RocksDbFile.Open(_dir.Path));
        using (var store = new RocksDbStore(fault, Durability.Sync))
        {
            store.SaveSession(new StoredSession("c", ProtocolVersion.V500, 60, []));
            var before = Delivery("before");
            const long beforeSequence = 0; // before every sequence AddQueued gives out
            long beforeCommit = store.AddQueued("c", beforeSequence, before);
            await store.WhenDurable(beforeCommit).Within();

            fault.Failing = true;
            store.AddQueued("c", Delivery("during-1"));
            store.SetRetained(Messages.Create("r", "retained during", retain: true));
            store.SetInboundQoS2("c", 9, true);
            long during = store.CommittedSequence;

            var failure = await Assert.ThrowsAsync<StoreWriteException>(() => store.WhenDurable(during).Within());
            Assert.IsType<IOException>(failure.InnerException);
            Assert.False(store.IsDurable(during));
            Assert.True(store.IsDurable(beforeCommit));
            Assert.True(store.FailedWrites > 0);

            // Recorded after the first failure: retried with the failed batch, and its waiter is told of the retry's failure too.
            store.RemoveQueued("c", beforeSequence, before.Message);
            store.AddQueued("c", Delivery("during-2"));
            long later = store.CommittedSequence;
            int failures = fault.FailedWrites;
            await Assert.ThrowsAsync<StoreWriteException>(() => store.WhenDurable(later).Within());
            Assert.True(fault.FailedWrites > failures, "the failed batch should have been retried");
            Assert.False(store.IsDurable(during));
            Assert.False(store.IsDurable(later));

            fault.Failing = false;
            await WaitUntilDurable(store, later);
            Assert.True(store.IsDurable(during));
            Assert.Equal(0, store.FailedWrites);

            store.AddQueued("c", Delivery("after"));
            long after = store.CommittedSequence;
            await store.WhenDurable(after).Within();
            Assert.True(store.IsDurable(after));
        }

        using var reopened = RocksDbStore.Open(_dir.Path, Durability.Sync);
        var state = reopened.Load();
        Assert.Equal(["during-1", "during-2", "after"], state.Queues["c"].Select(d => d.Delivery.Message.Text()));
        Assert.Equal("retained during", Assert.Single(state.Retained).Text());
        Assert.Equal([(ushort)9], state.InboundQoS2["c"]);
    }

    [Fact]
    public async Task A_failure_of_the_very_first_write_is_retried()
    {
        var fault = new FaultInjectingStoreFile(RocksDbFile.Open(_dir.Path)) { Failing = true };
        using (var store = new RocksDbStore(fault, Durability.Os))
        {
            store.SaveSession(new StoredSession("c", ProtocolVersion.V311, uint.MaxValue, []));
            long sequence = store.CommittedSequence;
            fault.WaitForFailedWrites(2);
            Assert.False(store.IsDurable(sequence));
            // The second attempt began after the first failure was counted.
            Assert.True(store.FailedWrites >= 1);

            fault.Failing = false;
            await WaitUntilDurable(store, sequence);
            Assert.Equal(0, store.FailedWrites);
        }

        using var reopened = RocksDbStore.Open(_dir.Path, Durability.Sync);
        Assert.Equal("c", Assert.Single(reopened.Load().Sessions).ClientId);
    }
}
