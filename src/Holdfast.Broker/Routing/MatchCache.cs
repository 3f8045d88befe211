using System.Diagnostics.CodeAnalysis;
using System.Numerics;

namespace Holdfast.Broker.Routing;

/// <summary>
/// Recent match results by topic, in a fixed number of slots (one per topic hash, a newer topic evicting an older one
/// in the same slot), so the cache never grows past its size and needs no sweeping. Each entry carries the tree's
/// generation it was computed at; the tree bumps the generation on every change, so an entry from before a change is
/// never returned. Lock-free: a slot is replaced whole, and a reader sees either the old entry or the new one.
/// </summary>
internal sealed class MatchCache
{
    /// <summary>One topic's result at one generation. Immutable.</summary>
    internal sealed class Entry(string topic, long generation, MatchResult result)
    {
        public readonly string Topic = topic;
        public readonly long Generation = generation;
        public readonly MatchResult Result = result;
    }

    private readonly Entry?[] _slots;
    private readonly int _mask;

    /// <param name="size">Rounded up to a power of two.</param>
    public MatchCache(int size)
    {
        int slots = (int)BitOperations.RoundUpToPowerOf2((uint)Math.Max(1, size));
        _slots = new Entry?[slots];
        _mask = slots - 1;
    }

    public int Size => _slots.Length;

    public bool TryGet(string topic, long generation, [NotNullWhen(true)] out Entry? entry)
    {
        entry = Volatile.Read(ref _slots[Slot(topic)]);
        if (entry is not null && entry.Generation == generation && string.Equals(entry.Topic, topic, StringComparison.Ordinal)) return true;
        entry = null;
        return false;
    }

    /// <summary>Keeps a result; returns its entry, or null when it was not kept.</summary>
    public Entry? Add(string topic, long generation, MatchResult result)
    {
        ref var slot = ref _slots[Slot(topic)];
        // A walk that finished after a change must not push out the result of a walk made after it.
        if (Volatile.Read(ref slot) is { } current && current.Generation > generation) return null;
        var entry = new Entry(topic, generation, result);
        Volatile.Write(ref slot, entry);
        return entry;
    }

    private int Slot(string topic) => topic.GetHashCode() & _mask;
}
