using Holdfast.Broker;
using Holdfast.Broker.Storage;
using Holdfast.Protocol;

namespace Holdfast.Storage.RocksDb;

/// <summary>
/// The durable store: the broker's record of sessions, queues, inflight flows, inbound QoS 2 ids, delayed wills and
/// retained messages, kept in a RocksDB data directory and written by one group-commit writer (<see cref="GroupCommit"/>).
///
/// The broker calls the recording methods under its lock; they turn each change into key-value puts and deletes
/// (<see cref="StoreKeys"/>) and return at once. A message body is written once, however many sessions (and the
/// retained topic) refer to it, and deleted with the last reference; the reference counts live here, in memory, and
/// are rebuilt by <see cref="Load"/>.
/// </summary>
public sealed class RocksDbStore : IBrokerStore, IDisposable
{
    private readonly IStoreFile _file;
    private readonly GroupCommit _commit;
    private readonly IBrokerLog _log;
    private readonly RecordWriter _writer = new();
    private readonly Dictionary<Message, Body> _bodies = new(ReferenceEqualityComparer.Instance);
    private readonly Dictionary<string, SessionRecords> _sessions = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Message> _retained = new(StringComparer.Ordinal);
    private long _lastBodyKey;
    private long _lastQueueSequence;
    private long _lastInflightOrder;
    private bool _disposed;

    /// <summary>A stored message body and how many records refer to it.</summary>
    private sealed class Body(long key)
    {
        public long Key { get; } = key;
        public int References { get; set; }
    }

    /// <summary>What this store has written for one session, to find the keys to delete later.</summary>
    private sealed class SessionRecords
    {
        public Queue<(long Sequence, Message Message)> Queue { get; } = new();
        public Dictionary<ushort, (long Order, Message Message)> Inflight { get; } = [];
        public HashSet<ushort> InboundQoS2 { get; } = [];
        public bool HasWill { get; set; }
    }

    public RocksDbStore(IStoreFile file, Durability durability, IBrokerLog? log = null)
    {
        _file = file;
        _log = log ?? NullBrokerLog.Instance;
        Durability = durability;
        _commit = new GroupCommit(file, durability, _log);
    }

    /// <summary>Opens the store in a data directory (created when missing). Throws <see cref="StoreOpenException"/> when it cannot be used.</summary>
    public static RocksDbStore Open(string directory, Durability durability, IBrokerLog? log = null) =>
        new(RocksDbFile.Open(directory), durability, log);

    public Durability Durability { get; }

    /// <summary>Writes that failed since the last success (0 = healthy).</summary>
    public int FailedWrites => _commit.FailedAttempts;

    /// <summary>Called after each successful group-commit write with its number of changes and its duration.</summary>
    public Action<int, TimeSpan>? Committed
    {
        get => _commit.Committed;
        set => _commit.Committed = value;
    }

    public void ShareLock(Lock brokerLock) => _commit.ShareLock(brokerLock);

    public long RecordedSequence => _commit.Recorded;

    public bool IsDurable(long sequence) => _commit.IsDurable(sequence);

    public ValueTask WhenDurable(long sequence) => _commit.WhenDurable(sequence);

    /// <summary>Waits until everything recorded so far is written (whatever the durability level).</summary>
    public void Flush() => _commit.Flush(TimeSpan.FromSeconds(30));

    public void SaveSession(StoredSession session)
    {
        if (!_sessions.ContainsKey(session.ClientId)) _sessions[session.ClientId] = new SessionRecords();
        _commit.Put(StoreKeys.ForName(StoreKeys.Session, session.ClientId), StoreRecords.Session(_writer, session, new StoreRecords.Clock()));
    }

    public void RemoveSession(string clientId)
    {
        // Sessions with expiry 0 are never saved, yet the broker removes them at every clean connect: nothing to write then.
        if (!_sessions.Remove(clientId, out var records)) return;
        foreach (var (sequence, message) in records.Queue)
        {
            _commit.Delete(StoreKeys.ForQueued(clientId, sequence));
            Release(message);
        }
        foreach (var (packetId, (_, message)) in records.Inflight)
        {
            _commit.Delete(StoreKeys.ForPacketId(StoreKeys.Inflight, clientId, packetId));
            Release(message);
        }
        foreach (ushort packetId in records.InboundQoS2)
            _commit.Delete(StoreKeys.ForPacketId(StoreKeys.InboundQoS2, clientId, packetId));
        if (records.HasWill) _commit.Delete(StoreKeys.ForName(StoreKeys.Will, clientId));
        _commit.Delete(StoreKeys.ForName(StoreKeys.Session, clientId));
    }

    public void AddQueued(string clientId, StoredDelivery delivery)
    {
        long sequence = ++_lastQueueSequence;
        long body = Retain(delivery.Message);
        Records(clientId).Queue.Enqueue((sequence, delivery.Message));
        _commit.Put(StoreKeys.ForQueued(clientId, sequence), StoreRecords.Delivery(_writer, body, delivery.QoS, delivery.Retain, delivery.SubscriptionIds));
    }

    public void RemoveOldestQueued(string clientId)
    {
        if (!_sessions.TryGetValue(clientId, out var records) || !records.Queue.TryDequeue(out var oldest)) return;
        _commit.Delete(StoreKeys.ForQueued(clientId, oldest.Sequence));
        Release(oldest.Message);
    }

    public void SaveInflight(string clientId, StoredInflight inflight)
    {
        var records = Records(clientId);
        var message = inflight.Delivery.Message;
        long order;
        if (records.Inflight.TryGetValue(inflight.PacketId, out var existing))
        {
            // A state change keeps the original send order: it is the resend order after a restart.
            order = existing.Order;
            if (!ReferenceEquals(existing.Message, message))
            {
                Retain(message);
                Release(existing.Message);
            }
        }
        else
        {
            order = ++_lastInflightOrder;
            Retain(message);
        }
        records.Inflight[inflight.PacketId] = (order, message);
        long body = _bodies[message].Key;
        _commit.Put(StoreKeys.ForPacketId(StoreKeys.Inflight, clientId, inflight.PacketId),
            StoreRecords.Inflight(_writer, order, inflight.State, body, inflight.Delivery));
    }

    public void RemoveInflight(string clientId, ushort packetId)
    {
        if (!_sessions.TryGetValue(clientId, out var records) || !records.Inflight.Remove(packetId, out var flow)) return;
        _commit.Delete(StoreKeys.ForPacketId(StoreKeys.Inflight, clientId, packetId));
        Release(flow.Message);
    }

    public void SetInboundQoS2(string clientId, ushort packetId, bool awaitingPubRel)
    {
        var records = Records(clientId);
        var key = StoreKeys.ForPacketId(StoreKeys.InboundQoS2, clientId, packetId);
        if (awaitingPubRel)
        {
            records.InboundQoS2.Add(packetId);
            _commit.Put(key, []);
        }
        else if (records.InboundQoS2.Remove(packetId))
        {
            _commit.Delete(key);
        }
    }

    public void SetRetained(Message message)
    {
        var key = StoreKeys.ForName(StoreKeys.Retained, message.Topic);
        _retained.Remove(message.Topic, out var previous);
        if (message.Payload.IsEmpty)
        {
            if (previous is not null) _commit.Delete(key);
        }
        else
        {
            long body = Retain(message);
            _retained[message.Topic] = message;
            _commit.Put(key, _writer.Int64(body).ToArray());
        }
        if (previous is not null) Release(previous);
    }

    public void SetPendingWill(string clientId, PendingWill? will)
    {
        var records = Records(clientId);
        var key = StoreKeys.ForName(StoreKeys.Will, clientId);
        if (will is not null)
        {
            records.HasWill = true;
            _commit.Put(key, StoreRecords.Will(_writer, will, new StoreRecords.Clock()));
        }
        else if (records.HasWill)
        {
            records.HasWill = false;
            _commit.Delete(key);
        }
    }

    private SessionRecords Records(string clientId)
    {
        if (!_sessions.TryGetValue(clientId, out var records)) _sessions[clientId] = records = new SessionRecords();
        return records;
    }

    /// <summary>One more reference to a message body; the body is written with the first.</summary>
    private long Retain(Message message)
    {
        if (!_bodies.TryGetValue(message, out var body))
        {
            _bodies[message] = body = new Body(++_lastBodyKey);
            _commit.Put(StoreKeys.ForBody(body.Key), StoreRecords.Body(_writer, message, new StoreRecords.Clock()));
        }
        body.References++;
        return body.Key;
    }

    /// <summary>One reference fewer; the body is deleted with the last.</summary>
    private void Release(Message message)
    {
        if (!_bodies.TryGetValue(message, out var body)) return;
        if (--body.References > 0) return;
        _bodies.Remove(message);
        _commit.Delete(StoreKeys.ForBody(body.Key));
    }

    public StoredState Load() => new StoreLoader(_file, this).Load();

    /// <summary>Reads the whole store back, rebuilding the reference counts and numbering as it goes.</summary>
    private sealed class StoreLoader(IStoreFile file, RocksDbStore store)
    {
        private readonly StoreRecords.Clock _clock = new();
        private readonly StoredState _state = new();
        private readonly Dictionary<long, Message> _bodiesByKey = [];
        private readonly Dictionary<long, Body> _references = [];

        public StoredState Load()
        {
            // Message bodies are the bulk of a large store: they are decoded on a second thread while the queues that
            // refer to them are read, and resolved once both are done.
            var bodies = Task.Run(() =>
            {
                foreach (var (key, value) in file.Scan(StoreKeys.Body))
                    Read(key, () =>
                    {
                        long bodyKey = StoreKeys.BodyKey(key);
                        _bodiesByKey[bodyKey] = StoreRecords.ReadBody(value, _clock);
                        store._lastBodyKey = Math.Max(store._lastBodyKey, bodyKey);
                    });
            });

            var queued = new List<(string ClientId, long Sequence, long BodyKey, QualityOfService QoS, bool Retain, List<uint>? Ids)>();
            try
            {
                foreach (var (key, value) in file.Scan(StoreKeys.Session))
                    Read(key, () =>
                    {
                        var session = StoreRecords.ReadSession(StoreKeys.Name(key), value, _clock);
                        _state.Sessions.Add(session);
                        store._sessions[session.ClientId] = new SessionRecords();
                    });

                string? lastClientId = null;
                foreach (var (key, value) in file.Scan(StoreKeys.Queued))
                    Read(key, () =>
                    {
                        var (clientId, sequence) = StoreKeys.ClientAndNumber(key);
                        // A queue's records are adjacent: share one string per client id rather than one per message.
                        if (clientId == lastClientId) clientId = lastClientId;
                        lastClientId = clientId;
                        var r = new RecordReader(value);
                        var (bodyKey, qos, retain, ids) = StoreRecords.ReadDelivery(ref r);
                        queued.Add((clientId, sequence, bodyKey, qos, retain, ids));
                    });
            }
            finally
            {
                // Even when this side failed: never leave the other scan running on a file that is about to be closed.
                ((IAsyncResult)bodies).AsyncWaitHandle.WaitOne();
            }
            bodies.GetAwaiter().GetResult();
            foreach (var (clientId, sequence, bodyKey, qos, retain, ids) in queued)
            {
                try
                {
                    var message = Reference(bodyKey);
                    store._lastQueueSequence = Math.Max(store._lastQueueSequence, sequence);
                    SessionOf(clientId).Queue.Enqueue((sequence, message));
                    ListOf(_state.Queues, clientId).Add(new StoredDelivery(message, qos, retain, ids));
                }
                catch (FormatException e)
                {
                    throw new StoreOpenException($"corrupt store record '{Describe(StoreKeys.ForQueued(clientId, sequence))}': {e.Message}", e);
                }
            }

            var inflight = new List<(string ClientId, long Order, StoredInflight Flow)>();
            foreach (var (key, value) in file.Scan(StoreKeys.Inflight))
                Read(key, () =>
                {
                    var (clientId, packetId) = StoreKeys.ClientAndNumber(key);
                    var r = new RecordReader(value);
                    long order = r.Int64();
                    var state = StoreRecords.Checked((InflightState)r.Byte());
                    var (bodyKey, qos, retain, ids) = StoreRecords.ReadDelivery(ref r);
                    var message = Reference(bodyKey);
                    store._lastInflightOrder = Math.Max(store._lastInflightOrder, order);
                    SessionOf(clientId).Inflight[(ushort)packetId] = (order, message);
                    inflight.Add((clientId, order, new StoredInflight((ushort)packetId, new StoredDelivery(message, qos, retain, ids), state)));
                });
            foreach (var (clientId, _, flow) in inflight.OrderBy(f => f.Order))
                ListOf(_state.Inflight, clientId).Add(flow);

            foreach (var (key, _) in file.Scan(StoreKeys.InboundQoS2))
                Read(key, () =>
                {
                    var (clientId, packetId) = StoreKeys.ClientAndNumber(key);
                    SessionOf(clientId).InboundQoS2.Add((ushort)packetId);
                    if (!_state.InboundQoS2.TryGetValue(clientId, out var ids)) _state.InboundQoS2[clientId] = ids = [];
                    ids.Add((ushort)packetId);
                });

            foreach (var (key, value) in file.Scan(StoreKeys.Will))
                Read(key, () =>
                {
                    string clientId = StoreKeys.Name(key);
                    _state.PendingWills[clientId] = StoreRecords.ReadWill(value, _clock);
                    SessionOf(clientId).HasWill = true;
                });

            foreach (var (key, value) in file.Scan(StoreKeys.Retained))
                Read(key, () =>
                {
                    var r = new RecordReader(value);
                    var message = Reference(r.Int64());
                    r.End();
                    store._retained[message.Topic] = message;
                    _state.Retained.Add(message);
                });

            foreach (var (bodyKey, message) in _bodiesByKey)
            {
                if (_references.TryGetValue(bodyKey, out var body)) store._bodies[message] = body;
                // A body nothing refers to cannot be reached; a batch is atomic, so this is only left by an older bug.
                else store._commit.Delete(StoreKeys.ForBody(bodyKey));
            }
            return _state;
        }

        private Message Reference(long bodyKey)
        {
            if (!_bodiesByKey.TryGetValue(bodyKey, out var message)) throw new FormatException($"refers to message body {bodyKey}, which is missing");
            if (!_references.TryGetValue(bodyKey, out var body)) _references[bodyKey] = body = new Body(bodyKey);
            body.References++;
            return message;
        }

        private SessionRecords SessionOf(string clientId)
        {
            if (!store._sessions.TryGetValue(clientId, out var records))
                throw new FormatException($"belongs to session '{clientId}', which is not stored");
            return records;
        }

        private static List<T> ListOf<T>(Dictionary<string, List<T>> lists, string clientId)
        {
            if (!lists.TryGetValue(clientId, out var list)) lists[clientId] = list = [];
            return list;
        }

        private static void Read(byte[] key, Action read)
        {
            try
            {
                read();
            }
            catch (Exception e) when (e is FormatException or ArgumentException or OverflowException or InvalidOperationException)
            {
                throw new StoreOpenException($"corrupt store record '{Describe(key)}': {e.Message}", e);
            }
        }

        private static string Describe(byte[] key) =>
            (char)key[0] + string.Concat(key.AsSpan(1).ToArray().Select(b => b is >= 0x20 and < 0x7F ? ((char)b).ToString() : $"\\x{b:x2}"));
    }

    /// <summary>Writes what is pending, then closes the data directory.</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        _commit.Dispose();
        _file.Dispose();
    }
}
