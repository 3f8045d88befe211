using Holdfast.Broker;
using Holdfast.Broker.Storage;

namespace Holdfast.Storage.Memory;

/// <summary>
/// The in-memory store: keeps the broker's durable record in dictionaries, so a broker built on the same
/// instance recovers it (tests of recovery, and <c>persistence false</c>). Nothing survives the process.
/// Every change is as durable as it gets at once. Thread-safe, although the broker already calls it under its lock.
/// </summary>
public sealed class MemoryStore : IBrokerStore
{
    private readonly Lock _lock = new();
    private readonly Dictionary<string, StoredSession> _sessions = new(StringComparer.Ordinal);
    private readonly Dictionary<string, LinkedList<StoredDelivery>> _queues = new(StringComparer.Ordinal);
    private readonly Dictionary<string, SortedDictionary<long, StoredInflight>> _inflight = new(StringComparer.Ordinal);
    private readonly Dictionary<(string, ushort), long> _inflightOrder = [];
    private readonly Dictionary<string, HashSet<ushort>> _inboundQoS2 = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Message> _retained = new(StringComparer.Ordinal);
    private readonly Dictionary<string, PendingWill> _wills = new(StringComparer.Ordinal);
    private long _sequence;

    public int SessionCount { get { lock (_lock) return _sessions.Count; } }
    public int QueuedCount(string clientId) { lock (_lock) return _queues.TryGetValue(clientId, out var q) ? q.Count : 0; }
    public int InflightCount(string clientId) { lock (_lock) return _inflight.TryGetValue(clientId, out var f) ? f.Count : 0; }
    public int InboundQoS2Count(string clientId) { lock (_lock) return _inboundQoS2.TryGetValue(clientId, out var s) ? s.Count : 0; }
    public int RetainedCount { get { lock (_lock) return _retained.Count; } }

    // Every change is complete the moment it is made: nothing is written in the background.
    public void ShareLock(Lock brokerLock) { }

    public void SaveSession(StoredSession session) { lock (_lock) _sessions[session.ClientId] = session; }

    public void RemoveSession(string clientId)
    {
        lock (_lock)
        {
            _sessions.Remove(clientId);
            _queues.Remove(clientId);
            if (_inflight.Remove(clientId, out var flows))
                foreach (var f in flows.Values) _inflightOrder.Remove((clientId, f.PacketId));
            _inboundQoS2.Remove(clientId);
            _wills.Remove(clientId);
        }
    }

    public void AddQueued(string clientId, StoredDelivery delivery)
    {
        lock (_lock)
        {
            if (!_queues.TryGetValue(clientId, out var queue)) _queues[clientId] = queue = new();
            queue.AddLast(delivery);
        }
    }

    public void RemoveOldestQueued(string clientId)
    {
        lock (_lock)
            if (_queues.TryGetValue(clientId, out var queue) && queue.Count > 0) queue.RemoveFirst();
    }

    public void SaveInflight(string clientId, StoredInflight inflight)
    {
        lock (_lock)
        {
            if (!_inflight.TryGetValue(clientId, out var flows)) _inflight[clientId] = flows = new();
            // Keep the original send order across state changes: it is the resend order after a restart.
            if (!_inflightOrder.TryGetValue((clientId, inflight.PacketId), out long order))
                _inflightOrder[(clientId, inflight.PacketId)] = order = ++_sequence;
            flows[order] = inflight;
        }
    }

    public void RemoveInflight(string clientId, ushort packetId)
    {
        lock (_lock)
        {
            if (_inflightOrder.Remove((clientId, packetId), out long order) && _inflight.TryGetValue(clientId, out var flows))
                flows.Remove(order);
        }
    }

    public void SetInboundQoS2(string clientId, ushort packetId, bool awaitingPubRel)
    {
        lock (_lock)
        {
            if (!_inboundQoS2.TryGetValue(clientId, out var ids)) _inboundQoS2[clientId] = ids = [];
            if (awaitingPubRel) ids.Add(packetId); else ids.Remove(packetId);
        }
    }

    public void SetRetained(Message message)
    {
        lock (_lock)
        {
            if (message.Payload.IsEmpty) _retained.Remove(message.Topic);
            else _retained[message.Topic] = message;
        }
    }

    public void SetPendingWill(string clientId, PendingWill? will)
    {
        lock (_lock)
        {
            if (will is null) _wills.Remove(clientId);
            else _wills[clientId] = will;
        }
    }

    // Nothing to wait for: the record is as durable as this store gets the moment it is made.
    public long RecordedSequence => 0;
    public bool IsDurable(long sequence) => true;
    public ValueTask WhenDurable(long sequence) => ValueTask.CompletedTask;

    public StoredState Load()
    {
        lock (_lock)
        {
            var state = new StoredState();
            state.Sessions.AddRange(_sessions.Values);
            foreach (var (id, queue) in _queues) state.Queues[id] = [.. queue];
            foreach (var (id, flows) in _inflight) state.Inflight[id] = [.. flows.Values];
            foreach (var (id, ids) in _inboundQoS2) state.InboundQoS2[id] = [.. ids];
            state.Retained.AddRange(_retained.Values);
            foreach (var (id, will) in _wills) state.PendingWills[id] = will;
            return state;
        }
    }
}
