using System.Globalization;
using System.Text.RegularExpressions;
using Holdfast.Server;

namespace Holdfast.Interop.Tests.Observability;

/// <summary>One GET /metrics, checked line by line against the Prometheus text format (0.0.4): every line is
/// <c># HELP</c>, <c># TYPE</c> or <c>name{labels} value</c>; samples are kept by <c>name{labels}</c>.</summary>
internal sealed partial class MetricsScrape
{
    private static readonly HttpClient Http = new() { Timeout = TimeSpan.FromSeconds(15) };

    public required string ContentType { get; init; }
    public required string Text { get; init; }
    public Dictionary<string, double> Samples { get; } = new(StringComparer.Ordinal);
    /// <summary>Metric family name → its # TYPE.</summary>
    public Dictionary<string, string> Types { get; } = new(StringComparer.Ordinal);
    public HashSet<string> Helped { get; } = new(StringComparer.Ordinal);

    public double Value(string series) =>
        Samples.TryGetValue(series, out var value) ? value : throw new KeyNotFoundException($"no sample {series} in:\n{Text}");

    public static async Task<MetricsScrape> GetAsync(HoldfastServer server)
    {
        var endpoint = server.MetricsEndpoint ?? throw new InvalidOperationException("metrics_listener is off");
        using var response = await Http.GetAsync($"http://{endpoint}/metrics");
        Assert.Equal(System.Net.HttpStatusCode.OK, response.StatusCode);
        var scrape = new MetricsScrape
        {
            ContentType = response.Content.Headers.ContentType?.ToString() ?? "",
            Text = await response.Content.ReadAsStringAsync(),
        };
        scrape.Parse();
        return scrape;
    }

    private void Parse()
    {
        Assert.EndsWith("\n", Text);
        foreach (var line in Text.TrimEnd('\n').Split('\n'))
        {
            if (HelpLine().Match(line) is { Success: true } help)
            {
                Assert.True(Helped.Add(help.Groups[1].Value), $"second HELP for {help.Groups[1].Value}");
                continue;
            }
            if (TypeLine().Match(line) is { Success: true } type)
            {
                Assert.True(Types.TryAdd(type.Groups[1].Value, type.Groups[2].Value), $"second TYPE for {type.Groups[1].Value}");
                continue;
            }
            var sample = SampleLine().Match(line);
            Assert.True(sample.Success, $"not a valid exposition line: '{line}'");
            string value = sample.Groups[3].Value;
            Samples.Add(sample.Groups[1].Value + sample.Groups[2].Value,
                value == "+Inf" ? double.PositiveInfinity : double.Parse(value, NumberStyles.Float, CultureInfo.InvariantCulture));
        }
    }

    [GeneratedRegex(@"^# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) .*$")]
    private static partial Regex HelpLine();

    [GeneratedRegex(@"^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)$")]
    private static partial Regex TypeLine();

    [GeneratedRegex(@"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[a-zA-Z_][a-zA-Z0-9_]*=""(?:[^""\\\n]|\\.)*""(?:,[a-zA-Z_][a-zA-Z0-9_]*=""(?:[^""\\\n]|\\.)*"")*\})? (-?[0-9][0-9.eE+-]*|\+Inf|-Inf|NaN)$")]
    private static partial Regex SampleLine();
}
