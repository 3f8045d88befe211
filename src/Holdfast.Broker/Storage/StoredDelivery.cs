using Holdfast.Protocol;

namespace Holdfast.Broker.Storage;

/// <summary>A message as delivered to one session. The store keeps <see cref="Message.Id"/> and the fields; the body is in
/// the message log.</summary>
public sealed record StoredDelivery(Message Message, QualityOfService QoS, bool Retain, IReadOnlyList<uint>? SubscriptionIds);

/// <summary>A delivery waiting in a session's queue, under its queue sequence.</summary>
public sealed record StoredQueued(long Sequence, StoredDelivery Delivery);

/// <summary>An outbound QoS 1/2 flow in progress. <paramref name="Order"/> is its original send order within the
/// session: the resend order after a restart.</summary>
public sealed record StoredInflight(ushort PacketId, long Order, StoredDelivery Delivery, InflightState State);
