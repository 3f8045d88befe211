using Holdfast.Storage.RocksDb;

namespace Holdfast.Storage.Tests.Support;

/// <summary>Fails every write with an <see cref="IOException"/> while <see cref="Failing"/> is set (nothing of the batch is
/// applied, as with a real failed write); otherwise passes it to the file it wraps.</summary>
public sealed class FaultInjectingStoreFile(IStoreFile inner) : IStoreFile
{
    private readonly object _sync = new();
    private volatile bool _failing;
    private int _failures;

    public bool Failing { get => _failing; set => _failing = value; }

    /// <summary>Writes refused so far.</summary>
    public int Failures { get { lock (_sync) return _failures; } }

    public void Write(IReadOnlyList<StoreOp> ops, bool sync)
    {
        if (_failing)
        {
            lock (_sync)
            {
                _failures++;
                Monitor.PulseAll(_sync);
            }
            throw new IOException("injected write failure");
        }
        inner.Write(ops, sync);
    }

    /// <summary>Blocks until at least <paramref name="count"/> writes have been refused.</summary>
    public void WaitForFailures(int count)
    {
        lock (_sync)
        {
            var deadline = DateTime.UtcNow + Wait.Timeout;
            while (_failures < count)
            {
                var left = deadline - DateTime.UtcNow;
                if (left <= TimeSpan.Zero || !Monitor.Wait(_sync, left))
                    throw new TimeoutException($"only {_failures} write(s) failed, expected {count}");
            }
        }
    }

    public IEnumerable<(byte[] Key, byte[] Value)> Scan(byte prefix) => inner.Scan(prefix);

    public void Dispose() => inner.Dispose();
}
