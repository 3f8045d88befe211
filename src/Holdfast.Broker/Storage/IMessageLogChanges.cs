namespace Holdfast.Broker.Storage;

/// <summary>
/// The durable message log: message bodies by <see cref="Message.Id"/>, appended once however many records refer to
/// them (queued deliveries, inflight flows, retained topics), and released when none does any more. The broker records a
/// reference next to every record that names a message, and a release next to every removal of one; counting them is
/// the store's own bookkeeping (by id), rebuilt from its records at <see cref="IBrokerStore.Load"/>.
/// </summary>
public interface IMessageLogChanges
{
    /// <summary>One more record refers to <paramref name="message"/>: the first reference appends its body.</summary>
    void Reference(Message message);

    /// <summary>One record fewer refers to the message: the body goes with the last reference.</summary>
    void Release(long messageId);
}
