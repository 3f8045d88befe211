namespace Holdfast.Tools.Bench;

/// <summary>Who publishes where and who receives what, for the three message scenarios. Every publisher has its own
/// topic under bench/RUN/, RUN being random per run so that runs sharing a broker do not see each other's messages.</summary>
internal sealed record Topology(string Description, int Publishers, string[] SubscriberFilters, Func<int, IEnumerable<int>> PublishersOf)
{
    public static string TopicOf(string run, int publisher) => $"bench/{run}/{publisher}";

    public static Topology For(BenchSettings settings, string run) => settings.Scenario switch
    {
        // P publishers, one subscriber on a wildcard that matches them all.
        "fan-in" => new Topology($"{settings.Publishers} publishers -> 1 subscriber on bench/{run}/#", settings.Publishers,
            [$"bench/{run}/#"], _ => Enumerable.Range(0, settings.Publishers)),
        // One publisher, S subscribers on its topic: every message is delivered S times.
        "fan-out" => new Topology($"1 publisher -> {settings.Subscribers} subscribers on {TopicOf(run, 0)}", 1,
            Enumerable.Repeat(TopicOf(run, 0), settings.Subscribers).ToArray(), _ => [0]),
        // N independent publisher -> subscriber pairs, each on its own topic.
        "pairs" => new Topology($"{settings.Pairs} publisher -> subscriber pairs on bench/{run}/N", settings.Pairs,
            Enumerable.Range(0, settings.Pairs).Select(i => TopicOf(run, i)).ToArray(), subscriber => [subscriber]),
        _ => throw new ArgumentException($"unknown scenario {settings.Scenario}"),
    };
}
