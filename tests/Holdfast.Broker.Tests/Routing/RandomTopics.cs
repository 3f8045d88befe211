using Holdfast.Protocol;

namespace Holdfast.Broker.Tests.Routing;

/// <summary>Random topic names and filters over a few levels, small enough that they often meet: empty levels, '$'
/// levels first and further down, '+' anywhere and '#' last (so '#' at the parent level comes up).</summary>
internal sealed class RandomTopics(int seed)
{
    private static readonly string[] Levels = ["a", "b", "c", "", "$x"];
    private readonly Random _random = new(seed);

    public string Topic()
    {
        while (true)
        {
            int n = _random.Next(1, 5);
            var levels = new string[n];
            for (int i = 0; i < n; i++) levels[i] = i == 0 && _random.Next(6) == 0 ? "$SYS" : Levels[_random.Next(Levels.Length)];
            var topic = string.Join('/', levels);
            if (TopicRules.IsValidTopicName(topic)) return topic;
        }
    }

    public string Filter()
    {
        while (true)
        {
            int n = _random.Next(1, 5);
            var levels = new string[n];
            for (int i = 0; i < n; i++)
            {
                int pick = _random.Next(10);
                levels[i] = pick switch
                {
                    < 3 => "+",
                    3 when i == n - 1 => "#",
                    4 when i == 0 => "$SYS",
                    _ => Levels[_random.Next(Levels.Length)],
                };
            }
            var filter = string.Join('/', levels);
            if (TopicRules.IsValidTopicFilter(filter)) return filter;
        }
    }

    public int Next(int max) => _random.Next(max);
}
