using Holdfast.Storage.RocksDb;

namespace Holdfast.Testing;

/// <summary>
/// The broker's key-value file (normally <see cref="RocksDbFile"/>) with a switch: while <see cref="Failing"/> is set,
/// every write throws <see cref="IOException"/> as a full or failing disk would, and nothing of the batch is applied
/// (the <see cref="IStoreFile.Write"/> contract: all or nothing). Reads pass through.
/// </summary>
public sealed class FaultInjectingStoreFile(IStoreFile inner) : IStoreFile
{
    private readonly object _sync = new();
    private volatile bool _failing;
    private int _failedWrites;
    private int _writes;

    /// <summary>Opens RocksDB in <paramref name="directory"/> and wraps it (for HoldfastServer's <c>openStoreFile</c> hook).</summary>
    public static FaultInjectingStoreFile Open(string directory) => new(RocksDbFile.Open(directory));

    public bool Failing { get => _failing; set => _failing = value; }

    /// <summary>Writes refused so far.</summary>
    public int FailedWrites { get { lock (_sync) return _failedWrites; } }

    /// <summary>Writes applied so far.</summary>
    public int Writes => Volatile.Read(ref _writes);

    public void Write(IReadOnlyList<StoreOp> ops, bool sync)
    {
        if (_failing)
        {
            lock (_sync)
            {
                _failedWrites++;
                Monitor.PulseAll(_sync);
            }
            throw new IOException("injected fault: No space left on device");
        }
        inner.Write(ops, sync);
        Interlocked.Increment(ref _writes);
    }

    /// <summary>Blocks until at least <paramref name="count"/> writes have been refused; throws after
    /// <paramref name="timeout"/> (30 s unless given).</summary>
    public void WaitForFailedWrites(int count, TimeSpan? timeout = null)
    {
        lock (_sync)
        {
            var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(30));
            while (_failedWrites < count)
            {
                var left = deadline - DateTime.UtcNow;
                if (left <= TimeSpan.Zero || !Monitor.Wait(_sync, left))
                    throw new TimeoutException($"only {_failedWrites} write(s) failed, expected {count}");
            }
        }
    }

    public IEnumerable<(byte[] Key, byte[] Value)> Scan(byte prefix) => inner.Scan(prefix);
    public IEnumerable<(byte[] Key, byte[] Value)> Scan(byte[] from, int prefixLength) => inner.Scan(from, prefixLength);
    public byte[]? Read(byte[] key) => inner.Read(key);

    public void Dispose() => inner.Dispose();
}
