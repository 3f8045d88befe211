using BenchmarkDotNet.Attributes;
using Holdfast.Broker;
using Holdfast.Broker.Routing;
using Holdfast.Protocol;

namespace Holdfast.Benchmarks;

/// <summary>
/// One lookup in the subscription trie holding 10,000 subscriptions of 2,000 sessions, shaped like a plant's telemetry:
/// exact sensor topics, '+' per line and per sensor, '#' per line and for everything, and a few $share groups.
/// A repeated topic is answered from the match cache; the same topic on a tree without a cache, or cycling through all
/// 8,000 sensor topics (more than the cache's 1,024 slots), walks the trie every time.
/// </summary>
[MemoryDiagnoser, ShortRunJob]
public class TopicMatchBenchmarks
{
    private const int Lines = 100;
    private const int SensorsPerLine = 80;
    private readonly SubscriptionTree _tree = new();
    private readonly SubscriptionTree _uncachedTree = new(cacheSize: 0);
    private string[] _sensorTopics = [];
    private int _nextSensor;

    [GlobalSetup]
    public void Setup()
    {
        var sessions = Enumerable.Range(0, 2000).Select(i => new Session($"client-{i}")).ToArray();
        int next = 0;
        void Add(string filter, string? shareGroup = null)
        {
            var subscription = new Subscription(filter, QualityOfService.AtLeastOnce, false, false, RetainHandling.SendAtSubscribe, null)
            {
                ShareGroup = shareGroup,
                MatchFilter = filter,
            };
            var session = sessions[next++ % sessions.Length];
            _tree.Add(session, subscription);
            _uncachedTree.Add(session, subscription);
        }

        // 8,000 exact topics: one per sensor.
        for (int line = 0; line < Lines; line++)
            for (int sensor = 0; sensor < SensorsPerLine; sensor++)
                Add($"plant/line-{line}/sensor-{sensor}/temp");
        // 1,000 per-line dashboards (10 per line), 400 per-sensor-number views, 400 line recorders.
        for (int line = 0; line < Lines; line++)
            for (int i = 0; i < 10; i++) Add($"plant/line-{line}/+/temp");
        for (int sensor = 0; sensor < SensorsPerLine; sensor++)
            for (int i = 0; i < 5; i++) Add($"plant/+/sensor-{sensor}/+");
        for (int line = 0; line < Lines; line++)
            for (int i = 0; i < 4; i++) Add($"plant/line-{line}/#");
        // 180 $share members: 10 groups of 18 workers over the whole plant.
        for (int group = 0; group < 10; group++)
            for (int i = 0; i < 18; i++) Add("plant/#", $"workers-{group}");
        // 20 catch-alls (loggers, bridges).
        for (int i = 0; i < 10; i++) { Add("#"); Add("plant/#"); }
        if (_tree.Count != 10_000) throw new InvalidOperationException($"{_tree.Count} subscriptions, expected 10,000");
        _sensorTopics = [.. Enumerable.Range(0, Lines * SensorsPerLine).Select(i => $"plant/line-{i / SensorsPerLine}/sensor-{i % SensorsPerLine}/temp")];
    }

    /// <summary>A sensor reading: 1 exact + 10 per-line + 5 per-sensor + 4 line recorders + 20 catch-alls, and 10 groups.
    /// The same topic every time: a cache hit.</summary>
    [Benchmark]
    public int MatchSensorTopic() => Match("plant/line-42/sensor-7/temp");

    /// <summary>A topic outside the plant: only the 10 '#' subscriptions. A cache hit.</summary>
    [Benchmark]
    public int MatchOtherTopic() => Match("office/floor-2/printer/status");

    /// <summary>The sensor topic on a tree without a cache: the walk under the reader lock and a new result each time.</summary>
    [Benchmark]
    public int MatchSensorTopicWalk()
    {
        var result = _uncachedTree.Match("plant/line-42/sensor-7/temp");
        return result.Subscribers.Length + result.SharedGroups.Length;
    }

    /// <summary>Each of the 8,000 sensor topics in turn: the cache has evicted it by the time it comes round again, so
    /// every match walks the trie (under the reader lock) and makes a new result.</summary>
    [Benchmark]
    public int MatchSensorTopicUncached()
    {
        var topic = _sensorTopics[_nextSensor];
        _nextSensor = (_nextSensor + 1) % _sensorTopics.Length;
        return Match(topic);
    }

    private int Match(string topic)
    {
        var result = _tree.Match(topic);
        return result.Subscribers.Length + result.SharedGroups.Length;
    }
}
