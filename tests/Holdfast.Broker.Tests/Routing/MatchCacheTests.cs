using Holdfast.Broker.Routing;
using static Holdfast.Broker.Tests.Routing.SubscriptionTreePropertyTests;

namespace Holdfast.Broker.Tests.Routing;

public class MatchCacheTests
{
    [Fact]
    public void A_cached_match_sees_every_subscribe_and_unsubscribe_after_it()
    {
        var tree = new SubscriptionTree();
        var s1 = new Session("s1");
        var s2 = new Session("s2");
        Assert.Same(MatchResult.Empty, tree.Match("a/b"));
        Assert.Same(MatchResult.Empty, tree.Match("a/b"));

        tree.Add(s1, Plain("a/+"));
        Assert.Equal([s1], tree.Match("a/b").Subscribers.Select(s => s.Key));
        tree.Add(s2, Plain("#"));
        Assert.Equal(["s1", "s2"], tree.Match("a/b").Subscribers.Select(s => s.Key.ClientId).Order());
        tree.Add(s2, Shared("g", "a/b"));
        Assert.Equal("g", Assert.Single(tree.Match("a/b").SharedGroups).Name);

        Assert.True(tree.Remove(s1, Plain("a/+")));
        Assert.Equal([s2], tree.Match("a/b").Subscribers.Select(s => s.Key));
        Assert.True(tree.Remove(s2, Shared("g", "a/b")));
        Assert.Empty(tree.Match("a/b").SharedGroups);
        Assert.True(tree.Remove(s2, Plain("#")));
        Assert.True(tree.Match("a/b").IsEmpty);
    }

    [Fact]
    public void Replacing_a_subscription_is_seen_by_a_cached_match()
    {
        var tree = new SubscriptionTree();
        var s = new Session("s");
        tree.Add(s, Plain("a/b") with { SubscriptionIdentifier = 1 });
        Assert.Equal(1u, Assert.Single(tree.Match("a/b").Subscribers).Value.SubscriptionIdentifier);
        tree.Add(s, Plain("a/b") with { SubscriptionIdentifier = 2 });
        Assert.Equal(2u, Assert.Single(tree.Match("a/b").Subscribers).Value.SubscriptionIdentifier);
    }

    [Fact]
    public void A_cache_hit_allocates_nothing()
    {
        var tree = new SubscriptionTree();
        for (int i = 0; i < 20; i++) tree.Add(new Session("s" + i), Plain(i % 2 == 0 ? "plant/+/temp" : "plant/#"));
        tree.Add(new Session("w"), Shared("workers", "plant/#"));
        var first = tree.Match("plant/line-1/temp");
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 1000; i++) Assert.Same(first, tree.Match("plant/line-1/temp"));
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    [Fact]
    public void A_remembered_match_answers_only_its_topic_and_only_until_a_subscription_changes()
    {
        var tree = new SubscriptionTree();
        tree.Add(new Session("s1"), Plain("a/+"));
        MatchCache.Entry? last = null;
        var first = tree.Match("a/b", ref last);
        Assert.Same(first, last!.Result);
        Assert.Same(first, tree.Match("a/b", ref last));

        // Another topic is looked up, and remembered in its place.
        Assert.Single(tree.Match("a/c", ref last).Subscribers);
        Assert.Equal("a/c", last!.Topic);
        // A subscription added since: what was remembered is stale.
        tree.Add(new Session("s2"), Plain("a/c"));
        Assert.Equal(2, tree.Match("a/c", ref last).Subscribers.Length);
        Assert.Equal(2, last!.Result.Subscribers.Length);
    }

    [Fact]
    public void An_entry_of_an_older_generation_is_never_returned_nor_replaces_a_newer_one()
    {
        var cache = new MatchCache(1);
        var older = new MatchResult([], [], sessionsMayRepeat: false);
        var newer = new MatchResult([], [], sessionsMayRepeat: false);
        cache.Add("t", 1, older);
        Assert.False(cache.TryGet("t", 2, out _));
        cache.Add("t", 2, newer);
        cache.Add("t", 1, older);
        Assert.True(cache.TryGet("t", 2, out var found));
        Assert.Same(newer, found.Result);
        // One slot: another topic takes it.
        cache.Add("u", 2, older);
        Assert.False(cache.TryGet("t", 2, out _));
    }

    [Fact]
    public void The_cache_holds_at_most_its_size()
    {
        var cache = new MatchCache(1000);
        Assert.Equal(1024, cache.Size);
        var topics = Enumerable.Range(0, 10_000).Select(i => "t/" + i).ToArray();
        foreach (var t in topics) cache.Add(t, 0, MatchResult.Empty);
        Assert.InRange(topics.Count(t => cache.TryGet(t, 0, out _)), 1, 1024);
    }
}
