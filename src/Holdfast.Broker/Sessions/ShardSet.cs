namespace Holdfast.Broker;

/// <summary>
/// The session shards one operation needs, locked together in ascending order (and released in reverse), so two
/// operations that need overlapping shards never wait for each other in a cycle. A publish needs its publisher's shard
/// and the shards of the sessions it is routed to; most other operations need one.
/// </summary>
internal struct ShardSet
{
    private ulong _shards;

    public static ShardSet Every => new() { _shards = SessionTable.ShardCount == 64 ? ulong.MaxValue : (1UL << SessionTable.ShardCount) - 1 };

    public static ShardSet Of(SessionShard shard)
    {
        var set = new ShardSet();
        set.Add(shard);
        return set;
    }

    public void Add(SessionShard shard) => _shards |= 1UL << shard.Index;

    public readonly bool IsEmpty => _shards == 0;

    public readonly bool Contains(SessionShard shard) => (_shards & (1UL << shard.Index)) != 0;

    /// <summary>The lowest shard in the set: its <see cref="SessionShard.Operation"/> records the operation.</summary>
    public readonly int Lowest => System.Numerics.BitOperations.TrailingZeroCount(_shards);

    public readonly void Enter(SessionTable table)
    {
        for (ulong rest = _shards; rest != 0; rest &= rest - 1)
            table.Shard(System.Numerics.BitOperations.TrailingZeroCount(rest)).Lock.Enter();
    }

    public readonly void Exit(SessionTable table)
    {
        for (ulong rest = _shards; rest != 0;)
        {
            int highest = System.Numerics.BitOperations.Log2(rest);
            table.Shard(highest).Lock.Exit();
            rest &= ~(1UL << highest);
        }
    }
}
