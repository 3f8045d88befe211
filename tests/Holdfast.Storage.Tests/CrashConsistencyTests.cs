using Holdfast.Broker;
using Holdfast.Broker.Storage;
using Holdfast.Protocol;
using Holdfast.Storage.RocksDb;
using Holdfast.Storage.Tests.Support;

namespace Holdfast.Storage.Tests;

/// <summary>What a crash between two group-commit writes leaves on disk: the changes the broker records under one hold of
/// its lock must reach the disk together, or a message moving from a queue into the inflight window is left twice (or,
/// recorded the other way round, not at all).</summary>
public sealed class CrashConsistencyTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void A_crash_between_writes_leaves_a_message_moving_into_the_window_exactly_once()
    {
        var fault = new FaultInjectingStoreFile(RocksDbFile.Open(_dir.Path));
        var gate = new GatedStoreFile(fault, open: true);
        var message = Messages.Create("t", "exactly once", QualityOfService.ExactlyOnce);
        var delivery = new StoredDelivery(message, QualityOfService.ExactlyOnce, false, null);
        var brokerLock = new Lock();
        using (var store = new RocksDbStore(gate, Durability.Sync))
        {
            store.ShareLock(brokerLock);
            store.SaveSession(new StoredSession("c", ProtocolVersion.V500, 60, []));
            store.AddQueued("c", delivery);
            store.Flush();

            gate.Close();
            int entered = gate.Entered;
            lock (brokerLock)
            {
                // What MqttBroker.Pump records, under its lock, when the subscriber's window has room. The first change wakes
                // the writer, but it takes a batch only under the broker's lock: it cannot take this change alone.
                store.SaveInflight("c", new StoredInflight(1, delivery, InflightState.AwaitingPubRec));
                bool writerTookHalf = SpinWait.SpinUntil(() => gate.Entered > entered, TimeSpan.FromMilliseconds(300));
                Assert.False(writerTookHalf, "the writer took a batch in the middle of a broker operation");
                store.RemoveOldestQueued("c");
            }
            // One write lets both changes through; then the process dies (SIGKILL): nothing more reaches the disk.
            gate.Allow(1);
            store.Flush();
            fault.Failing = true;
            gate.Open();
        }

        using var reopened = RocksDbStore.Open(_dir.Path, Durability.Sync);
        var state = reopened.Load();
        int queued = state.Queues.GetValueOrDefault("c")?.Count ?? 0;
        int inflight = state.Inflight.GetValueOrDefault("c")?.Count ?? 0;
        Assert.True(queued == 0 && inflight == 1, $"after the crash the message is queued {queued} time(s) and inflight {inflight} time(s)");
    }
}
