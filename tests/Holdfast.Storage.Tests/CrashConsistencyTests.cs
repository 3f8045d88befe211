using Holdfast.Broker;
using Holdfast.Protocol;
using Holdfast.Storage.RocksDb;
using Holdfast.Storage.Tests.Support;

namespace Holdfast.Storage.Tests;

/// <summary>What a crash between two group-commit writes leaves on disk: the changes of one broker operation are one change
/// set and reach the disk together, or a message moving from a queue into the inflight window is left twice (or, recorded
/// the other way round, not at all).</summary>
public sealed class CrashConsistencyTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    /// <param name="writesBeforeCrash">How many writes reach the disk after the PUBACKs begin: a crash may come before,
    /// between or after the writes holding the operations that move messages into the window.</param>
    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void A_crash_between_writes_leaves_each_message_queued_or_inflight_exactly_once(int writesBeforeCrash)
    {
        const int messages = 6;
        var fault = new FaultInjectingStoreFile(RocksDbFile.Open(_dir.Path));
        var gate = new GatedStoreFile(fault, open: true);
        using (var store = new RocksDbStore(gate, Durability.Sync))
        using (var broker = new MqttBroker(new BrokerOptions { MaxInflightMessages = 1 }, store: store))
        {
            var sub = TestClient.Connect(broker, "sub", persistent: true);
            sub.Subscribe("t", QualityOfService.AtLeastOnce);
            var pub = TestClient.Connect(broker, "pub");
            for (ushort i = 1; i <= messages; i++) pub.Publish("t", $"m{i}", QualityOfService.AtLeastOnce, packetId: i);
            store.Flush();

            // Each PUBACK is one operation: the flow ends and the next message moves from the queue into the window. The
            // writer is held at the gate; the first writesBeforeCrash PUBACKs are each let through in a write of their
            // own (the next PUBACK waits until the previous one's write reached the gate), the rest pile up behind it.
            gate.Close();
            int entered = gate.Entered;
            for (int i = 0; i < messages - 1; i++)
            {
                sub.PubAck(sub.Connection.Publishes[^1].PacketId);
                if (i >= writesBeforeCrash) continue;
                gate.WaitForEntered(entered + i + 1);
                gate.Allow(1);
            }
            // The write holding the rest has reached the gate: every write let through has finished.
            gate.WaitForEntered(entered + writesBeforeCrash + 1);
            // The process dies (SIGKILL): nothing more reaches the disk.
            fault.Failing = true;
            gate.Open();
        }

        Holdfast.Broker.Storage.StoredState state;
        using (var reopened = RocksDbStore.Open(_dir.Path, Durability.Sync)) state = reopened.Load();
        var queued = state.Queues.GetValueOrDefault("sub")?.Select(q => q.Delivery.Message.Text()).ToList() ?? [];
        var inflight = state.Inflight.GetValueOrDefault("sub")?.Select(f => f.Delivery.Message.Text()).ToList() ?? [];
        // The acknowledged ones are gone; every other one is held exactly once, in order, the oldest inflight.
        var held = inflight.Concat(queued).ToList();
        Assert.Single(inflight);
        Assert.Equal(messages - writesBeforeCrash, held.Count);
        Assert.Equal(held.Distinct(), held);
        Assert.Equal(Enumerable.Range(messages - held.Count + 1, held.Count).Select(i => $"m{i}"), held);
        // Every body still referred to is there, and no other.
        using var file = RocksDbFile.Open(_dir.Path);
        Assert.Equal(held.Count, file.Scan((byte)'m').Count());
    }
}
