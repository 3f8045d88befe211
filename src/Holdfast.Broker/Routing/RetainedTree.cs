namespace Holdfast.Broker.Routing;

/// <summary>
/// The last retained message per topic, in a trie with one node per topic level, so a SUBSCRIBE walks only the branches
/// its filter can match ('+' one level, '#' all below) and an exact filter is one path; never every retained message.
/// Safe for concurrent use: changes take the writer side of its own lock, matches the reader side; expired messages met
/// by a match are removed after it, under the writer side.
/// </summary>
[System.Diagnostics.CodeAnalysis.SuppressMessage("Design", "CA1001:Types that own disposable fields should be disposable", Justification = "Its ReaderWriterLockSlim lives as long as the broker; Dispose would only free lazily made, finalizable wait events.")]
internal sealed class RetainedTree
{
    private sealed class Node
    {
        public readonly Dictionary<string, Node> Children = new(StringComparer.Ordinal);
        public readonly Dictionary<string, Node>.AlternateLookup<ReadOnlySpan<char>> ChildrenBySpan;
        public Message? Message;

        public Node() => ChildrenBySpan = Children.GetAlternateLookup<ReadOnlySpan<char>>();

        public bool IsEmpty => Message is null && Children.Count == 0;
    }

    private readonly Node _root = new();
    private readonly ReaderWriterLockSlim _lock = new(LockRecursionPolicy.NoRecursion);
    private int _count;
    private long _bytes;

    public int Count => Volatile.Read(ref _count);

    /// <summary>Sum of the retained messages' <see cref="Message.Size"/>, kept as they change.</summary>
    public long Bytes => Volatile.Read(ref _bytes);

    /// <summary>Sets or replaces; an empty payload clears the topic [MQTT-3.3.1-6]. Returns the message it replaced or
    /// cleared (its stored body may be released).</summary>
    public Message? Set(Message message)
    {
        _lock.EnterWriteLock();
        try
        {
            if (message.Payload.IsEmpty) return RemoveLocked(message.Topic, expected: null);
            var node = _root;
            var rest = message.Topic.AsSpan();
            while (true)
            {
                int slash = rest.IndexOf('/');
                var level = slash < 0 ? rest : rest[..slash];
                // The span lookup finds a level already there without making a string for it.
                if (!node.ChildrenBySpan.TryGetValue(level, out var child)) node.Children[level.ToString()] = child = new Node();
                node = child;
                if (slash < 0) break;
                rest = rest[(slash + 1)..];
            }
            var previous = node.Message;
            if (previous is not null) { _bytes -= previous.Size; _count--; }
            node.Message = message;
            _bytes += message.Size;
            _count++;
            return previous;
        }
        finally { _lock.ExitWriteLock(); }
    }

    /// <summary>Retained messages matching a (plain) filter; expired ones are removed on the way.</summary>
    public List<Message> Match(string filter, long now)
    {
        var result = new List<Message>();
        List<Message>? expired = null;
        _lock.EnterReadLock();
        try
        {
            // Topics beginning with '$' are not matched by a filter beginning with a wildcard [MQTT-4.7.2-1].
            MatchLevel(_root, filter.AsSpan(), atRoot: true, now, result, ref expired);
        }
        finally { _lock.ExitReadLock(); }

        if (expired is not null)
        {
            _lock.EnterWriteLock();
            try
            {
                // Only the message that expired: one retained in its place meanwhile stays.
                foreach (var message in expired) RemoveLocked(message.Topic, message);
            }
            finally { _lock.ExitWriteLock(); }
        }
        return result;
    }

    /// <summary>A copy of every retained message (for inspection; a subscriber's match walks only what it needs).</summary>
    public IReadOnlyList<Message> All
    {
        get
        {
            var all = new List<Message>(Count);
            _lock.EnterReadLock();
            try { CollectAll(_root, all); }
            finally { _lock.ExitReadLock(); }
            return all;
        }
    }

    private static void MatchLevel(Node node, ReadOnlySpan<char> filter, bool atRoot, long now, List<Message> result, ref List<Message>? expired)
    {
        int slash = filter.IndexOf('/');
        var level = slash < 0 ? filter : filter[..slash];
        bool last = slash < 0;
        var rest = last ? default : filter[(slash + 1)..];

        if (level is "#")
        {
            // '#' also matches the parent level ("a/#" matches "a"); the root holds no topic.
            if (!atRoot) Take(node, now, result, ref expired);
            foreach (var (name, child) in node.Children)
                if (!(atRoot && IsDollar(name))) TakeAll(child, now, result, ref expired);
            return;
        }
        if (level is "+")
        {
            foreach (var (name, child) in node.Children)
            {
                if (atRoot && IsDollar(name)) continue;
                Next(child, last, rest, now, result, ref expired);
            }
            return;
        }
        if (node.ChildrenBySpan.TryGetValue(level, out var exact)) Next(exact, last, rest, now, result, ref expired);
    }

    private static void Next(Node child, bool last, ReadOnlySpan<char> rest, long now, List<Message> result, ref List<Message>? expired)
    {
        if (last) Take(child, now, result, ref expired);
        else MatchLevel(child, rest, atRoot: false, now, result, ref expired);
    }

    private static bool IsDollar(string level) => level.Length > 0 && level[0] == '$';

    private static void Take(Node node, long now, List<Message> result, ref List<Message>? expired)
    {
        if (node.Message is not { } message) return;
        if (message.IsExpired(now)) (expired ??= []).Add(message);
        else result.Add(message);
    }

    private static void TakeAll(Node node, long now, List<Message> result, ref List<Message>? expired)
    {
        Take(node, now, result, ref expired);
        foreach (var child in node.Children.Values) TakeAll(child, now, result, ref expired);
    }

    private static void CollectAll(Node node, List<Message> all)
    {
        if (node.Message is { } message) all.Add(message);
        foreach (var child in node.Children.Values) CollectAll(child, all);
    }

    /// <summary>Clears a topic (only if it still holds <paramref name="expected"/>, when given) and prunes the branches
    /// left empty, so the trie does not grow with every topic ever retained. Under the writer lock.</summary>
    private Message? RemoveLocked(string topic, Message? expected)
    {
        var path = new List<(Node Parent, string Level)>();
        var node = _root;
        foreach (var level in topic.Split('/'))
        {
            if (!node.Children.TryGetValue(level, out var child)) return null;
            path.Add((node, level));
            node = child;
        }
        if (node.Message is not { } old || (expected is not null && !ReferenceEquals(old, expected))) return null;
        node.Message = null;
        _bytes -= old.Size;
        _count--;
        for (int i = path.Count - 1; i >= 0 && node.IsEmpty; i--)
        {
            var (parent, level) = path[i];
            parent.Children.Remove(level);
            node = parent;
        }
        return old;
    }
}
