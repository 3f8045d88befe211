using Holdfast.Tools.Bench;

namespace Holdfast.Tools.Tests.Bench;

public class LatencyHistogramTests
{
    [Fact]
    public void Percentiles_are_within_one_percent_of_exact_and_the_maximum_is_exact()
    {
        // A long-tailed, latency-like distribution: log-uniform from 1 microsecond to 100 milliseconds (in nanoseconds).
        var random = new Random(42);
        var values = new long[200_000];
        var histogram = new LatencyHistogram();
        for (int i = 0; i < values.Length; i++)
        {
            values[i] = (long)Math.Exp(Math.Log(1_000) + random.NextDouble() * (Math.Log(100_000_000) - Math.Log(1_000)));
            histogram.Record(values[i]);
        }
        Array.Sort(values);
        foreach (double q in new[] { 0.01, 0.25, 0.50, 0.90, 0.99, 0.999 })
        {
            long exact = values[(int)Math.Ceiling(q * values.Length) - 1];
            Assert.InRange(histogram.ValueAt(q), exact * 0.99, exact * 1.01);
        }
        Assert.Equal(values[^1], histogram.Max);
        Assert.Equal(values[^1], histogram.ValueAt(1.0));
        Assert.Equal(values.Length, histogram.Count);
    }

    [Fact]
    public void Small_values_are_exact_and_merging_adds_counts()
    {
        var a = new LatencyHistogram();
        var b = new LatencyHistogram();
        for (int i = 1; i <= 100; i++) (i % 2 == 0 ? a : b).Record(i);
        a.Add(b);
        Assert.Equal(100, a.Count);
        Assert.Equal(50, a.ValueAt(0.50));
        Assert.Equal(99, a.ValueAt(0.99));
        Assert.Equal(100, a.Max);
        Assert.Equal(0, new LatencyHistogram().ValueAt(0.5));
    }
}
