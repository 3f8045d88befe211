namespace Holdfast.Broker;

/// <summary>
/// One shard of the broker's sessions: the sessions whose client ids hash to it, what they hold added up
/// (<see cref="Totals"/>), and when their timers are next due (<see cref="Deadlines"/>). Everything here, every session in
/// it and each session's connection state is guarded by <see cref="Lock"/>. Adding and removing go through here, so a
/// session's messages and connection are counted in <see cref="Totals"/> exactly while it is in the shard.
/// </summary>
[System.Diagnostics.CodeAnalysis.SuppressMessage("Design", "CA1001:Types that own disposable fields should be disposable", Justification = "The reused operation is disposed at the end of every use (BeginOperation); there is nothing left to dispose after it.")]
internal sealed class SessionShard(int index, Storage.IBrokerStore store)
{
    private readonly Dictionary<string, Session> _sessions = new(StringComparer.Ordinal);
    // The operation of this shard's lock, reused; one begun inside another gets its own.
    private readonly BrokerOperation _operation = new(store);

    public int Index { get; } = index;
    public Lock Lock { get; } = new();
    public SessionTotals Totals { get; } = new();
    public DeadlineQueue Deadlines { get; } = new();
    public int Count => _sessions.Count;
    public Dictionary<string, Session>.ValueCollection Values => _sessions.Values;

    /// <summary>Begins an operation; call holding <see cref="Lock"/> (and any other shard locks the operation needs), and
    /// end it (commit and send) before releasing them.</summary>
    public BrokerOperation BeginOperation() =>
        (_operation.InUse ? new BrokerOperation(store) : _operation).Start();

    public bool TryGetValue(string clientId, out Session session) => _sessions.TryGetValue(clientId, out session!);
    public Session? GetValueOrDefault(string clientId) => _sessions.GetValueOrDefault(clientId);

    /// <summary>Adds a session, replacing (and no longer counting) one with the same client id.</summary>
    public void Add(Session session)
    {
        if (_sessions.Remove(session.ClientId, out var replaced))
        {
            replaced.CountIn(null);
            replaced.Ended = true;
        }
        _sessions[session.ClientId] = session;
        session.Shard = this;
        session.CountIn(Totals);
    }

    /// <summary>Removes this session if it is the one in the shard under its client id; returns whether it was.</summary>
    public bool Remove(Session session)
    {
        if (!_sessions.TryGetValue(session.ClientId, out var current) || current != session) return false;
        _sessions.Remove(session.ClientId);
        session.CountIn(null);
        session.Ended = true;
        return true;
    }
}
