using System.Collections.Immutable;

namespace Holdfast.Broker.Routing;

/// <summary>
/// The subscription trie: one node per topic level, with '+' and '#' children kept apart so a publish visits only the
/// branches that can match it (work proportional to matching levels, never to all sessions).
///
/// Safe for concurrent use, in the manner of the NATS server's sublist: adds and removes take the writer side of its
/// own lock; a match first looks in a bounded cache of recent results by topic (no lock, no allocation), and on a miss
/// walks the trie under the reader side, so many publishers match at once. Every add and remove bumps a generation that
/// the cached results carry, so a result from before a change is never returned.
/// </summary>
[System.Diagnostics.CodeAnalysis.SuppressMessage("Design", "CA1001:Types that own disposable fields should be disposable", Justification = "Its ReaderWriterLockSlim lives as long as the broker; Dispose would only free lazily made, finalizable wait events.")]
internal sealed class SubscriptionTree
{
    /// <summary>As NATS's slCacheMax: enough for the topics a broker publishes to most, small enough to bound memory.</summary>
    public const int DefaultCacheSize = 1024;

    private sealed class Node
    {
        public readonly Dictionary<string, Node> Children = new(StringComparer.Ordinal);
        public readonly Dictionary<string, Node>.AlternateLookup<ReadOnlySpan<char>> ChildrenBySpan;
        public Node? Plus;
        public Node? Hash;
        public Dictionary<Session, Subscription>? Subscribers;
        public Dictionary<string, SharedGroup>? SharedGroups;

        public Node() => ChildrenBySpan = Children.GetAlternateLookup<ReadOnlySpan<char>>();

        public bool IsEmpty => Children.Count == 0 && Plus is null && Hash is null
            && (Subscribers is null || Subscribers.Count == 0) && (SharedGroups is null || SharedGroups.Count == 0);
    }

    /// <summary>Where a walk gathers what it finds before the result is made; one per thread, so a miss allocates only
    /// the result it returns.</summary>
    private sealed class Scratch
    {
        public readonly List<KeyValuePair<Session, Subscription>> Subscribers = [];
        public readonly List<SharedGroup> SharedGroups = [];
        /// <summary>Nodes the subscribers came from: a session is at most once in each.</summary>
        public int SubscriberNodes;
    }

    [ThreadStatic] private static Scratch? _scratch;

    private readonly Node _root = new();
    private readonly ReaderWriterLockSlim _lock = new(LockRecursionPolicy.NoRecursion);
    private readonly MatchCache? _cache;
    private long _generation;
    private int _count;
    private int _sharedCount;

    /// <param name="cacheSize">Results kept, by topic; 0 keeps none (every match walks the trie).</param>
    public SubscriptionTree(int cacheSize = DefaultCacheSize) => _cache = cacheSize > 0 ? new MatchCache(cacheSize) : null;

    /// <summary>Subscriptions held, plain and shared members alike.</summary>
    public int Count => Volatile.Read(ref _count);

    /// <summary>Of <see cref="Count"/>, the members of shared subscriptions.</summary>
    public int SharedCount => Volatile.Read(ref _sharedCount);

    /// <summary>Bumped by every add and remove; a match result belongs to one generation.</summary>
    public long Generation => Volatile.Read(ref _generation);

    /// <summary>Adds a session's subscription, or replaces the one it has with the same filter (and share group).</summary>
    public void Add(Session session, Subscription subscription)
    {
        _lock.EnterWriteLock();
        try
        {
            var node = _root;
            foreach (var level in subscription.MatchFilter.Split('/'))
            {
                node = level switch
                {
                    "+" => node.Plus ??= new Node(),
                    "#" => node.Hash ??= new Node(),
                    _ => node.Children.TryGetValue(level, out var child) ? child : node.Children[level] = new Node(),
                };
            }
            if (subscription.ShareGroup is { } groupName)
            {
                node.SharedGroups ??= new(StringComparer.Ordinal);
                if (!node.SharedGroups.TryGetValue(groupName, out var group))
                    node.SharedGroups[groupName] = group = new SharedGroup(groupName, subscription.MatchFilter);
                if (group.Set(session, subscription)) { _count++; _sharedCount++; }
            }
            else
            {
                node.Subscribers ??= [];
                if (node.Subscribers.TryAdd(session, subscription)) _count++;
                else node.Subscribers[session] = subscription;
            }
            Changed();
        }
        finally { _lock.ExitWriteLock(); }
    }

    /// <summary>Removes a session's subscription with the filter (and share group) of <paramref name="subscription"/>.</summary>
    public bool Remove(Session session, Subscription subscription)
    {
        _lock.EnterWriteLock();
        try
        {
            var path = new List<(Node Parent, string Level)>();
            var node = _root;
            foreach (var level in subscription.MatchFilter.Split('/'))
            {
                path.Add((node, level));
                Node? next = level switch { "+" => node.Plus, "#" => node.Hash, _ => node.Children.GetValueOrDefault(level) };
                if (next is null) return false;
                node = next;
            }
            bool removed;
            if (subscription.ShareGroup is { } groupName)
            {
                SharedGroup? group = null;
                removed = node.SharedGroups?.TryGetValue(groupName, out group) == true && group!.Remove(session);
                // A match made earlier may still hold the emptied group; its picks then find nobody, which is right for
                // a message published before the last member left.
                if (removed && group!.Members.IsEmpty) node.SharedGroups!.Remove(groupName);
                if (removed) _sharedCount--;
            }
            else
            {
                removed = node.Subscribers?.Remove(session) == true;
            }
            if (!removed) return false;
            _count--;
            // Prune empty branches so the tree does not grow with every filter ever used.
            for (int i = path.Count - 1; i >= 0 && node.IsEmpty; i--)
            {
                var (parent, level) = path[i];
                if (level == "+") parent.Plus = null;
                else if (level == "#") parent.Hash = null;
                else parent.Children.Remove(level);
                node = parent;
            }
            Changed();
            return true;
        }
        finally { _lock.ExitWriteLock(); }
    }

    /// <summary>The plain subscriptions and the shared groups matching a topic name. Allocates nothing when the topic's
    /// result is cached and nothing changed since.</summary>
    public MatchResult Match(string topic)
    {
        MatchCache.Entry? none = null;
        return Match(topic, ref none);
    }

    /// <summary>As <see cref="Match(string)"/>, for a caller that keeps the entry of its last match in
    /// <paramref name="last"/>: the same topic again, nothing changed since, is answered from there without looking the
    /// topic up in the cache (which hashes it). <paramref name="last"/> is replaced whole, so it may be shared between
    /// threads.</summary>
    public MatchResult Match(string topic, ref MatchCache.Entry? last)
    {
        long current = Volatile.Read(ref _generation);
        if (last is { } known && known.Generation == current && string.Equals(known.Topic, topic, StringComparison.Ordinal)) return known.Result;
        if (_cache is not null && _cache.TryGet(topic, current, out var cached))
        {
            last = cached;
            return cached.Result;
        }

        var scratch = _scratch ??= new Scratch();
        long generation;
        MatchResult result;
        _lock.EnterReadLock();
        try
        {
            // Read under the lock: no change can land between this and the walk, so the result is of this generation.
            generation = _generation;
            // Topics beginning with '$' are not matched by a filter beginning with a wildcard [MQTT-4.7.2-1].
            bool dollar = topic.Length > 0 && topic[0] == '$';
            MatchLevel(_root, topic.AsSpan(), dollar, scratch);
        }
        finally { _lock.ExitReadLock(); }
        try
        {
            result = scratch.Subscribers.Count == 0 && scratch.SharedGroups.Count == 0
                ? MatchResult.Empty
                : new MatchResult([.. scratch.Subscribers], [.. scratch.SharedGroups], sessionsMayRepeat: scratch.SubscriberNodes > 1);
        }
        finally
        {
            scratch.Subscribers.Clear();
            scratch.SharedGroups.Clear();
            scratch.SubscriberNodes = 0;
        }
        last = _cache?.Add(topic, generation, result);
        return result;
    }

    /// <summary>Under the writer lock, after the trie changed: every cached result is now stale.</summary>
    private void Changed() => Volatile.Write(ref _generation, _generation + 1);

    private static void MatchLevel(Node node, ReadOnlySpan<char> rest, bool skipWildcards, Scratch found)
    {
        int slash = rest.IndexOf('/');
        var level = slash < 0 ? rest : rest[..slash];
        bool last = slash < 0;
        var remainder = last ? default : rest[(slash + 1)..];

        if (!skipWildcards)
        {
            // '#' matches this level and everything below it, including the parent level itself.
            if (node.Hash is { } hash) Collect(hash, found);
            if (node.Plus is { } plus)
            {
                if (last) { Collect(plus, found); if (plus.Hash is { } ph) Collect(ph, found); }
                else MatchLevel(plus, remainder, false, found);
            }
        }
        if (node.ChildrenBySpan.TryGetValue(level, out var child))
        {
            if (last) { Collect(child, found); if (child.Hash is { } ch) Collect(ch, found); }
            else MatchLevel(child, remainder, false, found);
        }
    }

    private static void Collect(Node node, Scratch found)
    {
        if (node.Subscribers is { Count: > 0 } subs)
        {
            found.Subscribers.AddRange(subs);
            found.SubscriberNodes++;
        }
        if (node.SharedGroups is { } groups) found.SharedGroups.AddRange(groups.Values);
    }
}
