namespace Holdfast.Broker.Storage;

/// <summary>
/// The changes of one broker operation (a PUBLISH routed to many sessions, a message moved from its queue into the
/// inflight window), recorded in the order they happen and committed as a whole: a write never holds part of a change
/// set, so a crash never leaves a message both queued and inflight, or neither.
/// </summary>
public interface IChangeSet : IMessageLogChanges, ISessionChanges, IRetainedChanges
{
    /// <summary>Appends everything recorded to the store's pending work, atomically, and returns its sequence: sequences are
    /// handed out in commit order, and <see cref="IBrokerStore.IsDurable"/> of one means every change set up to it. An
    /// empty set returns 0 (nothing to wait for) and costs nothing. The set is empty again afterwards.</summary>
    long Commit();
}
