namespace Holdfast.Server.Observability;

/// <summary>Group-commit writes of the durable store since the last $SYS interval: how long they took and how many
/// changes each carried. Fed from the store's writer thread, read by the $SYS collector.</summary>
internal sealed class StoreCommitStats
{
    /// <summary>Latencies kept per interval for the median: a uniform sample of the interval's writes (reservoir
    /// sampling), so memory stays bounded when $SYS is off and the median still describes the whole interval under load.</summary>
    private const int MaxSamples = 4096;

    private readonly Lock _lock = new();
    private readonly List<double> _milliseconds = [];
    private long _writes, _changes;
    private double _maxMilliseconds;
    private int _maxBatch;

    public readonly record struct Interval(long Writes, double MedianMilliseconds, double MaxMilliseconds, double MeanBatch, int MaxBatch);

    public void Record(int changes, TimeSpan elapsed)
    {
        double ms = elapsed.TotalMilliseconds;
        lock (_lock)
        {
            _writes++;
            _changes += changes;
            if (_milliseconds.Count < MaxSamples) _milliseconds.Add(ms);
            else if (Random.Shared.NextInt64(_writes) is var slot && slot < MaxSamples) _milliseconds[(int)slot] = ms;
            _maxMilliseconds = Math.Max(_maxMilliseconds, ms);
            _maxBatch = Math.Max(_maxBatch, changes);
        }
    }

    /// <summary>Returns the interval's figures (zeros when nothing was written) and starts a new interval.</summary>
    public Interval TakeInterval()
    {
        lock (_lock)
        {
            if (_writes == 0) return default;
            _milliseconds.Sort();
            var interval = new Interval(_writes, _milliseconds[_milliseconds.Count / 2], _maxMilliseconds, (double)_changes / _writes, _maxBatch);
            _milliseconds.Clear();
            _writes = _changes = 0;
            _maxMilliseconds = 0;
            _maxBatch = 0;
            return interval;
        }
    }
}
