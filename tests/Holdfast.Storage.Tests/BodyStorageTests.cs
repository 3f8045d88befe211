using Holdfast.Broker;
using Holdfast.Broker.Storage;
using Holdfast.Protocol;
using Holdfast.Storage.RocksDb;
using Holdfast.Storage.Tests.Support;

namespace Holdfast.Storage.Tests;

/// <summary>A message body is written once however many records refer to it, and deleted with the last reference.</summary>
public sealed class BodyStorageTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    private static int Count(RocksDbFile file, char prefix) => file.Scan((byte)prefix).Count();

    private static StoredDelivery Delivery(Message m) => new(m, QualityOfService.AtLeastOnce, false, null);

    [Fact]
    public void A_message_queued_to_three_sessions_and_retained_is_stored_once_and_deleted_with_its_last_reference()
    {
        var file = RocksDbFile.Open(_dir.Path);
        using var store = new RocksDbStore(file, Durability.Sync);
        var message = Messages.Create("t/r", new string('x', 1000), retain: true);
        foreach (string c in new[] { "a", "b", "c" })
        {
            store.SaveSession(new StoredSession(c, ProtocolVersion.V500, 60, []));
            store.AddQueued(c, 1, Delivery(message));
        }
        store.SetRetained(message);
        store.Flush();
        Assert.Equal(1, Count(file, 'm'));
        Assert.Equal(3, Count(file, 'q'));
        Assert.Equal(1, Count(file, 't'));

        // a: from the queue into the window (one operation), then acknowledged; b: dequeued; c: session ended (the broker
        // names what it held); then the retained topic cleared.
        store.Record(c =>
        {
            c.Reference(message);
            c.SaveInflight("a", new StoredInflight(1, 1, Delivery(message), InflightState.AwaitingPubAck));
            c.RemoveQueued("a", 1);
            c.Release(message.Id);
        });
        store.Flush();
        Assert.Equal(1, Count(file, 'm'));
        store.RemoveInflight("a", 1, message);
        store.RemoveQueued("b", 1, message);
        store.Record(c =>
        {
            c.RemoveQueued("c", 1);
            c.Release(message.Id);
            c.RemoveSession("c", 1);
        });
        store.Flush();
        Assert.Equal(1, Count(file, 'm'));
        store.SetRetained(Messages.Create("t/r", "", retain: true), previous: message);
        store.Flush();

        Assert.Equal(0, Count(file, 'm'));
        Assert.Equal(0, Count(file, 'q'));
        Assert.Equal(0, Count(file, 'i'));
        Assert.Equal(0, Count(file, 't'));
    }

    [Fact]
    public void Replacing_a_retained_message_deletes_the_old_body()
    {
        var file = RocksDbFile.Open(_dir.Path);
        using var store = new RocksDbStore(file, Durability.Sync);
        Message? previous = null;
        for (int i = 0; i < 5; i++)
        {
            var message = Messages.Create("t", $"v{i}", retain: true);
            store.SetRetained(message, previous);
            previous = message;
        }
        store.Flush();
        Assert.Equal(1, Count(file, 'm'));
        Assert.Equal(1, Count(file, 't'));
    }

    [Fact]
    public void Reference_counts_are_rebuilt_on_load()
    {
        var message = Messages.Create("t/r", "shared", retain: true);
        using (var store = RocksDbStore.Open(_dir.Path, Durability.Sync))
        {
            store.SaveSession(new StoredSession("a", ProtocolVersion.V500, 60, []));
            store.SaveSession(new StoredSession("b", ProtocolVersion.V500, 60, []));
            store.AddQueued("a", 1, Delivery(message));
            store.AddInflight("b", new StoredInflight(4, 1, Delivery(message), InflightState.AwaitingPubAck));
            store.SetRetained(message);
        }

        var file = RocksDbFile.Open(_dir.Path);
        using var reopened = new RocksDbStore(file, Durability.Sync);
        var state = reopened.Load();
        // One body, so one message instance shared by every record, as the broker had it.
        var queued = state.Queues["a"].Single().Delivery.Message;
        // Under the id it was stored with.
        Assert.Equal(message.Id, queued.Id);
        Assert.Equal(message.Id, state.LastMessageId);
        Assert.Same(queued, state.Inflight["b"].Single().Delivery.Message);
        Assert.Same(queued, state.Retained.Single());

        reopened.RemoveQueued("a", 1, queued);
        reopened.RemoveInflight("b", 4, queued);
        reopened.Flush();
        Assert.Equal(1, Count(file, 'm'));
        reopened.SetRetained(Messages.Create("t/r", "", retain: true), previous: queued);
        reopened.Flush();
        Assert.Equal(0, Count(file, 'm'));
    }

    [Fact]
    public void A_body_nothing_refers_to_is_deleted_on_load()
    {
        using (var file = RocksDbFile.Open(_dir.Path))
        {
            var orphan = StoreRecords.Body(new RecordWriter(), Messages.Create("t", "orphan"), new StoreRecords.Clock());
            file.Write([new StoreOp(StoreKeys.ForBody(99), orphan)], sync: true);
        }

        var reopened = RocksDbFile.Open(_dir.Path);
        using var store = new RocksDbStore(reopened, Durability.Sync);
        var state = store.Load();
        Assert.Empty(state.Queues);
        store.Flush();
        Assert.Equal(0, Count(reopened, 'm'));
    }
}
