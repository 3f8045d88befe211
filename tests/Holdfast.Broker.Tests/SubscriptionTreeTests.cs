using System.Reflection;
using Holdfast.Broker.Routing;
using Holdfast.Protocol;

namespace Holdfast.Broker.Tests;

public class SubscriptionTreeTests
{
    private static Subscription Sub(string filter, uint? id = null)
    {
        if (TopicRules.TryParseShared(filter, out var group, out var inner))
            return new Subscription(filter, QualityOfService.AtLeastOnce, false, false, RetainHandling.SendAtSubscribe, id) { ShareGroup = group, MatchFilter = inner };
        return new Subscription(filter, QualityOfService.AtLeastOnce, false, false, RetainHandling.SendAtSubscribe, id);
    }

    private static (List<KeyValuePair<Session, Subscription>> subs, List<SharedGroup> groups) Match(SubscriptionTree tree, string topic)
    {
        var result = tree.Match(topic);
        return ([.. result.Subscribers], [.. result.SharedGroups]);
    }

    private static KeyValuePair<Session, Subscription> Pick(SharedGroup group, Func<Session, string, bool> mayReceive, string topic)
    {
        Assert.True(group.TryPick(static (_, _) => true, (s, state) => state.MayReceive(s, state.Topic), (MayReceive: mayReceive, Topic: topic), out var member));
        return member;
    }

    private static bool Matches(string filter, string topic)
    {
        var tree = new SubscriptionTree();
        tree.Add(new Session("s"), Sub(filter));
        return Match(tree, topic).subs.Count == 1;
    }

    [Theory]
    [InlineData("a/b", "a/b", true)]
    [InlineData("a/b", "a/c", false)]
    [InlineData("a/b", "a/b/c", false)]
    [InlineData("a/b", "a", false)]
    [InlineData("a/+", "a/b", true)]
    [InlineData("a/+", "a/b/c", false)]
    [InlineData("a/+", "a", false)]
    [InlineData("a/+", "a/", true)]
    [InlineData("+/+", "a/b", true)]
    [InlineData("+/+", "a/b/c", false)]
    [InlineData("+/+", "a", false)]
    [InlineData("+", "a", true)]
    [InlineData("+", "/a", false)]
    [InlineData("+/a", "/a", true)]
    [InlineData("a/#", "a", true)]
    [InlineData("a/#", "a/b", true)]
    [InlineData("a/#", "a/b/c", true)]
    [InlineData("a/#", "ab", false)]
    [InlineData("a/#", "b/a", false)]
    [InlineData("#", "a/b/c", true)]
    [InlineData("#", "/", true)]
    [InlineData("a/+/#", "a/b", true)]
    [InlineData("a/+/#", "a/b/c/d", true)]
    [InlineData("a/+/#", "a", false)]
    [InlineData("+/b/+", "x/b/y", true)]
    [InlineData("+/b/+", "x/c/y", false)]
    [InlineData("A/b", "a/b", false)]
    public void Matching_follows_the_topic_rules(string filter, string topic, bool expected) =>
        Assert.Equal(expected, Matches(filter, topic));

    [Theory]
    [InlineData("#", "$SYS/x", false)]
    [InlineData("+/x", "$SYS/x", false)]
    [InlineData("+", "$SYS", false)]
    [InlineData("+/#", "$SYS/x", false)]
    [InlineData("$SYS/#", "$SYS/x", true)]
    [InlineData("$SYS/#", "$SYS", true)]
    [InlineData("$SYS/+", "$SYS/x", true)]
    [InlineData("$SYS/x", "$SYS/x", true)]
    [InlineData("a/+", "a/$x", true)]
    [InlineData("a/#", "a/$x/y", true)]
    public void Dollar_topics_are_not_matched_by_a_leading_wildcard(string filter, string topic, bool expected) =>
        Assert.Equal(expected, Matches(filter, topic));

    [Fact]
    public void Match_returns_every_matching_subscription_once()
    {
        var tree = new SubscriptionTree();
        var s1 = new Session("s1");
        var s2 = new Session("s2");
        tree.Add(s1, Sub("a/b"));
        tree.Add(s1, Sub("a/+"));
        tree.Add(s1, Sub("#"));
        tree.Add(s2, Sub("a/#"));
        tree.Add(s2, Sub("x/y"));
        var (subs, groups) = Match(tree, "a/b");
        Assert.Empty(groups);
        Assert.Equal(["#", "a/#", "a/+", "a/b"], subs.Select(s => s.Value.TopicFilter).Order(StringComparer.Ordinal));
        Assert.Equal(5, tree.Count);
    }

    [Fact]
    public void Re_adding_the_same_filter_for_a_session_replaces_it()
    {
        var tree = new SubscriptionTree();
        var s = new Session("s");
        tree.Add(s, Sub("a/b", 1));
        tree.Add(s, Sub("a/b", 2));
        Assert.Equal(1, tree.Count);
        var (subs, _) = Match(tree, "a/b");
        Assert.Equal(2u, Assert.Single(subs).Value.SubscriptionIdentifier);
    }

    [Fact]
    public void Shared_group_is_returned_as_a_group_and_picks_round_robin()
    {
        var tree = new SubscriptionTree();
        var members = Enumerable.Range(0, 3).Select(i => new Session("m" + i)).ToArray();
        foreach (var m in members) tree.Add(m, Sub("$share/g/a/+"));
        tree.Add(members[0], Sub("$share/other/a/#"));
        Assert.Equal(4, tree.Count);

        var (subs, groups) = Match(tree, "a/b");
        Assert.Empty(subs);
        Assert.Equal(2, groups.Count);
        var g = groups.Single(x => x.Name == "g");
        Assert.Equal("a/+", g.Filter);

        // All offline: round-robin over everyone, each member once per cycle.
        var picks = Enumerable.Range(0, 6).Select(_ => Pick(g, Anyone, "a/b").Key.ClientId).ToList();
        Assert.Equal(["m0", "m1", "m2", "m0", "m1", "m2"], picks);

        // '$share/g/a/+' does not match 'a/b/c'.
        Assert.DoesNotContain(Match(tree, "a/b/c").groups, x => x.Name == "g");
    }

    [Fact]
    public void Shared_group_prefers_connected_members()
    {
        using var broker = TestBroker.New();
        var online = broker.ConnectPersistent("online");
        var tree = new SubscriptionTree();
        var offline = new Session("offline");
        tree.Add(offline, Sub("$share/g/t"));
        tree.Add(online.Client.Session, Sub("$share/g/t"));
        var g = Match(tree, "t").groups.Single();
        for (int i = 0; i < 4; i++) Assert.Equal("online", Pick(g, Anyone, "t").Key.ClientId);
    }

    private static bool Anyone(Session session, string topic) => true;

    [Fact]
    public void Shared_group_picks_only_members_that_may_receive_the_topic_and_anyone_when_none_may()
    {
        using var broker = TestBroker.New();
        var online = broker.ConnectPersistent("online");
        var tree = new SubscriptionTree();
        var offline = new Session("offline");
        tree.Add(online.Client.Session, Sub("$share/g/#"));
        tree.Add(offline, Sub("$share/g/#"));
        tree.Add(new Session("other"), Sub("$share/g/#"));
        var g = Match(tree, "t").groups.Single();

        // The connected member may not receive it: the offline one that may is chosen every time, over a connected member.
        Func<Session, string, bool> offlineOnly = (s, topic) => s == offline && topic == "t";
        for (int i = 0; i < 4; i++) Assert.Equal("offline", Pick(g, offlineOnly, "t").Key.ClientId);
        // Nobody may: some member still comes back (and the broker drops the message for it, counted).
        Assert.Contains(Pick(g, (_, _) => false, "t").Key.ClientId, new[] { "online", "offline", "other" });
    }

    [Fact]
    public void Remove_prunes_the_tree_and_count_returns_to_zero()
    {
        var tree = new SubscriptionTree();
        var s1 = new Session("s1");
        var s2 = new Session("s2");
        string[] filters = ["a/b/c", "a/+/c", "a/#", "#", "+", "$SYS/#", "x/y/z/w", "$share/g/a/b", "$share/h/+/+"];
        foreach (var f in filters) { tree.Add(s1, Sub(f)); tree.Add(s2, Sub(f)); }
        Assert.Equal(filters.Length * 2, tree.Count);

        Assert.False(tree.Remove(s1, Sub("not/there")));
        Assert.False(tree.Remove(new Session("stranger"), Sub("a/b/c")));
        Assert.Equal(filters.Length * 2, tree.Count);

        foreach (var f in filters) Assert.True(tree.Remove(s1, Sub(f)));
        Assert.Equal(filters.Length, tree.Count);
        var (subs, groups) = Match(tree, "a/b/c");
        Assert.All(subs, s => Assert.Same(s2, s.Key));
        Assert.All(groups, g => Assert.All(g.Members, m => Assert.Same(s2, m.Key)));

        foreach (var f in filters) Assert.True(tree.Remove(s2, Sub(f)));
        Assert.Equal(0, tree.Count);
        Assert.False(tree.Remove(s2, Sub("a/b/c")));

        // Pruned: the root has no branches left.
        var root = typeof(SubscriptionTree).GetField("_root", BindingFlags.NonPublic | BindingFlags.Instance)!.GetValue(tree)!;
        var isEmpty = root.GetType().GetProperty("IsEmpty")!.GetValue(root);
        Assert.Equal(true, isEmpty);
        Assert.Empty(Match(tree, "a/b/c").subs);
    }

    [Fact]
    public void Ten_thousand_subscriptions()
    {
        var tree = new SubscriptionTree();
        var sessions = Enumerable.Range(0, 1000).Select(i => new Session("c" + i)).ToArray();
        var added = new List<(Session, Subscription)>();
        for (int i = 0; i < 10_000; i++)
        {
            var s = sessions[i % sessions.Length];
            // 10 filters per session: device/<n>/temp exact, plus a few wildcard shapes.
            string filter = (i / sessions.Length) switch
            {
                0 => $"device/{i}/temp",
                1 => $"device/{i % 1000}/+",
                2 => $"device/+/temp/{i}",
                3 => $"site/{i}/#",
                _ => $"bulk/{i}/x",
            };
            var sub = Sub(filter);
            tree.Add(s, sub);
            added.Add((s, sub));
        }
        Assert.Equal(10_000, tree.Count);

        // device/5/temp: exact 'device/5/temp' (i=5) and 'device/5/+' (i=1005, session c5).
        var (subs, _) = Match(tree, "device/5/temp");
        Assert.Equal(["device/5/+", "device/5/temp"], subs.Select(s => s.Value.TopicFilter).Order(StringComparer.Ordinal));
        // device/77/temp/2123 matched by 'device/+/temp/2123' and nothing else.
        Assert.Equal("device/+/temp/2123", Assert.Single(Match(tree, "device/77/temp/2123").subs).Value.TopicFilter);
        Assert.Equal("site/3456/#", Assert.Single(Match(tree, "site/3456/a/b/c").subs).Value.TopicFilter);
        Assert.Empty(Match(tree, "nothing/here").subs);

        foreach (var (s, sub) in added) Assert.True(tree.Remove(s, sub));
        Assert.Equal(0, tree.Count);
        Assert.Empty(Match(tree, "device/5/temp").subs);
    }
}
