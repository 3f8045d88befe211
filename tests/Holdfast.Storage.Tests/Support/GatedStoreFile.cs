using Holdfast.Storage.RocksDb;

namespace Holdfast.Storage.Tests.Support;

/// <summary>
/// Holds every write at a gate the test controls: while the gate is closed a write waits (after announcing that it
/// started) until the test lets it through with <see cref="Allow"/> or opens the gate. This makes "a write is in
/// progress" a state a test can set up and observe without timing.
/// </summary>
public sealed class GatedStoreFile(IStoreFile inner, bool open = false) : IStoreFile
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(60);
    private readonly object _sync = new();
    private bool _open = open;
    private int _permits;
    private int _entered;

    /// <summary>Writes that have reached the gate so far (passed or waiting).</summary>
    public int Entered { get { lock (_sync) return _entered; } }

    public void Write(IReadOnlyList<StoreOp> ops, bool sync)
    {
        lock (_sync)
        {
            _entered++;
            Monitor.PulseAll(_sync);
            var deadline = DateTime.UtcNow + Limit;
            while (!_open && _permits == 0)
            {
                var left = deadline - DateTime.UtcNow;
                if (left <= TimeSpan.Zero || !Monitor.Wait(_sync, left))
                    throw new TimeoutException("the test never let this write through its gate");
            }
            if (!_open) _permits--;
        }
        inner.Write(ops, sync);
    }

    /// <summary>Blocks until <paramref name="count"/> writes have reached the gate in total.</summary>
    public void WaitForEntered(int count)
    {
        lock (_sync)
        {
            var deadline = DateTime.UtcNow + Limit;
            while (_entered < count)
            {
                var left = deadline - DateTime.UtcNow;
                if (left <= TimeSpan.Zero || !Monitor.Wait(_sync, left))
                    throw new TimeoutException($"only {_entered} write(s) reached the gate, expected {count}");
            }
        }
    }

    /// <summary>Lets <paramref name="writes"/> more writes through a closed gate.</summary>
    public void Allow(int writes = 1)
    {
        lock (_sync)
        {
            _permits += writes;
            Monitor.PulseAll(_sync);
        }
    }

    public void Open()
    {
        lock (_sync)
        {
            _open = true;
            Monitor.PulseAll(_sync);
        }
    }

    public void Close()
    {
        lock (_sync)
        {
            _open = false;
            _permits = 0;
        }
    }

    public IEnumerable<(byte[] Key, byte[] Value)> Scan(byte prefix) => inner.Scan(prefix);
    public IEnumerable<(byte[] Key, byte[] Value)> Scan(byte[] from, int prefixLength) => inner.Scan(from, prefixLength);
    public byte[]? Read(byte[] key) => inner.Read(key);

    /// <summary>Opens the gate first, so that a store being disposed can finish its last write.</summary>
    public void Dispose()
    {
        Open();
        inner.Dispose();
    }
}
