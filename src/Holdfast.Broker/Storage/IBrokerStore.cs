namespace Holdfast.Broker.Storage;

/// <summary>
/// Where the broker keeps what must survive a restart (DESIGN.md §2.4), as units of work: the broker takes a change set
/// (<see cref="BeginChanges"/>), records into it what one operation changed, and commits it. A commit returns a sequence;
/// a packet whose meaning depends on the changes (a PUBACK says "the message is kept", a PUBREL says "the PUBREC arrived")
/// is stamped with it and written to the socket only once <see cref="IsDurable"/> holds for it: that is how
/// "acknowledged" comes to mean "on disk" without a task per message.
///
/// The store is three stores committed together through the one change set, the parts a replicated backend would
/// implement: a durable message log (<see cref="IMessageLogChanges"/>), a session store whose saves are a compare-and-swap
/// on an owner and epoch (<see cref="ISessionChanges"/>), and the retained messages (<see cref="IRetainedChanges"/>).
/// The broker stays the owner of live state: the store keeps no copy of it beyond its own records, and
/// <see cref="Load"/> gives those back at startup.
///
/// Implementations: Holdfast.Storage.Memory (tests); Holdfast.Storage.RocksDb writes each batch of commits with one
/// synced write (group commit).
/// </summary>
public interface IBrokerStore
{
    /// <summary>A new, empty change set. It can be used for one operation after another (after <see cref="IChangeSet.Commit"/>
    /// it is empty again), by one thread at a time; several change sets may be in use at once.</summary>
    IChangeSet BeginChanges();

    /// <summary>Whether every change set committed up to <paramref name="sequence"/> is as durable as the store promises.
    /// Thread-safe.</summary>
    bool IsDurable(long sequence);

    /// <summary>Completes when every change set up to <paramref name="sequence"/> is durable; faults with
    /// <see cref="StoreWriteException"/> when the write holding it failed (it is retried, but whoever waited is told).</summary>
    ValueTask WhenDurable(long sequence);

    /// <summary>Everything stored, for recovery at startup; of each session's queue only the first
    /// <paramref name="queueHead"/> deliveries, the rest summed up (<see cref="StoredState.QueueTails"/>).</summary>
    StoredState Load(int queueHead);

    /// <summary>Whether <see cref="ReadQueued"/> gives queued deliveries back while the broker runs: a session's queue then
    /// keeps only its head in memory and its tail on disk. False for a store that records nothing.</summary>
    bool ReadsQueues { get; }

    /// <summary>The sequence of the last change set committed (0: none yet). Thread-safe.</summary>
    long CommittedSequence { get; }

    /// <summary>Up to <paramref name="maxCount"/> deliveries queued for <paramref name="clientId"/> from
    /// <paramref name="fromSequence"/> on, in queue order. Sees what committed change sets wrote once the store has written
    /// it: one committed but not yet written may be missing (wait on <see cref="WhenDurable"/> of
    /// <see cref="CommittedSequence"/> and ask again). Thread-safe.</summary>
    IReadOnlyList<StoredQueued> ReadQueued(string clientId, long fromSequence, int maxCount);
}
