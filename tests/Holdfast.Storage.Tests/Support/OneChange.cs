using Holdfast.Broker;
using Holdfast.Broker.Storage;

namespace Holdfast.Storage.Tests.Support;

/// <summary>Records one change per committed change set, as the tests of the store need them (a broker commits a whole
/// operation at once). Each returns the commit's sequence. A record that names a message references its body, and its
/// removal releases it, as the broker records them.</summary>
internal static class OneChange
{
    public static long Record(this IBrokerStore store, Action<IChangeSet> record)
    {
        var changes = store.BeginChanges();
        record(changes);
        return changes.Commit();
    }

    public static long SaveSession(this IBrokerStore store, StoredSession session) => store.Record(c => c.SaveSession(session, 0));

    public static long RemoveSession(this IBrokerStore store, string clientId) => store.Record(c => c.RemoveSession(clientId, 0));

    public static long AddQueued(this IBrokerStore store, string clientId, long sequence, StoredDelivery delivery) => store.Record(c =>
    {
        c.Reference(delivery.Message);
        c.AddQueued(clientId, sequence, delivery);
    });

    private static long _lastQueueSequence;

    /// <summary>Appends to the end of a client's queue: sequences increase across every store of the test run, so they
    /// also keep increasing across a reopen.</summary>
    public static long AddQueued(this IBrokerStore store, string clientId, StoredDelivery delivery) =>
        store.AddQueued(clientId, Interlocked.Increment(ref _lastQueueSequence), delivery);

    public static long RemoveQueued(this IBrokerStore store, string clientId, long sequence, Message message) => store.Record(c =>
    {
        c.RemoveQueued(clientId, sequence);
        c.Release(message.Id);
    });

    public static long AddInflight(this IBrokerStore store, string clientId, StoredInflight inflight) => store.Record(c =>
    {
        c.Reference(inflight.Delivery.Message);
        c.SaveInflight(clientId, inflight);
    });

    public static long RemoveInflight(this IBrokerStore store, string clientId, ushort packetId, Message message) => store.Record(c =>
    {
        c.RemoveInflight(clientId, packetId);
        c.Release(message.Id);
    });

    public static long SetInboundQoS2(this IBrokerStore store, string clientId, ushort packetId, bool awaitingPubRel) =>
        store.Record(c => c.SetInboundQoS2(clientId, packetId, awaitingPubRel));

    public static long SetPendingWill(this IBrokerStore store, string clientId, PendingWill? will) =>
        store.Record(c => c.SetPendingWill(clientId, will));

    /// <summary>Sets (or, with an empty payload, clears) a retained topic, releasing <paramref name="previous"/>.</summary>
    public static long SetRetained(this IBrokerStore store, Message message, Message? previous = null) => store.Record(c =>
    {
        if (message.Payload.IsEmpty) c.ClearRetained(message.Topic);
        else
        {
            c.Reference(message);
            c.SetRetained(message);
        }
        if (previous is not null) c.Release(previous.Id);
    });
}
