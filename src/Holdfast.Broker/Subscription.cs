using Holdfast.Protocol;

namespace Holdfast.Broker;

/// <summary>One subscription of a session: a topic filter and its options.</summary>
public sealed record Subscription(
    string TopicFilter,
    QualityOfService MaximumQoS,
    bool NoLocal,
    bool RetainAsPublished,
    RetainHandling RetainHandling,
    uint? SubscriptionIdentifier)
{
    /// <summary>For <c>$share/group/filter</c>: the group name; null for a plain subscription.</summary>
    public string? ShareGroup { get; init; }

    /// <summary>The filter matched against topics (without the $share/group/ prefix).</summary>
    public string MatchFilter { get; init; } = TopicFilter;
}
