namespace Holdfast.Storage.RocksDb;

/// <summary>One change to the key-value file: a put, or a delete when <see cref="Value"/> is null; with
/// <see cref="RangeEnd"/>, a delete of every key from <see cref="Key"/> up to (not including) it.</summary>
public readonly record struct StoreOp(byte[] Key, byte[]? Value, byte[]? RangeEnd = null);

/// <summary>
/// The ordered key-value file under the store: RocksDB in production (<see cref="RocksDbFile"/>); tests wrap it
/// to inject faults. A write applies a whole batch atomically or not at all.
/// </summary>
public interface IStoreFile : IDisposable
{
    /// <summary>Applies <paramref name="ops"/> in order as one atomic batch; with <paramref name="sync"/> the call returns
    /// only once the batch is on stable storage. Throws when the write fails (nothing of the batch applied).</summary>
    void Write(IReadOnlyList<StoreOp> ops, bool sync);

    /// <summary>Every key starting with <paramref name="prefix"/>, in key order.</summary>
    IEnumerable<(byte[] Key, byte[] Value)> Scan(byte prefix);

    /// <summary>Keys from <paramref name="from"/> on that share its first <paramref name="prefixLength"/> bytes, in key
    /// order. Sees every write that returned.</summary>
    IEnumerable<(byte[] Key, byte[] Value)> Scan(byte[] from, int prefixLength);

    /// <summary>The value of <paramref name="key"/>, or null.</summary>
    byte[]? Read(byte[] key);
}
