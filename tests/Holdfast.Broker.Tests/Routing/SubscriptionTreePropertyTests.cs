using Holdfast.Broker.Routing;
using Holdfast.Protocol;

namespace Holdfast.Broker.Tests.Routing;

/// <summary>The trie against the plain rule (<see cref="TopicRules.Matches(string, string)"/> over every subscription),
/// for random filters and topics, while subscriptions come and go.</summary>
public class SubscriptionTreePropertyTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    [InlineData(5)]
    public void Match_agrees_with_the_topic_rules_for_random_filters_and_topics(int seed)
    {
        var random = new RandomTopics(seed);
        var tree = new SubscriptionTree();
        var sessions = Enumerable.Range(0, 8).Select(i => new Session("s" + i)).ToArray();
        // What the tree should hold: (session, full filter) -> subscription.
        var held = new Dictionary<(Session, string), Subscription>();
        var topics = Enumerable.Range(0, 60).Select(_ => random.Topic()).Append("a").Append("$SYS").ToArray();

        for (int round = 0; round < 6; round++)
        {
            for (int i = 0; i < 40; i++)
            {
                var session = sessions[random.Next(sessions.Length)];
                var filter = random.Filter();
                var sub = random.Next(4) == 0 ? Shared("g" + random.Next(2), filter) : Plain(filter);
                tree.Add(session, sub);
                held[(session, sub.TopicFilter)] = sub;
            }
            foreach (var key in held.Keys.Where(_ => random.Next(3) == 0).ToList())
            {
                Assert.True(tree.Remove(key.Item1, held[key]));
                held.Remove(key);
            }
            Assert.Equal(held.Count, tree.Count);

            foreach (var topic in topics)
            {
                var result = tree.Match(topic);
                var expected = held.Where(h => h.Value.ShareGroup is null && TopicRules.Matches(h.Value.MatchFilter, topic))
                    .Select(h => $"{h.Key.Item1.ClientId} {h.Key.Item2}").Order(StringComparer.Ordinal);
                var actual = result.Subscribers.Select(s => $"{s.Key.ClientId} {s.Value.TopicFilter}").Order(StringComparer.Ordinal);
                Assert.Equal(expected, actual);
                // Routing merges a session's subscriptions only where it is told a session may be there more than once.
                if (result.Subscribers.DistinctBy(s => s.Key).Count() < result.Subscribers.Length) Assert.True(result.SessionsMayRepeat);

                var expectedGroups = held.Where(h => h.Value.ShareGroup is not null && TopicRules.Matches(h.Value.MatchFilter, topic))
                    .Select(h => $"{h.Value.ShareGroup} {h.Value.MatchFilter}").Distinct().Order(StringComparer.Ordinal);
                Assert.Equal(expectedGroups, result.SharedGroups.Select(g => $"{g.Name} {g.Filter}").Order(StringComparer.Ordinal));
                foreach (var group in result.SharedGroups)
                    Assert.Equal(held.Where(h => h.Value.ShareGroup == group.Name && h.Value.MatchFilter == group.Filter).Select(h => h.Key.Item1).ToHashSet(),
                        group.Members.Select(m => m.Key).ToHashSet());

                // Nothing changed since: the same result, from the cache.
                Assert.Same(result, tree.Match(topic));
            }
        }

        foreach (var (key, sub) in held) Assert.True(tree.Remove(key.Item1, sub));
        Assert.Equal(0, tree.Count);
        Assert.All(topics, t => Assert.True(tree.Match(t).IsEmpty));
    }

    internal static Subscription Plain(string filter) =>
        new(filter, QualityOfService.AtLeastOnce, false, false, RetainHandling.SendAtSubscribe, null);

    internal static Subscription Shared(string group, string filter) =>
        new($"$share/{group}/{filter}", QualityOfService.AtLeastOnce, false, false, RetainHandling.SendAtSubscribe, null)
        {
            ShareGroup = group,
            MatchFilter = filter,
        };
}
