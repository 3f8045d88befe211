using Holdfast.Protocol;

namespace Holdfast.Broker.Storage;

/// <summary>A message as delivered to one session. The store keeps <see cref="Message.Id"/> and the fields; the body is in
/// the message log.</summary>
public sealed record StoredDelivery(Message Message, QualityOfService QoS, bool Retain, IReadOnlyList<uint>? SubscriptionIds);

/// <summary>A delivery waiting in a session's queue, under its queue sequence. <paramref name="OwnsBody"/>: its record
/// carries the message (see <see cref="ISessionChanges.AddQueued"/>).</summary>
public sealed record StoredQueued(long Sequence, StoredDelivery Delivery, bool OwnsBody = false);

/// <summary>The part of a session's queue after the head that <see cref="IBrokerStore.Load"/> read: left on disk.</summary>
/// <param name="FromSequence">The sequence of its first delivery.</param>
/// <param name="Bytes">The sum of their <see cref="Message.Size"/>.</param>
public sealed record StoredQueueTail(long FromSequence, long Count, long Bytes, long LastSequence);

/// <summary>An outbound QoS 1/2 flow in progress. <paramref name="Order"/> is its original send order within the
/// session: the resend order after a restart.</summary>
public sealed record StoredInflight(ushort PacketId, long Order, StoredDelivery Delivery, InflightState State);
