using Holdfast.Storage.RocksDb;

namespace Holdfast.Interop.Tests.Durability;

/// <summary>
/// The broker's key-value file (normally <see cref="RocksDbFile"/>) with a switch: while <see cref="Failing"/> is set,
/// every write throws <see cref="IOException"/> as a full or failing disk would, and nothing of the batch is applied
/// (the <see cref="IStoreFile.Write"/> contract: all or nothing). Reads pass through.
/// </summary>
public sealed class FaultInjectingStoreFile(IStoreFile inner) : IStoreFile
{
    private volatile bool _failing;
    private int _failedWrites;
    private int _writes;

    /// <summary>Opens RocksDB in <paramref name="directory"/> and wraps it (for HoldfastServer's <c>openStoreFile</c> hook).</summary>
    public static FaultInjectingStoreFile Open(string directory) => new(RocksDbFile.Open(directory));

    public bool Failing
    {
        get => _failing;
        set => _failing = value;
    }

    /// <summary>Writes refused so far.</summary>
    public int FailedWrites => Volatile.Read(ref _failedWrites);

    /// <summary>Writes applied so far.</summary>
    public int Writes => Volatile.Read(ref _writes);

    public void Write(IReadOnlyList<StoreOp> ops, bool sync)
    {
        if (_failing)
        {
            Interlocked.Increment(ref _failedWrites);
            throw new IOException("injected fault: No space left on device");
        }
        inner.Write(ops, sync);
        Interlocked.Increment(ref _writes);
    }

    public IEnumerable<(byte[] Key, byte[] Value)> Scan(byte prefix) => inner.Scan(prefix);

    public void Dispose() => inner.Dispose();
}
