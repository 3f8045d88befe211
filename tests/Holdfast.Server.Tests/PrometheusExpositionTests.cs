using System.Diagnostics.Metrics;
using Holdfast.Server.Observability;

namespace Holdfast.Server.Tests;

public class PrometheusExpositionTests
{
    [Fact]
    public void Counters_gauges_and_labels_come_out_with_help_and_type_in_publication_order()
    {
        using var meter = new Meter("Holdfast.Test." + Guid.NewGuid());
        meter.CreateObservableCounter("t_total", () => new Measurement<long>(7, new KeyValuePair<string, object?>("path", "a\"b\\c\nd")), description: "Things.");
        meter.CreateObservableGauge("t_level", () => 2.5, description: "Line one\nline two.");
        using var exposition = new PrometheusExposition(meter);

        Assert.Equal("""
            # HELP t_total Things.
            # TYPE t_total counter
            t_total{path="a\"b\\c\nd"} 7
            # HELP t_level Line one\nline two.
            # TYPE t_level gauge
            t_level 2.5

            """.ReplaceLineEndings("\n"), exposition.Write());
    }

    [Fact]
    public void Histogram_buckets_are_cumulative_and_a_value_on_a_bound_counts_in_that_bucket()
    {
        using var meter = new Meter("Holdfast.Test." + Guid.NewGuid());
        var histogram = meter.CreateHistogram("t_seconds", "s", "Durations.", null,
            new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.1, 1] });
        using var exposition = new PrometheusExposition(meter);
        foreach (var v in new[] { 0.05, 0.1, 0.5, 3 }) histogram.Record(v);

        Assert.Equal("""
            # HELP t_seconds Durations.
            # TYPE t_seconds histogram
            t_seconds_bucket{le="0.1"} 2
            t_seconds_bucket{le="1"} 3
            t_seconds_bucket{le="+Inf"} 4
            t_seconds_sum 3.65
            t_seconds_count 4

            """.ReplaceLineEndings("\n"), exposition.Write());
    }

    [Fact]
    public void Instruments_of_another_meter_of_the_same_name_are_not_exposed()
    {
        // Several brokers in one process (tests, embedding) each expose only their own Meter instance.
        using var mine = new Meter("Holdfast");
        using var other = new Meter("Holdfast");
        mine.CreateObservableGauge("mine", () => 1);
        other.CreateObservableGauge("other", () => 1);
        using var exposition = new PrometheusExposition(mine);

        var text = exposition.Write();
        Assert.Contains("mine 1\n", text);
        Assert.DoesNotContain("other", text);
    }
}

public class LoadAverageTests
{
    [Fact]
    public void A_steady_rate_approaches_its_per_minute_value_at_each_time_constant()
    {
        var load = new LoadAverage();
        // 10 messages a second = 600 a minute, for one minute in 10 s steps.
        for (int i = 1; i <= 6; i++) load.Update(i * 100, 10);

        // After one minute: 1 - e^-1 of the way for the 1-minute average, 1 - e^-(1/5) for the 5-minute one, …
        Assert.Equal(600 * (1 - Math.Exp(-1)), load.OneMinute, 6);
        Assert.Equal(600 * (1 - Math.Exp(-1.0 / 5)), load.FiveMinutes, 6);
        Assert.Equal(600 * (1 - Math.Exp(-1.0 / 15)), load.FifteenMinutes, 6);

        // Then silence: it decays, never below zero.
        load.Update(600, 60);
        Assert.Equal(600 * (1 - Math.Exp(-1)) * Math.Exp(-1), load.OneMinute, 6);
    }
}
