using Holdfast.Storage.RocksDb;

namespace Holdfast.Storage.Tests.Support;

/// <summary>Passes every call to the file it wraps and records each write: how many operations it held and whether it asked for a sync.</summary>
public sealed class CountingStoreFile(IStoreFile inner) : IStoreFile
{
    private readonly Lock _gate = new();
    private readonly List<(int Ops, bool Sync)> _writes = [];

    /// <summary>Every write attempted so far, in order.</summary>
    public IReadOnlyList<(int Ops, bool Sync)> Writes { get { lock (_gate) return [.. _writes]; } }

    public void Write(IReadOnlyList<StoreOp> ops, bool sync)
    {
        lock (_gate) _writes.Add((ops.Count, sync));
        inner.Write(ops, sync);
    }

    public IEnumerable<(byte[] Key, byte[] Value)> Scan(byte prefix) => inner.Scan(prefix);
    public IEnumerable<(byte[] Key, byte[] Value)> Scan(byte[] from, int prefixLength) => inner.Scan(from, prefixLength);
    public byte[]? Read(byte[] key) => inner.Read(key);

    public void Dispose() => inner.Dispose();
}
