using Holdfast.Protocol;

namespace Holdfast.Broker.Storage;

/// <summary>The durable fields of a session.</summary>
/// <param name="DisconnectedAt">Monotonic ms (<see cref="BrokerClock.Now"/>) when its last connection ended; null while connected.</param>
/// <param name="ListenerName">The listener (<see cref="ListenerPolicy.Name"/>) of its latest connection, and with
/// <paramref name="UserName"/> who that connection was: what the ACL judges the session by while it is offline.</param>
/// <param name="Epoch">Counts the connections that took the session (1 for the first): what a save compares (see
/// <see cref="ISessionChanges"/>).</param>
/// <param name="Owner">The node that holds the session; <see cref="LocalOwner"/> for a broker on its own.</param>
public sealed record StoredSession(string ClientId, ProtocolVersion Version, uint ExpiryInterval, IReadOnlyList<Subscription> Subscriptions,
    long? DisconnectedAt = null, string? ListenerName = null, string? UserName = null, long Epoch = 1, string Owner = StoredSession.LocalOwner)
{
    public const string LocalOwner = "local";
}
