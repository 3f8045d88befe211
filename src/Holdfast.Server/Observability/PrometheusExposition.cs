using System.Diagnostics.Metrics;
using System.Globalization;
using System.Text;

namespace Holdfast.Server.Observability;

/// <summary>
/// Writes one Meter's instruments in Prometheus's text exposition format (version 0.0.4): a MeterListener collects the
/// observable instruments at each scrape and keeps running bucket counts for histograms. Counters and gauges come out
/// as they were observed; histograms as cumulative _bucket{le=...}, _sum and _count, with the bucket bounds the
/// instrument advises.
/// </summary>
internal sealed class PrometheusExposition : IDisposable
{
    public const string ContentType = "text/plain; version=0.0.4; charset=utf-8";

    private readonly MeterListener _listener = new();
    private readonly Lock _scrape = new();
    /// <summary>In the order the meter published them, so the output is stable from scrape to scrape.</summary>
    private readonly List<Instrument> _instruments = [];
    private readonly Dictionary<Instrument, HistogramCounts> _histograms = [];
    /// <summary>Measurements of the observable instruments during the scrape in progress.</summary>
    private readonly Dictionary<Instrument, List<(string Labels, double Value)>> _observed = [];

    public PrometheusExposition(Meter meter)
    {
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter != meter) return;
            var counts = HistogramCounts.For(instrument);
            lock (_scrape)
            {
                _instruments.Add(instrument);
                if (counts is not null) _histograms[instrument] = counts;
            }
            // A histogram's running counts ride along as the listener's state for it: no lookup per measurement.
            listener.EnableMeasurementEvents(instrument, counts);
        };
        _listener.SetMeasurementEventCallback<long>((i, value, tags, state) => OnMeasurement(i, value, tags, state));
        _listener.SetMeasurementEventCallback<int>((i, value, tags, state) => OnMeasurement(i, value, tags, state));
        _listener.SetMeasurementEventCallback<double>((i, value, tags, state) => OnMeasurement(i, value, tags, state));
        _listener.Start();
    }

    private void OnMeasurement(Instrument instrument, double value, ReadOnlySpan<KeyValuePair<string, object?>> tags, object? state)
    {
        if (state is HistogramCounts histogram)
        {
            histogram.Record(value);
            return;
        }
        // Observable instruments report only inside RecordObservableInstruments, i.e. during Write, under _scrape.
        if (!_observed.TryGetValue(instrument, out var series)) _observed[instrument] = series = [];
        series.Add((Labels(tags), value));
    }

    /// <summary>Collects every instrument now and returns the exposition text.</summary>
    public string Write()
    {
        var text = new StringBuilder();
        lock (_scrape)
        {
            _observed.Clear();
            _listener.RecordObservableInstruments();
            foreach (var instrument in _instruments)
            {
                string name = instrument.Name;
                text.Append("# HELP ").Append(name).Append(' ').Append(EscapeHelp(instrument.Description ?? name)).Append('\n');
                text.Append("# TYPE ").Append(name).Append(' ').Append(TypeOf(instrument)).Append('\n');
                if (_histograms.TryGetValue(instrument, out var histogram))
                {
                    histogram.Write(text, name);
                    continue;
                }
                if (!_observed.TryGetValue(instrument, out var series)) continue;
                foreach (var (labels, value) in series)
                    text.Append(name).Append(labels).Append(' ').Append(Number(value)).Append('\n');
            }
        }
        return text.ToString();
    }

    private static string TypeOf(Instrument instrument)
    {
        var kind = instrument.GetType().GetGenericTypeDefinition();
        if (kind == typeof(Histogram<>)) return "histogram";
        if (kind == typeof(ObservableCounter<>) || kind == typeof(Counter<>)) return "counter";
        return "gauge";
    }

    private static string Labels(ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        if (tags.IsEmpty) return "";
        var labels = new StringBuilder("{");
        foreach (var (key, value) in tags)
        {
            if (labels.Length > 1) labels.Append(',');
            labels.Append(key).Append("=\"").Append(EscapeLabel(Convert.ToString(value, CultureInfo.InvariantCulture) ?? "")).Append('"');
        }
        return labels.Append('}').ToString();
    }

    internal static string Number(double value) =>
        double.IsPositiveInfinity(value) ? "+Inf"
        : double.IsNegativeInfinity(value) ? "-Inf"
        : double.IsNaN(value) ? "NaN"
        : value.ToString("R", CultureInfo.InvariantCulture);

    private static string EscapeLabel(string value) => value.Replace("\\", @"\\").Replace("\"", "\\\"").Replace("\n", @"\n");

    private static string EscapeHelp(string value) => value.Replace("\\", @"\\").Replace("\n", @"\n");

    public void Dispose() => _listener.Dispose();

    /// <summary>A histogram's running counts per bucket (not cumulative), sum and count.</summary>
    private sealed class HistogramCounts
    {
        private readonly Lock _lock = new();
        private readonly double[] _bounds;
        private readonly long[] _counts;
        private double _sum;
        private long _count;

        private HistogramCounts(double[] bounds)
        {
            _bounds = bounds;
            _counts = new long[bounds.Length + 1];
        }

        /// <summary>The state to register for an instrument: counts for a histogram, null for anything else.</summary>
        public static HistogramCounts? For(Instrument instrument) => instrument switch
        {
            Histogram<long> h => new HistogramCounts(h.Advice?.HistogramBucketBoundaries?.Select(b => (double)b).ToArray() ?? DefaultBounds),
            Histogram<double> h => new HistogramCounts(h.Advice?.HistogramBucketBoundaries?.ToArray() ?? DefaultBounds),
            _ => null,
        };

        // Prometheus client libraries' default buckets.
        private static readonly double[] DefaultBounds = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

        public void Record(double value)
        {
            int bucket = Array.BinarySearch(_bounds, value);
            // An exact bound belongs to its own bucket (le = "less than or equal"); otherwise the first bound above it.
            if (bucket < 0) bucket = ~bucket;
            lock (_lock)
            {
                _counts[bucket]++;
                _sum += value;
                _count++;
            }
        }

        public void Write(StringBuilder text, string name)
        {
            lock (_lock)
            {
                long cumulative = 0;
                for (int i = 0; i < _counts.Length; i++)
                {
                    cumulative += _counts[i];
                    string le = i < _bounds.Length ? Number(_bounds[i]) : "+Inf";
                    text.Append(name).Append("_bucket{le=\"").Append(le).Append("\"} ").Append(cumulative).Append('\n');
                }
                text.Append(name).Append("_sum ").Append(Number(_sum)).Append('\n');
                text.Append(name).Append("_count ").Append(_count).Append('\n');
            }
        }
    }
}
