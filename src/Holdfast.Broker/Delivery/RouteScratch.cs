using Holdfast.Protocol;

namespace Holdfast.Broker;

/// <summary>One session's delivery of a message, decided by routing: overlapping subscriptions of one session collapse
/// into one delivery at the highest granted QoS carrying every matching subscription identifier.</summary>
internal struct DeliveryTarget
{
    public QualityOfService QoS;
    public bool RetainAsPublished;
    public List<uint>? SubscriptionIds;
}

/// <summary>What routing one message works with, kept by the operation doing it (so it is used by one thread at a time)
/// and reused, so routing allocates nothing per message.</summary>
internal sealed class RouteScratch
{
    public Dictionary<Session, DeliveryTarget> Targets { get; } = [];
    public List<(Session Session, DeliveryTarget Target)> Deliveries { get; } = [];

    public void Clear()
    {
        Targets.Clear();
        Deliveries.Clear();
    }
}

internal enum RouteResult { Accepted, NoSubscribers, QueueFull }
