using System.Collections.Immutable;

namespace Holdfast.Broker.Routing;

/// <summary>What a topic matched at one generation of the tree: the plain subscriptions (one entry per matching
/// filter, so a session may appear more than once) and the shared groups. Immutable: the match cache hands the same
/// result to every thread that publishes to the topic.</summary>
internal sealed class MatchResult
{
    public static readonly MatchResult Empty = new([], [], sessionsMayRepeat: false);

    internal MatchResult(ImmutableArray<KeyValuePair<Session, Subscription>> subscribers, ImmutableArray<SharedGroup> sharedGroups,
        bool sessionsMayRepeat)
    {
        Subscribers = subscribers;
        SharedGroups = sharedGroups;
        SessionsMayRepeat = sessionsMayRepeat;
    }

    public ImmutableArray<KeyValuePair<Session, Subscription>> Subscribers { get; }
    public ImmutableArray<SharedGroup> SharedGroups { get; }

    /// <summary>The subscribers come from more than one filter, so a session may be among them more than once (routing
    /// then merges its subscriptions into one delivery). False: each session is there once.</summary>
    public bool SessionsMayRepeat { get; }
    public bool IsEmpty => Subscribers.IsEmpty && SharedGroups.IsEmpty;
}
