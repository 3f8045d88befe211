namespace Holdfast.Broker;

/// <summary>
/// The broker's sessions by client id, in <see cref="ShardCount"/> shards, each with its own lock: a session lives in the
/// shard its client id hashes to. An operation on one session (an acknowledgement, a SUBSCRIBE, a CONNECT) takes one
/// shard's lock; a publish takes the locks of the shards its publisher and subscribers live in (<see cref="ShardSet"/>),
/// so publishers whose subscribers live in other shards do not wait for each other.
/// </summary>
internal sealed class SessionTable
{
    /// <summary>A power of two, at most 64 (<see cref="ShardSet"/> is a 64-bit mask). More shards let more publishers run
    /// side by side; a publish fanned out to many sessions takes more locks.</summary>
    public const int ShardCount = 16;

    private readonly SessionShard[] _shards;

    public SessionTable(Storage.IBrokerStore store) => _shards = [.. Enumerable.Range(0, ShardCount).Select(i => new SessionShard(i, store))];

    public IReadOnlyList<SessionShard> Shards => _shards;

    public SessionShard Shard(int index) => _shards[index];

    /// <summary>Queued bytes of every session, summed without the shards' locks: each shard's count is read whole (a
    /// 64-bit read), so the sum is at most a few messages stale, which a quota can bear.</summary>
    public long QueuedBytesTotal()
    {
        long sum = 0;
        foreach (var shard in _shards) sum += Volatile.Read(ref shard.Totals.QueuedBytes);
        return sum;
    }

    /// <summary>The shard of a client id. Also of a retained topic: a retained publish takes its topic's shard lock too, so
    /// two publishes to one topic set its retained message and record it in the same order.</summary>
    public SessionShard ShardOf(string name) => _shards[ShardIndexOf(name)];

    /// <summary>Which shard a client id (or retained topic) lives in, in this process (string hashes differ between runs).</summary>
    internal static int ShardIndexOf(string name) => StringComparer.Ordinal.GetHashCode(name) & (ShardCount - 1);
}
