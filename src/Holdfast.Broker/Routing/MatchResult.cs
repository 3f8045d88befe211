using System.Collections.Immutable;

namespace Holdfast.Broker.Routing;

/// <summary>What a topic matched at one generation of the tree: the plain subscriptions (one entry per matching
/// filter, so a session may appear more than once) and the shared groups. Immutable: the match cache hands the same
/// result to every thread that publishes to the topic.</summary>
internal sealed class MatchResult
{
    public static readonly MatchResult Empty = new([], []);

    internal MatchResult(ImmutableArray<KeyValuePair<Session, Subscription>> subscribers, ImmutableArray<SharedGroup> sharedGroups)
    {
        Subscribers = subscribers;
        SharedGroups = sharedGroups;
    }

    public ImmutableArray<KeyValuePair<Session, Subscription>> Subscribers { get; }
    public ImmutableArray<SharedGroup> SharedGroups { get; }
    public bool IsEmpty => Subscribers.IsEmpty && SharedGroups.IsEmpty;
}
