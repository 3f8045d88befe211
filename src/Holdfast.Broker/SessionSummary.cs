namespace Holdfast.Broker;

/// <summary>One session as the operator's lists show it (<see cref="MqttBroker.TopSessions"/>).</summary>
/// <param name="OfflineForMs">How long it has been offline; 0 while connected.</param>
/// <param name="OldestUnacknowledgedMs">How long its oldest inflight message has waited for its acknowledgement since it was
/// sent; 0 with none waiting.</param>
/// <param name="Dropped">Messages dropped for it, every cause.</param>
public sealed record SessionSummary(string ClientId, bool Connected, long OfflineForMs, int Queued, long QueuedBytes, int Inflight,
    long OldestUnacknowledgedMs, long Dropped);

/// <summary>The sessions with the deepest queues and those waiting longest for an acknowledgement, largest first.</summary>
public sealed record SessionRanking(IReadOnlyList<SessionSummary> ByQueued, IReadOnlyList<SessionSummary> ByOldestUnacknowledged);

/// <summary>Keeps the <c>count</c> largest of what it is offered by one key, without sorting everything offered.</summary>
internal sealed class TopList(int count, Func<SessionSummary, long> key)
{
    private readonly List<SessionSummary> _top = new(count + 1);

    public void Offer(SessionSummary summary)
    {
        long k = key(summary);
        if (k <= 0 || count == 0 || (_top.Count == count && k <= key(_top[^1]))) return;
        int at = _top.FindIndex(s => key(s) < k);
        _top.Insert(at < 0 ? _top.Count : at, summary);
        if (_top.Count > count) _top.RemoveAt(count);
    }

    public IReadOnlyList<SessionSummary> Items => _top;
}
