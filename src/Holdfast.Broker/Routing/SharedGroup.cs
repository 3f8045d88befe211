using System.Collections.Immutable;
using System.Runtime.InteropServices;

namespace Holdfast.Broker.Routing;

/// <summary>The members of one <c>$share/group/filter</c>. Each message goes to one member.
/// Safe to pick from on many threads at once: the member list is replaced whole (copy-on-write, under the tree's
/// writer lock), so a picker reads one consistent list; the round-robin position moves by Interlocked.</summary>
internal sealed class SharedGroup(string name, string filter)
{
    // Never changed once published: a change writes a new array.
    private KeyValuePair<Session, Subscription>[] _members = [];
    private int _next;

    public string Name { get; } = name;
    public string Filter { get; } = filter;
    public ImmutableArray<KeyValuePair<Session, Subscription>> Members => ImmutableCollectionsMarshal.AsImmutableArray(Volatile.Read(ref _members));

    /// <summary>Adds a member or replaces its subscription; true when it is new. Called under the tree's writer lock.</summary>
    internal bool Set(Session session, Subscription subscription)
    {
        var members = Members;
        for (int i = 0; i < members.Length; i++)
            if (members[i].Key == session)
            {
                Replace(members.SetItem(i, new(session, subscription)));
                return false;
            }
        Replace(members.Add(new(session, subscription)));
        return true;
    }

    /// <summary>Called under the tree's writer lock.</summary>
    internal bool Remove(Session session)
    {
        var members = Members;
        for (int i = 0; i < members.Length; i++)
            if (members[i].Key == session)
            {
                Replace(members.RemoveAt(i));
                return true;
            }
        return false;
    }

    private void Replace(ImmutableArray<KeyValuePair<Session, Subscription>> members) =>
        Volatile.Write(ref _members, ImmutableCollectionsMarshal.AsArray(members)!);

    /// <summary>Round-robin over the members <paramref name="eligible"/> allows, preferring connected ones whose inflight
    /// window has room and that <paramref name="mayReceive"/> accepts, then any connected one it accepts, then any it
    /// accepts (an offline persistent member queues the message rather than losing it); when it accepts none, any eligible
    /// member. The caller decides who may receive what (the tree knows nothing of access control) and who it can deliver
    /// to now (the members whose sessions it holds locked); the state argument lets it pass static delegates, with no
    /// allocation. False when no member is eligible: a match made before the last member unsubscribed can still hold it.</summary>
    public bool TryPick<TState>(Func<Session, TState, bool> eligible, Func<Session, TState, bool> mayReceive, TState state,
        out KeyValuePair<Session, Subscription> member)
    {
        var members = Members;
        int n = members.Length;
        if (n == 0) { member = default; return false; }
        // Each pick takes its own starting place, so concurrent picks spread over the members.
        int start = Interlocked.Increment(ref _next) - 1;
        for (int pass = 0; pass < 4; pass++)
        {
            for (int i = 0; i < n; i++)
            {
                var candidate = members[(int)((uint)(start + i) % (uint)n)];
                var session = candidate.Key;
                if (!eligible(session, state)) continue;
                bool ok = pass switch
                {
                    0 => session.IsConnected && session.HasInflightRoom && mayReceive(session, state),
                    1 => session.IsConnected && mayReceive(session, state),
                    2 => mayReceive(session, state),
                    _ => true,
                };
                if (!ok) continue;
                // The next pick starts after the chosen member, not after the one skipped, unless another pick moved on.
                if (i > 0) Interlocked.CompareExchange(ref _next, start + i + 1, start + 1);
                member = candidate;
                return true;
            }
        }
        member = default;
        return false;
    }
}
