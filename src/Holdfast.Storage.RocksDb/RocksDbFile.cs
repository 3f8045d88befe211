using System.Text;

namespace Holdfast.Storage.RocksDb;

/// <summary>The data directory could not be opened as a Holdfast store: startup stops rather than run empty.</summary>
public sealed class StoreOpenException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>The store's key-value file: a RocksDB database in the data directory, with its write-ahead log.</summary>
public sealed class RocksDbFile : IStoreFile
{
    /// <summary>Marks a database as Holdfast's, with the record format version. Sorts before every record prefix.</summary>
    private static readonly byte[] FormatKey = [0, .. "holdfast-format"u8];
    /// <summary>2: message bodies keyed by message id, queue entries by the session's queue sequence, sessions with an
    /// epoch and owner. A store of another format is refused at open, never read as this one.</summary>
    private const string FormatVersion = "2";

    private NativeDatabase? _db;
    private readonly string _path;
    private readonly StoreOptions _options;
    /// <summary>A write failed: RocksDB refuses every later write (a sticky background error) even once the cause is gone,
    /// e.g. when disk space returns, so the next write reopens the database first.</summary>
    private bool _reopen;

    private RocksDbFile(NativeDatabase db, string path, StoreOptions options)
    {
        _db = db;
        _path = path;
        _options = options;
    }

    /// <summary>Opens (or creates) the store in <paramref name="directory"/>. Throws <see cref="StoreOpenException"/> with the
    /// reason when the directory is unreadable, locked by another process, corrupt, or holds something that is not a Holdfast store.</summary>
    /// <param name="options">Memtable and cache sizes (default: <see cref="StoreOptions"/>'s).</param>
    public static RocksDbFile Open(string directory, StoreOptions? options = null)
    {
        options ??= new StoreOptions();
        string path = Path.GetFullPath(directory);
        try
        {
            // Files but no RocksDB CURRENT file: not a store we made, or one that lost its manifest pointer. Creating a
            // database over it would look like an empty broker and hide the loss.
            if (Directory.Exists(path) && !File.Exists(Path.Combine(path, "CURRENT"))
                && !Directory.EnumerateFileSystemEntries(path).All(HoldsNoData))
                throw new StoreOpenException($"data directory {path} is not empty and holds no Holdfast store (no CURRENT file); refusing to start empty over it");
            var missing = new List<string>();
            for (string? dir = path; dir is not null && !Directory.Exists(dir); dir = Path.GetDirectoryName(dir)) missing.Add(dir);
            Directory.CreateDirectory(path);
            SyncEntries(path, missing);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new StoreOpenException($"data directory {path} cannot be used: {e.Message}", e);
        }

        NativeDatabase db;
        try
        {
            db = NativeDatabase.Open(path, options);
        }
        catch (RocksDbException e)
        {
            throw new StoreOpenException($"data directory {path} cannot be opened: {e.Message}", e);
        }

        try
        {
            var marker = db.Get(FormatKey);
            if (marker is null)
            {
                using var it = db.NewIterator();
                it.Seek([]);
                if (it.Valid()) throw new StoreOpenException($"data directory {path} holds a database that is not a Holdfast store (no format marker)");
                db.Write([new StoreOp(FormatKey, Encoding.ASCII.GetBytes(FormatVersion))], sync: true);
            }
            else if (Encoding.ASCII.GetString(marker) != FormatVersion)
            {
                throw new StoreOpenException($"data directory {path} holds store format {Encoding.ASCII.GetString(marker)}, this Holdfast reads format {FormatVersion}");
            }
        }
        catch (Exception e) when (e is RocksDbException or StoreOpenException)
        {
            db.Dispose();
            throw e as StoreOpenException ?? new StoreOpenException($"data directory {path} cannot be read: {e.Message}", e);
        }
        return new RocksDbFile(db, path, options);
    }

    /// <summary>Makes the entry of each directory this start created on the way to the data directory (<paramref name="created"/>,
    /// e.g. persistence_location), and the data directory's own, durable: an fsync of each one's parent, top down. POSIX
    /// leaves a new entry to its directory's fsync, so without this a power cut could drop the whole store, fsync'd records
    /// and all. The data directory's parent is synced at every start: a start killed before this point may have made it.
    /// RocksDB fsyncs the data directory itself whenever it adds a file there.</summary>
    private static void SyncEntries(string dataDirectory, List<string> created)
    {
        foreach (string parent in created.Append(dataDirectory).Select(dir => Path.GetDirectoryName(dir)!).Distinct().Reverse())
            DirectorySync.Fsync(parent);
    }

    /// <summary>What a data directory without CURRENT may hold and still be created over: lost+found (the directory is the
    /// mount point of a fresh filesystem) and the files RocksDB writes before CURRENT when it creates a database (a kill
    /// during the very first start leaves them). None of them holds data; a table file or a write-ahead log does.</summary>
    private static bool HoldsNoData(string entry)
    {
        string name = Path.GetFileName(entry);
        if (name == "lost+found") return true;
        return File.Exists(entry)
            && (name is "LOCK" or "IDENTITY" || name.StartsWith("LOG", StringComparison.Ordinal)
                || name.StartsWith("MANIFEST-", StringComparison.Ordinal) || name.StartsWith("OPTIONS-", StringComparison.Ordinal)
                || name.EndsWith(".dbtmp", StringComparison.Ordinal));
    }

    public void Write(IReadOnlyList<StoreOp> ops, bool sync)
    {
        if (_reopen)
        {
            // The failed batch was not applied (a write is atomic); reopening replays the log of what was.
            _db?.Dispose();
            _db = null;
            _db = NativeDatabase.Open(_path, _options);
            _reopen = false;
        }
        try
        {
            _db!.Write(ops, sync);
        }
        catch (RocksDbException)
        {
            _reopen = true;
            throw;
        }
    }

    public IEnumerable<(byte[] Key, byte[] Value)> Scan(byte prefix) => Scan([prefix], 1);

    public IEnumerable<(byte[] Key, byte[] Value)> Scan(byte[] from, int prefixLength)
    {
        using var it = _db!.NewIterator();
        for (it.Seek(from); it.Valid(); it.Next())
        {
            var key = it.Key();
            if (key.Length < prefixLength || !key.AsSpan(0, prefixLength).SequenceEqual(from.AsSpan(0, prefixLength))) yield break;
            yield return (key, it.Value());
        }
        // An iterator that stopped on a read error is merely not Valid(): ask, or a damaged block ends the scan early.
        try
        {
            it.ThrowIfFailed();
        }
        catch (RocksDbException e)
        {
            throw new StoreOpenException($"data directory {_path} cannot be read: {e.Message}", e);
        }
    }

    public byte[]? Read(byte[] key) => _db!.Get(key);

    /// <summary>Flushes the in-memory tables to disk first, so that the next start reads sorted files instead of replaying
    /// the write-ahead log (a crash replays it; a clean stop should not have to).</summary>
    public void Dispose()
    {
        if (_db is null) return;
        try
        {
            _db.Flush();
        }
        catch (RocksDbException)
        {
            // The log still holds everything; the next start replays it.
        }
        _db.Dispose();
        _db = null;
    }
}
