namespace Holdfast.Broker;

/// <summary>
/// A few counters that many threads add to at once (messages and bytes in and out): each stripe has its own copy, on
/// cache lines of its own, and a read sums the copies. One shared counter would bounce its cache line between cores at
/// every message and cap throughput at what one core can do; a read is rare ($SYS, /metrics) and may be a moment stale.
/// The caller names the stripe: the session shard whose lock it holds (then one thread at a time adds to the stripe, and
/// no atomic instruction is needed), or else the processor it runs on.
/// </summary>
internal sealed class StripedCounters
{
    // 16 longs = 128 bytes a stripe, of which 8 are counters: the array is not aligned to a 64-byte line, and the gap keeps
    // every stripe's counters off the lines of the next.
    private const int Stride = 16;
    private const int MaxCounters = 8;
    private readonly long[] _cells;
    private readonly int _stripes;
    private readonly int _counters;

    /// <param name="stripes">A power of two.</param>
    public StripedCounters(int counters, int stripes)
    {
        if (counters > MaxCounters) throw new ArgumentOutOfRangeException(nameof(counters), "at most 8 counters share a stripe");
        if (!System.Numerics.BitOperations.IsPow2(stripes)) throw new ArgumentOutOfRangeException(nameof(stripes), "a power of two");
        _stripes = stripes;
        _counters = counters;
        // One stripe more, so the first does not share its line with the array's header.
        _cells = new long[(stripes + 1) * Stride];
    }

    /// <summary>Stripes for <see cref="ProcessorStripe"/>: the processors, rounded up to a power of two.</summary>
    public static int ProcessorStripes { get; } = (int)System.Numerics.BitOperations.RoundUpToPowerOf2((uint)Math.Max(2, Environment.ProcessorCount));

    /// <summary>The calling thread's processor's stripe, for <see cref="Add"/>.</summary>
    public int ProcessorStripe => Thread.GetCurrentProcessorId() & (_stripes - 1);

    /// <summary>Adds atomically: other threads may add to the same stripe at the same time.</summary>
    public void Add(int stripe, int counter, long value) => Interlocked.Add(ref Cell(stripe, counter), value);

    /// <summary>Adds without an atomic instruction, for a stripe that one thread at a time adds to: the caller holds that
    /// stripe's lock.</summary>
    public void AddExclusive(int stripe, int counter, long value)
    {
        ref long cell = ref Cell(stripe, counter);
        Volatile.Write(ref cell, cell + value);
    }

    public long Read(int counter)
    {
        if ((uint)counter >= (uint)_counters) throw new ArgumentOutOfRangeException(nameof(counter));
        long sum = 0;
        for (int stripe = 0; stripe < _stripes; stripe++) sum += Volatile.Read(ref Cell(stripe, counter));
        return sum;
    }

    private ref long Cell(int stripe, int counter) => ref _cells[(stripe + 1) * Stride + counter];
}
