using Holdfast.Broker.Routing;
using static Holdfast.Broker.Tests.Routing.SubscriptionTreePropertyTests;

namespace Holdfast.Broker.Tests.Routing;

public class SubscriptionTreeConcurrencyTests
{
    private const string Topic = "a/b/c";
    private static readonly string[] Filters = ["a/b/c", "a/+/c", "a/#", "#", "+/b/+", "+/+/+", "a/b/#"];

    /// <summary>One writer adds subscriptions and removes them in reverse, over and over, while readers match. The states
    /// the writer passes through are known in advance; every result a reader gets must be one of them, whole, never a mix
    /// of two, and the one of a generation between the call and its return (a cached result from before a change would
    /// be whole but stale).</summary>
    [Fact]
    public async Task Readers_matching_while_a_writer_changes_the_tree_see_whole_states()
    {
        var tree = new SubscriptionTree(cacheSize: 16);
        var sessions = Enumerable.Range(0, 12).Select(i => new Session("s" + i)).ToArray();
        // Session i subscribes plainly, and every third also joins a shared group.
        var operations = new List<(Session Session, Subscription Sub)>();
        foreach (var (s, i) in sessions.Select((s, i) => (s, i)))
        {
            operations.Add((s, Plain(Filters[i % Filters.Length])));
            if (i % 3 == 0) operations.Add((s, Shared("g", "a/#")));
        }

        // The states, as the signature a match of Topic gives in each, and which of them (by how many operations are in
        // effect) give it: joining a group that is already there changes nothing a match shows.
        var states = new Dictionary<string, HashSet<int>>();
        for (int k = 0; k <= operations.Count; k++)
        {
            var present = operations.Take(k).ToList();
            var signature = Signature(present.Where(o => o.Sub.ShareGroup is null).Select(o => $"{o.Session.ClientId} {o.Sub.TopicFilter}"),
                present.Any(o => o.Sub.ShareGroup is not null) ? ["g"] : []);
            if (!states.TryGetValue(signature, out var ks)) states[signature] = ks = [];
            ks.Add(k);
        }
        // Every operation bumps the generation once: a round adds them all and removes them in reverse, so at generation g
        // this many operations are in effect.
        int n = operations.Count;
        int InEffect(long generation) { int p = (int)(generation % (2 * n)); return p <= n ? p : 2 * n - p; }

        // The writer goes on until the readers have matched enough while it writes, however the threads are scheduled
        // (or one of them has failed and stopped).
        const int MinRounds = 50, MatchesWhileWriting = 3000;
        int writing = 1, matchedWhileWriting = 0, reading = 3;
        using var start = new Barrier(4);
        var writer = Task.Factory.StartNew(() =>
        {
            start.SignalAndWait();
            int round = 0;
            try
            {
                for (; round < MinRounds || (Volatile.Read(ref matchedWhileWriting) < MatchesWhileWriting && Volatile.Read(ref reading) == 3); round++)
                {
                    foreach (var (s, sub) in operations) tree.Add(s, sub);
                    for (int i = operations.Count - 1; i >= 0; i--) Assert.True(tree.Remove(operations[i].Session, operations[i].Sub));
                }
            }
            finally { Volatile.Write(ref writing, 0); }
            return round;
        }, TaskCreationOptions.LongRunning);

        var readers = Enumerable.Range(0, 3).Select(r => Task.Factory.StartNew(() =>
        {
            start.SignalAndWait();
            int matches = 0;
            try
            {
                while (Volatile.Read(ref writing) == 1)
                {
                    long before = tree.Generation;
                    var result = tree.Match(Topic);
                    long after = tree.Generation;
                    var signature = Signature(result.Subscribers.Select(s => $"{s.Key.ClientId} {s.Value.TopicFilter}"), result.SharedGroups.Select(g => g.Name));
                    Assert.True(states.TryGetValue(signature, out var ks), $"not a state the writer passed through: {signature}");
                    // Not only whole but current: the state of a generation between the call and its return, never older.
                    bool current = false;
                    for (long g = before; g <= after && !current; g++) current = ks.Contains(InEffect(g));
                    Assert.True(current, $"generations {before}-{after}, but the result is of another: {signature}");
                    // A group from an older match may have been emptied since; picking from it is safe either way.
                    foreach (var group in result.SharedGroups)
                        if (group.TryPick(static (_, _) => true, static (_, _) => true, 0, out var member)) Assert.StartsWith("s", member.Key.ClientId);
                    // Topics no filter here matches ('#' and '+/+/+' do not match a '$' topic), passing through the small cache.
                    Assert.True(tree.Match("$other/" + (matches % 50)).IsEmpty);
                    matches++;
                    Interlocked.Increment(ref matchedWhileWriting);
                }
            }
            finally { Interlocked.Decrement(ref reading); }
            return matches;
        }, TaskCreationOptions.LongRunning)).ToArray();

        int rounds = await writer;
        await Task.WhenAll(readers);
        Assert.True(matchedWhileWriting >= MatchesWhileWriting);
        Assert.Equal(0, tree.Count);
        Assert.True(tree.Match(Topic).IsEmpty);
        Assert.Equal(rounds * operations.Count * 2, tree.Generation);
    }

    [Fact]
    public void Concurrent_picks_spread_round_robin_over_the_members()
    {
        var tree = new SubscriptionTree();
        var members = Enumerable.Range(0, 4).Select(i => new Session("m" + i)).ToArray();
        foreach (var m in members) tree.Add(m, Shared("g", "t"));
        var group = Assert.Single(tree.Match("t").SharedGroups);
        var counts = new int[members.Length];
        Parallel.For(0, 4000, new ParallelOptions { MaxDegreeOfParallelism = 4 }, _ =>
        {
            Assert.True(group.TryPick(static (_, _) => true, static (_, _) => true, 0, out var member));
            Interlocked.Increment(ref counts[Array.IndexOf(members, member.Key)]);
        });
        // Every pick takes its own place in the cycle: exactly a quarter each.
        Assert.All(counts, c => Assert.Equal(1000, c));
    }

    private static string Signature(IEnumerable<string> subscribers, IEnumerable<string> groups) =>
        string.Join(",", subscribers.Order(StringComparer.Ordinal)) + " | " + string.Join(",", groups.Order(StringComparer.Ordinal));
}
