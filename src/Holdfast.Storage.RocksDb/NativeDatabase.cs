using System.Runtime.InteropServices;

namespace Holdfast.Storage.RocksDb;

/// <summary>A RocksDB call failed; the message is RocksDB's own.</summary>
public sealed class RocksDbException(string message) : Exception(message);

/// <summary>
/// An open RocksDB database, through the forty functions of RocksDB's C API that the store calls, bound with
/// [DllImport] to the librocksdb that the RocksDB package ships. The package's own binding, RocksDbSharp, is not used:
/// on first use it generates, with Reflection.Emit, a class holding all of its 2,100-odd C functions, and that class
/// held about 35 MB of an idle broker's memory (docs/performance.md, idle memory).
/// </summary>
internal sealed partial class NativeDatabase : IDisposable
{
    private const string Library = "rocksdb";
    // rocksdb_tolerate_corrupted_tail_records_recovery in c.h.
    private const int TolerateCorruptedTailRecords = 0;

    private nint _db;
    private readonly nint _readOptions = rocksdb_readoptions_create();
    private readonly nint _synced = rocksdb_writeoptions_create();
    private readonly nint _unsynced = rocksdb_writeoptions_create();

    private NativeDatabase(nint db)
    {
        _db = db;
        rocksdb_writeoptions_set_sync(_synced, 1);
        rocksdb_writeoptions_set_sync(_unsynced, 0);
    }

    /// <summary>Opens (or creates) the database in <paramref name="path"/> with the store's options.</summary>
    public static NativeDatabase Open(string path, StoreOptions sizes)
    {
        nint options = rocksdb_options_create();
        nint table = rocksdb_block_based_options_create();
        nint cache = rocksdb_cache_create_lru((nuint)sizes.CacheSize);
        try
        {
            rocksdb_options_set_create_if_missing(options, 1);
            rocksdb_options_set_paranoid_checks(options, 1);
            // A torn last record is what a kill leaves and is dropped; damage before it stops the open, where RocksDB's
            // default would stop replaying there and silently lose every acknowledged change after it.
            rocksdb_options_set_wal_recovery_mode(options, TolerateCorruptedTailRecords);
            // One memtable filling, one being flushed: writes stall only if the flush falls behind.
            rocksdb_options_set_write_buffer_size(options, (nuint)sizes.WriteBufferSize);
            rocksdb_options_set_max_write_buffer_number(options, 2);
            rocksdb_block_based_options_set_block_cache(table, cache);
            rocksdb_options_set_block_based_table_factory(options, table);
            nint error = 0;
            nint db = rocksdb_open(options, path, ref error);
            ThrowIfError(error);
            return new NativeDatabase(db);
        }
        finally
        {
            // The database keeps its own copies (the cache is shared by reference), so these can go at once.
            rocksdb_cache_destroy(cache);
            rocksdb_block_based_options_destroy(table);
            rocksdb_options_destroy(options);
        }
    }

    /// <summary>The value stored under <paramref name="key"/>, or null.</summary>
    public byte[]? Get(byte[] key)
    {
        nint error = 0;
        nint value = rocksdb_get(_db, _readOptions, key, (nuint)key.Length, out nuint length, ref error);
        ThrowIfError(error);
        if (value == 0) return null;
        try
        {
            return Copy(value, length);
        }
        finally
        {
            rocksdb_free(value);
        }
    }

    /// <summary>Applies puts, deletes (<see cref="StoreOp.Value"/> null) and range deletes (<see cref="StoreOp.RangeEnd"/>)
    /// as one atomic batch; with <paramref name="sync"/> the write-ahead log is fsync'd before this returns.</summary>
    public void Write(IReadOnlyList<StoreOp> ops, bool sync)
    {
        nint batch = rocksdb_writebatch_create();
        try
        {
            foreach (var op in ops)
            {
                if (op.Value is { } value) rocksdb_writebatch_put(batch, op.Key, (nuint)op.Key.Length, value, (nuint)value.Length);
                else if (op.RangeEnd is { } end) rocksdb_writebatch_delete_range(batch, op.Key, (nuint)op.Key.Length, end, (nuint)end.Length);
                else rocksdb_writebatch_delete(batch, op.Key, (nuint)op.Key.Length);
            }
            nint error = 0;
            rocksdb_write(_db, sync ? _synced : _unsynced, batch, ref error);
            ThrowIfError(error);
        }
        finally
        {
            rocksdb_writebatch_destroy(batch);
        }
    }

    public Iterator NewIterator() => new(rocksdb_create_iterator(_db, _readOptions));

    /// <summary>Writes the memtables to table files and waits for it.</summary>
    public void Flush()
    {
        nint options = rocksdb_flushoptions_create();
        try
        {
            rocksdb_flushoptions_set_wait(options, 1);
            nint error = 0;
            rocksdb_flush(_db, options, ref error);
            ThrowIfError(error);
        }
        finally
        {
            rocksdb_flushoptions_destroy(options);
        }
    }

    public void Dispose()
    {
        if (_db == 0) return;
        rocksdb_close(_db);
        _db = 0;
        rocksdb_readoptions_destroy(_readOptions);
        rocksdb_writeoptions_destroy(_synced);
        rocksdb_writeoptions_destroy(_unsynced);
    }

    /// <summary>Walks the database in key order. A read error ends the walk like its end does (<see cref="Valid"/>
    /// false): <see cref="ThrowIfFailed"/> tells them apart.</summary>
    public sealed class Iterator(nint handle) : IDisposable
    {
        private nint _handle = handle;

        public void Seek(byte[] key) => rocksdb_iter_seek(_handle, key, (nuint)key.Length);

        public bool Valid() => rocksdb_iter_valid(_handle) != 0;

        public void Next() => rocksdb_iter_next(_handle);

        public byte[] Key() => Copy(rocksdb_iter_key(_handle, out nuint length), length);

        public byte[] Value() => Copy(rocksdb_iter_value(_handle, out nuint length), length);

        public void ThrowIfFailed()
        {
            nint error = 0;
            rocksdb_iter_get_error(_handle, ref error);
            ThrowIfError(error);
        }

        public void Dispose()
        {
            if (_handle == 0) return;
            rocksdb_iter_destroy(_handle);
            _handle = 0;
        }
    }

    private static byte[] Copy(nint data, nuint length)
    {
        var bytes = new byte[checked((int)length)];
        Marshal.Copy(data, bytes, 0, bytes.Length);
        return bytes;
    }

    private static void ThrowIfError(nint error)
    {
        if (error == 0) return;
        string message = Marshal.PtrToStringUTF8(error) ?? "unknown RocksDB error";
        rocksdb_free(error);
        throw new RocksDbException(message);
    }

    // RocksDB's C API (include/rocksdb/c.h). Handles are opaque pointers. An error comes back through the last argument
    // as a string RocksDB allocated; the argument must point at null on the way in (RocksDB frees what is there).
    // Byte arrays are pinned for the duration of a call, and RocksDB copies what it keeps.
    [DllImport(Library)] private static extern nint rocksdb_options_create();
    [DllImport(Library)] private static extern void rocksdb_options_destroy(nint options);
    [DllImport(Library)] private static extern void rocksdb_options_set_create_if_missing(nint options, byte value);
    [DllImport(Library)] private static extern void rocksdb_options_set_paranoid_checks(nint options, byte value);
    [DllImport(Library)] private static extern void rocksdb_options_set_wal_recovery_mode(nint options, int mode);
    [DllImport(Library)] private static extern void rocksdb_options_set_write_buffer_size(nint options, nuint bytes);
    [DllImport(Library)] private static extern void rocksdb_options_set_max_write_buffer_number(nint options, int count);
    [DllImport(Library)] private static extern void rocksdb_options_set_block_based_table_factory(nint options, nint table);
    [DllImport(Library)] private static extern nint rocksdb_block_based_options_create();
    [DllImport(Library)] private static extern void rocksdb_block_based_options_destroy(nint table);
    [DllImport(Library)] private static extern void rocksdb_block_based_options_set_block_cache(nint table, nint cache);
    [DllImport(Library)] private static extern nint rocksdb_cache_create_lru(nuint capacity);
    [DllImport(Library)] private static extern void rocksdb_cache_destroy(nint cache);
    [DllImport(Library)] private static extern nint rocksdb_open(nint options, [MarshalAs(UnmanagedType.LPUTF8Str)] string name, ref nint error);
    [DllImport(Library)] private static extern void rocksdb_close(nint db);
    [DllImport(Library)] private static extern nint rocksdb_readoptions_create();
    [DllImport(Library)] private static extern void rocksdb_readoptions_destroy(nint options);
    [DllImport(Library)] private static extern nint rocksdb_writeoptions_create();
    [DllImport(Library)] private static extern void rocksdb_writeoptions_destroy(nint options);
    [DllImport(Library)] private static extern void rocksdb_writeoptions_set_sync(nint options, byte value);
    [DllImport(Library)] private static extern nint rocksdb_get(nint db, nint options, byte[] key, nuint keyLength, out nuint valueLength, ref nint error);
    [DllImport(Library)] private static extern nint rocksdb_writebatch_create();
    [DllImport(Library)] private static extern void rocksdb_writebatch_destroy(nint batch);
    [DllImport(Library)] private static extern void rocksdb_writebatch_put(nint batch, byte[] key, nuint keyLength, byte[] value, nuint valueLength);
    [DllImport(Library)] private static extern void rocksdb_writebatch_delete(nint batch, byte[] key, nuint keyLength);
    [DllImport(Library)] private static extern void rocksdb_writebatch_delete_range(nint batch, byte[] startKey, nuint startKeyLength, byte[] endKey, nuint endKeyLength);
    [DllImport(Library)] private static extern void rocksdb_write(nint db, nint options, nint batch, ref nint error);
    [DllImport(Library)] private static extern nint rocksdb_flushoptions_create();
    [DllImport(Library)] private static extern void rocksdb_flushoptions_destroy(nint options);
    [DllImport(Library)] private static extern void rocksdb_flushoptions_set_wait(nint options, byte value);
    [DllImport(Library)] private static extern void rocksdb_flush(nint db, nint options, ref nint error);
    [DllImport(Library)] private static extern nint rocksdb_create_iterator(nint db, nint options);
    [DllImport(Library)] private static extern void rocksdb_iter_destroy(nint iterator);
    [DllImport(Library)] private static extern void rocksdb_iter_seek(nint iterator, byte[] key, nuint keyLength);
    [DllImport(Library)] private static extern byte rocksdb_iter_valid(nint iterator);
    [DllImport(Library)] private static extern void rocksdb_iter_next(nint iterator);
    [DllImport(Library)] private static extern nint rocksdb_iter_key(nint iterator, out nuint length);
    [DllImport(Library)] private static extern nint rocksdb_iter_value(nint iterator, out nuint length);
    [DllImport(Library)] private static extern void rocksdb_iter_get_error(nint iterator, ref nint error);
    [DllImport(Library)] private static extern void rocksdb_free(nint pointer);
}
