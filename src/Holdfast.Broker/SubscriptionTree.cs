namespace Holdfast.Broker;

/// <summary>
/// The subscription trie: one node per topic level, with '+' and '#' children kept apart so a publish
/// visits only the branches that can match it (work proportional to matching levels, never to all
/// sessions). Not thread-safe: the broker calls it under its lock.
/// </summary>
public sealed class SubscriptionTree
{
    private sealed class Node
    {
        public readonly Dictionary<string, Node> Children = new(StringComparer.Ordinal);
        public Dictionary<string, Node>.AlternateLookup<ReadOnlySpan<char>> ChildrenBySpan;
        public Node? Plus;
        public Node? Hash;
        public Dictionary<Session, Subscription>? Subscribers;
        public Dictionary<string, SharedGroup>? SharedGroups;

        public Node() => ChildrenBySpan = Children.GetAlternateLookup<ReadOnlySpan<char>>();

        public bool IsEmpty => Children.Count == 0 && Plus is null && Hash is null
            && (Subscribers is null || Subscribers.Count == 0) && (SharedGroups is null || SharedGroups.Count == 0);
    }

    private readonly Node _root = new();

    public int Count { get; private set; }

    public void Add(Session session, Subscription subscription)
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
            if (group.Set(session, subscription)) Count++;
        }
        else
        {
            node.Subscribers ??= [];
            if (node.Subscribers.TryAdd(session, subscription)) Count++;
            else node.Subscribers[session] = subscription;
        }
    }

    public bool Remove(Session session, Subscription subscription)
    {
        var path = new List<(Node parent, string level)>();
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
            removed = node.SharedGroups?.TryGetValue(groupName, out var group) == true && group.Remove(session);
            if (removed && node.SharedGroups![groupName].Members.Count == 0) node.SharedGroups.Remove(groupName);
        }
        else
        {
            removed = node.Subscribers?.Remove(session) == true;
        }
        if (!removed) return false;
        Count--;
        // Prune empty branches so the tree does not grow with every filter ever used.
        for (int i = path.Count - 1; i >= 0 && node.IsEmpty; i--)
        {
            var (parent, level) = path[i];
            if (level == "+") parent.Plus = null;
            else if (level == "#") parent.Hash = null;
            else parent.Children.Remove(level);
            node = parent;
        }
        return true;
    }

    /// <summary>Collects the plain subscriptions and the shared groups matching a topic name.</summary>
    public void Match(string topic, List<KeyValuePair<Session, Subscription>> subscribers, List<SharedGroup> sharedGroups)
    {
        // Topics beginning with '$' are not matched by a filter beginning with a wildcard [MQTT-4.7.2-1].
        bool dollar = topic.Length > 0 && topic[0] == '$';
        MatchLevel(_root, topic.AsSpan(), dollar, subscribers, sharedGroups);
    }

    private static void MatchLevel(Node node, ReadOnlySpan<char> rest, bool skipWildcards,
        List<KeyValuePair<Session, Subscription>> subscribers, List<SharedGroup> sharedGroups)
    {
        int slash = rest.IndexOf('/');
        var level = slash < 0 ? rest : rest[..slash];
        bool last = slash < 0;
        var remainder = last ? default : rest[(slash + 1)..];

        if (!skipWildcards)
        {
            // '#' matches this level and everything below it, including the parent level itself.
            if (node.Hash is { } hash) Collect(hash, subscribers, sharedGroups);
            if (node.Plus is { } plus)
            {
                if (last) { Collect(plus, subscribers, sharedGroups); if (plus.Hash is { } ph) Collect(ph, subscribers, sharedGroups); }
                else MatchLevel(plus, remainder, false, subscribers, sharedGroups);
            }
        }
        if (node.ChildrenBySpan.TryGetValue(level, out var child))
        {
            if (last) { Collect(child, subscribers, sharedGroups); if (child.Hash is { } ch) Collect(ch, subscribers, sharedGroups); }
            else MatchLevel(child, remainder, false, subscribers, sharedGroups);
        }
    }

    private static void Collect(Node node, List<KeyValuePair<Session, Subscription>> subscribers, List<SharedGroup> sharedGroups)
    {
        if (node.Subscribers is { } subs) subscribers.AddRange(subs);
        if (node.SharedGroups is { } groups) sharedGroups.AddRange(groups.Values);
    }
}

/// <summary>The members of one <c>$share/group/filter</c>. Each message goes to one member.</summary>
public sealed class SharedGroup(string name, string filter)
{
    private int _next;

    public string Name { get; } = name;
    public string Filter { get; } = filter;
    public List<KeyValuePair<Session, Subscription>> Members { get; } = [];

    internal bool Set(Session session, Subscription subscription)
    {
        int i = Members.FindIndex(m => m.Key == session);
        if (i >= 0) { Members[i] = new(session, subscription); return false; }
        Members.Add(new(session, subscription));
        return true;
    }

    internal bool Remove(Session session) => Members.RemoveAll(m => m.Key == session) > 0;

    /// <summary>Round-robin over the members <paramref name="mayReceive"/> accepts for <paramref name="topic"/>, preferring
    /// connected ones whose inflight window has room, then any connected one, then anyone (an offline persistent member queues
    /// the message rather than losing it); when it accepts none, any member. The caller decides who may receive what (the
    /// tree knows nothing of access control); passing the topic lets it use one cached delegate, with no allocation.</summary>
    public KeyValuePair<Session, Subscription> Pick(Func<Session, string, bool> mayReceive, string topic)
    {
        int n = Members.Count;
        for (int pass = 0; pass < 4; pass++)
        {
            for (int i = 0; i < n; i++)
            {
                var candidate = Members[(_next + i) % n];
                bool ok = pass switch
                {
                    0 => candidate.Key.IsConnected && candidate.Key.HasInflightRoom && mayReceive(candidate.Key, topic),
                    1 => candidate.Key.IsConnected && mayReceive(candidate.Key, topic),
                    2 => mayReceive(candidate.Key, topic),
                    _ => true,
                };
                if (ok) { _next = (_next + i + 1) % n; return candidate; }
            }
        }
        throw new InvalidOperationException("empty shared group");
    }
}
