using System.Reflection;
using Holdfast.Broker.Routing;
using Holdfast.Protocol;

namespace Holdfast.Broker.Tests.Routing;

public class RetainedTreeTests
{
    private static Message Retained(string topic, int size = 3, uint? expirySeconds = null, long receivedAt = 0) =>
        new(topic, new byte[size], QualityOfService.AtLeastOnce, retain: true,
            expirySeconds is { } s ? new MqttProperties { MessageExpiryInterval = s } : null, "pub", receivedAt);

    private static Message Clear(string topic) => new(topic, ReadOnlyMemory<byte>.Empty, QualityOfService.AtMostOnce, true, null, "pub", 0);

    private static IEnumerable<string> Topics(IEnumerable<Message> messages) => messages.Select(m => m.Topic).Order(StringComparer.Ordinal);

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    [InlineData(5)]
    public void Match_agrees_with_the_topic_rules_for_random_filters_and_topics(int seed)
    {
        var random = new RandomTopics(seed);
        var tree = new RetainedTree();
        var held = new Dictionary<string, Message>(StringComparer.Ordinal);
        for (int round = 0; round < 5; round++)
        {
            for (int i = 0; i < 40; i++)
            {
                var topic = random.Topic();
                var message = random.Next(5) == 0 ? Clear(topic) : Retained(topic, size: 1 + random.Next(10));
                tree.Set(message);
                if (message.Payload.IsEmpty) held.Remove(topic);
                else held[topic] = message;
            }
            Assert.Equal(held.Count, tree.Count);
            Assert.Equal(held.Values.Sum(m => (long)m.Size), tree.Bytes);
            Assert.Equal(held.Keys.Order(StringComparer.Ordinal), Topics(tree.All));

            for (int i = 0; i < 80; i++)
            {
                var filter = i % 4 == 0 ? random.Topic() : random.Filter();
                var expected = held.Values.Where(m => TopicRules.Matches(filter, m.Topic));
                Assert.Equal(Topics(expected), Topics(tree.Match(filter, now: 0)));
            }
        }
    }

    [Theory]
    [InlineData("#", new[] { "a", "a/b", "a/b/c", "/", "a/", "a/$x" })]
    [InlineData("a/#", new[] { "a", "a/b", "a/b/c", "a/", "a/$x" })]
    [InlineData("a/+", new[] { "a/b", "a/", "a/$x" })]
    [InlineData("+", new[] { "a" })]
    [InlineData("+/+", new[] { "a/b", "/", "a/", "a/$x" })]
    [InlineData("+/#", new[] { "a", "a/b", "a/b/c", "/", "a/", "a/$x" })]
    [InlineData("$SYS/#", new[] { "$SYS", "$SYS/x" })]
    [InlineData("$SYS/+", new[] { "$SYS/x" })]
    [InlineData("+/x", new string[0])]
    [InlineData("a/b", new[] { "a/b" })]
    [InlineData("a/b/c/d", new string[0])]
    [InlineData("/", new[] { "/" })]
    public void Wildcards_and_dollar_topics(string filter, string[] expected)
    {
        var tree = new RetainedTree();
        foreach (var t in new[] { "a", "a/b", "a/b/c", "/", "a/", "a/$x", "$SYS", "$SYS/x" }) tree.Set(Retained(t));
        Assert.Equal(expected.Order(StringComparer.Ordinal), Topics(tree.Match(filter, now: 0)));
    }

    [Fact]
    public void Set_replaces_and_an_empty_payload_clears_keeping_count_and_bytes()
    {
        var tree = new RetainedTree();
        tree.Set(Retained("a/b", size: 5));
        tree.Set(Retained("a", size: 7));
        Assert.Equal((2, 12L), (tree.Count, tree.Bytes));
        var replacement = Retained("a/b", size: 2);
        tree.Set(replacement);
        Assert.Equal((2, 9L), (tree.Count, tree.Bytes));
        Assert.Same(replacement, Assert.Single(tree.Match("a/b", now: 0)));

        tree.Set(Clear("a/b"));
        Assert.Equal((1, 7L), (tree.Count, tree.Bytes));
        Assert.Empty(tree.Match("a/b", now: 0));
        tree.Set(Clear("never/set"));
        Assert.Equal((1, 7L), (tree.Count, tree.Bytes));
        // Clearing the parent leaves its children; clearing a child leaves its parent.
        tree.Set(Retained("a/b", size: 1));
        tree.Set(Clear("a"));
        Assert.Equal(["a/b"], Topics(tree.Match("#", now: 0)));
    }

    [Fact]
    public void Expired_messages_are_removed_as_a_match_meets_them()
    {
        var tree = new RetainedTree();
        tree.Set(Retained("a/short", size: 4, expirySeconds: 1, receivedAt: 0));
        tree.Set(Retained("a/long", size: 6, expirySeconds: 100, receivedAt: 0));
        tree.Set(Retained("b/short", size: 8, expirySeconds: 1, receivedAt: 0));
        Assert.Equal(3, tree.Match("+/+", now: 999).Count);

        Assert.Equal(["a/long"], Topics(tree.Match("a/+", now: 1000)));
        // Only what the match met: b/short is past its expiry but still held until something meets it.
        Assert.Equal((2, 14L), (tree.Count, tree.Bytes));
        Assert.Empty(tree.Match("b/short", now: 1000));
        Assert.Equal((1, 6L), (tree.Count, tree.Bytes));
    }

    [Fact]
    public void Clearing_every_topic_prunes_the_trie()
    {
        var tree = new RetainedTree();
        string[] topics = ["a/b/c", "a/b", "a//c", "$SYS/broker/uptime", "x"];
        foreach (var t in topics) tree.Set(Retained(t));
        foreach (var t in topics) tree.Set(Clear(t));
        Assert.Equal((0, 0L), (tree.Count, tree.Bytes));
        Assert.Empty(tree.All);
        var root = typeof(RetainedTree).GetField("_root", BindingFlags.NonPublic | BindingFlags.Instance)!.GetValue(tree)!;
        Assert.Equal(true, root.GetType().GetProperty("IsEmpty")!.GetValue(root));
    }

    [Fact]
    public async Task Matches_while_another_thread_sets_and_clears_see_only_matching_messages()
    {
        var tree = new RetainedTree();
        for (int i = 0; i < 100; i++) tree.Set(Retained($"plant/{i}/temp"));
        // The writer goes on until the readers have matched enough while it writes, however the threads are scheduled
        // (or one of them has failed and stopped).
        const int MatchesWhileWriting = 300;
        int writing = 1, matchedWhileWriting = 0, reading = 2;
        using var start = new Barrier(3);
        var writer = Task.Factory.StartNew(() =>
        {
            start.SignalAndWait();
            try
            {
                for (int round = 0; round < 10 || (Volatile.Read(ref matchedWhileWriting) < MatchesWhileWriting && Volatile.Read(ref reading) == 2); round++)
                    for (int i = 0; i < 100; i++)
                        tree.Set(round % 2 == 0 ? Clear($"plant/{i}/temp") : Retained($"plant/{i}/temp", expirySeconds: 1));
            }
            finally { Volatile.Write(ref writing, 0); }
        }, TaskCreationOptions.LongRunning);
        var readers = Enumerable.Range(0, 2).Select(_ => Task.Factory.StartNew(() =>
        {
            start.SignalAndWait();
            int matches = 0;
            try
            {
                while (Volatile.Read(ref writing) == 1)
                {
                    // Past the expiry of the writer's messages: matching removes them as the writer sets them.
                    foreach (var m in tree.Match("plant/+/temp", now: matches % 2 == 0 ? 0 : 5000)) Assert.Matches(@"^plant/\d+/temp$", m.Topic);
                    matches++;
                    Interlocked.Increment(ref matchedWhileWriting);
                }
            }
            finally { Interlocked.Decrement(ref reading); }
        }, TaskCreationOptions.LongRunning)).ToArray();
        await writer;
        await Task.WhenAll(readers);
        Assert.Equal(tree.All.Count, tree.Count);
        Assert.Equal(tree.All.Sum(m => (long)m.Size), tree.Bytes);
    }
}
