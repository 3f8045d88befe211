namespace Holdfast.Storage.RocksDb;

/// <summary>
/// How much memory the store's RocksDB may hold (config keys <c>store_write_buffer_size</c> and <c>store_cache_size</c>).
/// RocksDB's own defaults suit a database that is read a lot: 64 MiB memtables, two of them, and a 32 MiB block cache.
/// A broker's records are short-lived (written, then deleted moments later) and read only at startup and, in order, when
/// a long queue's head is refilled from its tail, so the broker gets small memtables and a small cache instead; see docs/performance.md for what each costs.
/// </summary>
public sealed class StoreOptions
{
    public const long DefaultWriteBufferSize = 8L << 20;
    public const long DefaultCacheSize = 8L << 20;

    /// <summary>The size of one memtable, where writes collect (and deletes cancel puts) before they are flushed to a
    /// table file. There are at most two: one filling while the other is flushed, so the store holds up to twice this.</summary>
    public long WriteBufferSize { get; set; } = DefaultWriteBufferSize;

    /// <summary>The LRU cache of table blocks read from disk. The broker reads its store when it loads it at startup and
    /// when it refills a queue's head from its tail, each block once and in key order, so a large cache would mostly keep
    /// blocks that are not read again.</summary>
    public long CacheSize { get; set; } = DefaultCacheSize;
}
