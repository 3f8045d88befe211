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
    /// <summary>After <see cref="RouteResult.QueueFull"/>: the session whose full queue held the message back.</summary>
    public Session? FullSession { get; set; }

    public void Clear()
    {
        Targets.Clear();
        Deliveries.Clear();
        FullSession = null;
    }
}

internal enum RouteResult { Accepted, NoSubscribers, QueueFull }
