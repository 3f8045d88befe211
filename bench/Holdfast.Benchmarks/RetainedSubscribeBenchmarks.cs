using BenchmarkDotNet.Attributes;
using Holdfast.Broker;
using Holdfast.Broker.Routing;
using Holdfast.Protocol;

namespace Holdfast.Benchmarks;

/// <summary>
/// The retained messages a SUBSCRIBE collects, with 100,000 retained (100 lines of 1,000 sensors): the retained trie
/// against the scan of every retained message that RetainedStore did before it (kept here as the baseline).
/// </summary>
[MemoryDiagnoser, ShortRunJob]
public class RetainedSubscribeBenchmarks
{
    private const int Lines = 100;
    private const int SensorsPerLine = 1000;
    private readonly RetainedTree _tree = new();
    private readonly Dictionary<string, Message> _scanned = new(StringComparer.Ordinal);

    [Params("plant/line-42/+/temp", "plant/+/sensor-7/temp", "plant/line-42/#", "plant/line-42/sensor-7/temp")]
    public string Filter { get; set; } = "";

    [GlobalSetup]
    public void Setup()
    {
        var payload = new byte[16];
        for (int line = 0; line < Lines; line++)
            for (int sensor = 0; sensor < SensorsPerLine; sensor++)
            {
                var message = new Message($"plant/line-{line}/sensor-{sensor}/temp", payload, QualityOfService.AtLeastOnce, true, null, "pub", 0);
                _tree.Set(message);
                _scanned[message.Topic] = message;
            }
        if (_tree.Count != Lines * SensorsPerLine) throw new InvalidOperationException($"{_tree.Count} retained");
    }

    [Benchmark]
    public int Trie() => _tree.Match(Filter, now: 0).Count;

    /// <summary>What RetainedStore.Match did: a dictionary lookup for an exact filter, else every message tested.</summary>
    [Benchmark(Baseline = true)]
    public int Scan()
    {
        var result = new List<Message>();
        if (!TopicRules.HasWildcard(Filter))
        {
            if (_scanned.TryGetValue(Filter, out var exact)) result.Add(exact);
            return result.Count;
        }
        foreach (var (topic, message) in _scanned)
            if (TopicRules.Matches(Filter, topic) && !message.IsExpired(0)) result.Add(message);
        return result.Count;
    }
}
