namespace Holdfast.Tools.Bench;

/// <summary>
/// Counts of non-negative values (the bench records Stopwatch ticks, nanoseconds on Linux) in log-linear buckets: exact
/// below 256, and above that 128 buckets per power of two, so a bucket is at most 1/128 of its value wide and its midpoint
/// is within 0.4% of anything in it.
/// Recording is one array increment (no allocation), so every received message can be recorded on the hot path.
/// One writer per instance; <see cref="Add"/> merges the per-subscriber histograms at the end.
/// </summary>
internal sealed class LatencyHistogram
{
    private const int SubBucketBits = 7;
    private const int SubBuckets = 1 << SubBucketBits;       // 128 per power of two above the exact range
    private const int ExactLimit = 2 * SubBuckets;          // 0..255 have a bucket each
    private const int MaxShift = 40;                        // values up to 2^48 (3 days in nanoseconds): more than any run
    private readonly long[] _counts = new long[ExactLimit + MaxShift * SubBuckets];

    public long Count { get; private set; }
    public long Max { get; private set; }

    public void Record(long value)
    {
        if (value < 0) value = 0;
        _counts[IndexOf(value)]++;
        Count++;
        if (value > Max) Max = value;
    }

    public void Add(LatencyHistogram other)
    {
        for (int i = 0; i < _counts.Length; i++) _counts[i] += other._counts[i];
        Count += other.Count;
        Max = Math.Max(Max, other.Max);
    }

    /// <summary>The value at quantile <paramref name="q"/> (0..1]: the smallest recorded value with at least q of the
    /// counts at or below it, as its bucket's midpoint (never above the exact maximum, which q = 1 returns). 0 when nothing
    /// was recorded.</summary>
    public long ValueAt(double q)
    {
        if (Count == 0) return 0;
        long rank = Math.Max(1, (long)Math.Ceiling(q * Count));
        if (rank >= Count) return Max;
        long seen = 0;
        for (int i = 0; i < _counts.Length; i++)
        {
            seen += _counts[i];
            if (seen >= rank) return Math.Min(Midpoint(i), Max);
        }
        return Max;
    }

    private static int IndexOf(long value)
    {
        if (value < ExactLimit) return (int)value;
        int shift = 63 - (int)long.LeadingZeroCount(value) - SubBucketBits;    // >= 1: value >> shift is in [128, 256)
        if (shift > MaxShift) return ExactLimit + MaxShift * SubBuckets - 1;
        return ExactLimit + (shift - 1) * SubBuckets + (int)(value >> shift) - SubBuckets;
    }

    private static long Midpoint(int index)
    {
        if (index < ExactLimit) return index;
        int shift = (index - ExactLimit) / SubBuckets + 1;
        long low = (long)((index - ExactLimit) % SubBuckets + SubBuckets) << shift;
        return low + (1L << shift) / 2;
    }
}
