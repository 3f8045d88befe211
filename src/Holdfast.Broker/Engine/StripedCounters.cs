namespace Holdfast.Broker;

/// <summary>
/// A few counters that many threads add to at once (messages and bytes in and out): each processor adds to its own copy,
/// on its own cache line, and a read sums the copies. One shared counter would bounce its cache line between cores at
/// every message and cap throughput at what one core can do; a read is rare ($SYS, /metrics) and may be a moment stale.
/// </summary>
internal sealed class StripedCounters
{
    // 8 longs = 64 bytes: one cache line per stripe.
    private const int Stride = 8;
    private readonly long[] _cells;
    private readonly int _stripeMask;
    private readonly int _counters;

    public StripedCounters(int counters)
    {
        if (counters > Stride) throw new ArgumentOutOfRangeException(nameof(counters), "at most 8 counters share a stripe");
        int stripes = (int)System.Numerics.BitOperations.RoundUpToPowerOf2((uint)Math.Max(2, Environment.ProcessorCount));
        _stripeMask = stripes - 1;
        _counters = counters;
        // One stripe more, so the first does not share its line with the array's header.
        _cells = new long[(stripes + 1) * Stride];
    }

    public void Add(int counter, long value) =>
        Interlocked.Add(ref _cells[((Thread.GetCurrentProcessorId() & _stripeMask) + 1) * Stride + counter], value);

    public long Read(int counter)
    {
        if ((uint)counter >= (uint)_counters) throw new ArgumentOutOfRangeException(nameof(counter));
        long sum = 0;
        for (int stripe = 1; stripe <= _stripeMask + 1; stripe++) sum += Interlocked.Read(ref _cells[stripe * Stride + counter]);
        return sum;
    }
}
