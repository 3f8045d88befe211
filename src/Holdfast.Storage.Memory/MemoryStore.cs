using Holdfast.Broker;
using Holdfast.Broker.Storage;

namespace Holdfast.Storage.Memory;

/// <summary>
/// The in-memory store: keeps the broker's durable record in dictionaries, so a broker built on the same instance
/// recovers it (tests of recovery). Nothing survives the process. A committed change set is as durable as it gets at
/// once. Thread-safe: commits apply under the store's own lock.
/// </summary>
public sealed class MemoryStore : IBrokerStore
{
    private readonly Lock _lock = new();
    private readonly Dictionary<string, StoredSession> _sessions = new(StringComparer.Ordinal);
    private readonly Dictionary<string, SortedDictionary<long, (StoredDelivery Delivery, bool OwnsBody)>> _queues = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Dictionary<ushort, StoredInflight>> _inflight = new(StringComparer.Ordinal);
    private readonly Dictionary<string, HashSet<ushort>> _inboundQoS2 = new(StringComparer.Ordinal);
    private readonly Dictionary<string, long> _retained = new(StringComparer.Ordinal);
    private readonly Dictionary<string, PendingWill> _wills = new(StringComparer.Ordinal);
    private readonly Dictionary<long, (Message Message, int References)> _bodies = [];
    private long _sequence;

    public int SessionCount { get { lock (_lock) return _sessions.Count; } }
    public int QueuedCount(string clientId) { lock (_lock) return _queues.TryGetValue(clientId, out var q) ? q.Count : 0; }
    public int InflightCount(string clientId) { lock (_lock) return _inflight.TryGetValue(clientId, out var f) ? f.Count : 0; }
    public int InboundQoS2Count(string clientId) { lock (_lock) return _inboundQoS2.TryGetValue(clientId, out var s) ? s.Count : 0; }
    public int RetainedCount { get { lock (_lock) return _retained.Count; } }
    /// <summary>Message bodies in the message log: each is referred to by a record, or it should be gone.</summary>
    public int BodyCount { get { lock (_lock) return _bodies.Count; } }
    /// <summary>Whether a client id has any record at all (session, queue, inflight, inbound QoS 2, will).</summary>
    public bool HoldsAnything(string clientId)
    {
        lock (_lock)
            return _sessions.ContainsKey(clientId) || QueuedCount(clientId) > 0 || InflightCount(clientId) > 0
                || InboundQoS2Count(clientId) > 0 || _wills.ContainsKey(clientId);
    }

    public IChangeSet BeginChanges() => new Changes(this);

    // Nothing to wait for: a committed change set is as durable as this store gets.
    public bool IsDurable(long sequence) => true;
    public ValueTask WhenDurable(long sequence) => ValueTask.CompletedTask;
    public bool ReadsQueues => true;
    public long CommittedSequence { get { lock (_lock) return _sequence; } }

    public IReadOnlyList<StoredQueued> ReadQueued(string clientId, long fromSequence, int maxCount)
    {
        lock (_lock)
        {
            if (!_queues.TryGetValue(clientId, out var queue)) return [];
            return [.. queue.Where(q => q.Key >= fromSequence).Take(maxCount).Select(q => new StoredQueued(q.Key, q.Value.Delivery, q.Value.OwnsBody))];
        }
    }

    public StoredState Load(int queueHead = int.MaxValue)
    {
        lock (_lock)
        {
            var state = new StoredState();
            state.Sessions.AddRange(_sessions.Values);
            foreach (var (id, queue) in _queues)
            {
                state.Queues[id] = [.. queue.Take(queueHead).Select(q => new StoredQueued(q.Key, q.Value.Delivery, q.Value.OwnsBody))];
                var tail = queue.Skip(queueHead).ToList();
                if (tail.Count > 0)
                    state.QueueTails[id] = new StoredQueueTail(tail[0].Key, tail.Count, tail.Sum(q => (long)q.Value.Delivery.Message.Size), tail[^1].Key);
            }
            foreach (var (id, flows) in _inflight) state.Inflight[id] = [.. flows.Values.OrderBy(f => f.Order)];
            foreach (var (id, ids) in _inboundQoS2) state.InboundQoS2[id] = [.. ids];
            state.Retained.AddRange(_retained.Values.Select(id => _bodies[id].Message));
            foreach (var (id, will) in _wills) state.PendingWills[id] = will;
            state.LastMessageId = _bodies.Count == 0 ? 0 : _bodies.Keys.Max();
            return state;
        }
    }

    /// <summary>Applies one committed change set; called under the lock.</summary>
    private long Apply(List<Action<MemoryStore>> changes)
    {
        foreach (var change in changes) change(this);
        return ++_sequence;
    }

    private void Reference(Message message)
    {
        var (_, references) = _bodies.GetValueOrDefault(message.Id);
        _bodies[message.Id] = (message, references + 1);
    }

    private void Release(long messageId)
    {
        if (!_bodies.TryGetValue(messageId, out var body)) return;
        if (body.References > 1) _bodies[messageId] = (body.Message, body.References - 1);
        else _bodies.Remove(messageId);
    }

    private static TValue Of<TValue>(Dictionary<string, TValue> map, string clientId) where TValue : new()
    {
        if (!map.TryGetValue(clientId, out var value)) map[clientId] = value = new();
        return value;
    }

    /// <summary>Records changes as steps to apply at commit, so a change set reaches the dictionaries whole.</summary>
    private sealed class Changes(MemoryStore store) : IChangeSet
    {
        private readonly List<Action<MemoryStore>> _changes = [];

        public void Reference(Message message) => _changes.Add(s => s.Reference(message));
        public void Release(long messageId) => _changes.Add(s => s.Release(messageId));

        // One broker per store here: the epoch compare always holds.
        public void SaveSession(StoredSession session, long expectedEpoch) => _changes.Add(s => s._sessions[session.ClientId] = session);
        public void RemoveSession(string clientId, long expectedEpoch) => _changes.Add(s => s._sessions.Remove(clientId));

        public void AddQueued(string clientId, long sequence, StoredDelivery delivery, bool ownsBody) =>
            _changes.Add(s => Of(s._queues, clientId)[sequence] = (delivery, ownsBody));

        public void RemoveQueuedFrom(string clientId, long fromSequence) => _changes.Add(s =>
        {
            if (!s._queues.TryGetValue(clientId, out var queue)) return;
            foreach (long sequence in queue.Keys.Where(k => k >= fromSequence).ToList()) queue.Remove(sequence);
            if (queue.Count == 0) s._queues.Remove(clientId);
        });

        public void RemoveQueued(string clientId, long sequence) => _changes.Add(s =>
        {
            if (s._queues.TryGetValue(clientId, out var queue) && queue.Remove(sequence) && queue.Count == 0) s._queues.Remove(clientId);
        });

        public void SaveInflight(string clientId, StoredInflight inflight) =>
            _changes.Add(s => Of(s._inflight, clientId)[inflight.PacketId] = inflight);

        public void RemoveInflight(string clientId, ushort packetId) => _changes.Add(s =>
        {
            if (s._inflight.TryGetValue(clientId, out var flows) && flows.Remove(packetId) && flows.Count == 0) s._inflight.Remove(clientId);
        });

        public void SetInboundQoS2(string clientId, ushort packetId, bool awaitingPubRel) => _changes.Add(s =>
        {
            var ids = Of(s._inboundQoS2, clientId);
            if (awaitingPubRel) ids.Add(packetId);
            else if (ids.Remove(packetId) && ids.Count == 0) s._inboundQoS2.Remove(clientId);
        });

        public void SetPendingWill(string clientId, PendingWill? will) => _changes.Add(s =>
        {
            if (will is null) s._wills.Remove(clientId);
            else s._wills[clientId] = will;
        });

        public void SetRetained(Message message) => _changes.Add(s => s._retained[message.Topic] = message.Id);
        public void ClearRetained(string topic) => _changes.Add(s => s._retained.Remove(topic));

        public long Commit()
        {
            if (_changes.Count == 0) return 0;
            try
            {
                lock (store._lock) return store.Apply(_changes);
            }
            finally
            {
                _changes.Clear();
            }
        }
    }
}
