using Holdfast.Broker;
using Holdfast.Broker.Storage;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Holdfast.Protocol;

namespace Holdfast.Storage.RocksDb;

/// <summary>
/// The durable store: the broker's record of sessions, queues, inflight flows, inbound QoS 2 ids, delayed wills and
/// retained messages, kept in a RocksDB data directory and written by one group-commit writer (<see cref="GroupCommit"/>).
///
/// The broker records each operation into a change set (<see cref="RocksDbChanges"/>), which turns the changes into
/// key-value puts and deletes (<see cref="StoreKeys"/>); its commit appends them whole to the writer's pending batch. A
/// message body is written once under its message id, however many records (and the retained topic) refer to it, and
/// deleted with the last reference: the reference counts, by message id, are this store's only state besides the file,
/// kept under its own lock and rebuilt by <see cref="Load"/>.
/// </summary>
public sealed class RocksDbStore : IBrokerStore, IDisposable
{
    private readonly IStoreFile _file;
    private readonly GroupCommit _commit;
    private readonly IBrokerLog _log;
    /// <summary>Guards the reference counts, so that a commit counts and appends as one step.</summary>
    private readonly Lock _lock = new();
    private readonly Dictionary<long, int> _references = [];
    private bool _disposed;

    /// <param name="clock">The broker's clock: times are stored as Unix milliseconds and read back on it.</param>
    public RocksDbStore(IStoreFile file, Durability durability, IBrokerLog? log = null, BrokerClock? clock = null)
    {
        Clock = clock ?? BrokerClock.System;
        _file = file;
        _log = log ?? NullBrokerLog.Instance;
        Durability = durability;
        _commit = new GroupCommit(file, durability, _log);
    }

    /// <summary>Opens the store in a data directory (created when missing). Throws <see cref="StoreOpenException"/> when it cannot be used.</summary>
    public static RocksDbStore Open(string directory, Durability durability, IBrokerLog? log = null, BrokerClock? clock = null, StoreOptions? options = null) =>
        new(RocksDbFile.Open(directory, options), durability, log, clock);

    public Durability Durability { get; }

    public BrokerClock Clock { get; }

    /// <summary>Writes that failed since the last success (0 = healthy).</summary>
    public int FailedWrites => _commit.FailedAttempts;

    /// <summary>Called after each successful group-commit write with its number of changes and its duration.</summary>
    public Action<int, TimeSpan>? Committed
    {
        get => _commit.Committed;
        set => _commit.Committed = value;
    }

    /// <summary>The sequence of the last change set committed (0: none yet).</summary>
    public long CommittedSequence => _commit.Recorded;

    public IChangeSet BeginChanges() => new RocksDbChanges(this);

    public bool IsDurable(long sequence) => _commit.IsDurable(sequence);

    public ValueTask WhenDurable(long sequence) => _commit.WhenDurable(sequence);

    /// <summary>Waits until everything committed so far is written (whatever the durability level).</summary>
    public void Flush() => _commit.Flush(TimeSpan.FromSeconds(30));

    /// <summary>Counts a change set's references (first ones write the body, a body whose count reaches 0 is deleted) and
    /// appends it. References before releases: a message moving from a queue into a flow is never counted out between.</summary>
    internal long Commit(RocksDbChanges changes)
    {
        var ops = changes.Ops;
        lock (_lock)
        {
            foreach (var message in changes.Referenced)
            {
                ref int count = ref CollectionsMarshal.GetValueRefOrAddDefault(_references, message.Id, out _);
                if (count++ == 0) ops.Add(new StoreOp(StoreKeys.ForBody(message.Id), StoreRecords.Body(changes.Writer, message, new StoreRecords.Clock(Clock))));
            }
            foreach (long id in changes.Released)
            {
                ref int count = ref CollectionsMarshal.GetValueRefOrNullRef(_references, id);
                // A release of a body this store does not hold (never referenced) changes nothing.
                if (Unsafe.IsNullRef(ref count) || --count > 0) continue;
                _references.Remove(id);
                ops.Add(new StoreOp(StoreKeys.ForBody(id), null));
            }
            return _commit.Append(ops);
        }
    }

    public StoredState Load(int queueHead = int.MaxValue) => new StoreLoader(_file, this, queueHead).Load();

    public bool ReadsQueues => true;

    public IReadOnlyList<StoredQueued> ReadQueued(string clientId, long fromSequence, int maxCount)
    {
        var from = StoreKeys.ForQueued(clientId, fromSequence);
        var clock = new StoreRecords.Clock(Clock);
        var read = new List<StoredQueued>(Math.Min(maxCount, 256));
        if (maxCount <= 0) return read;
        // The session's queue keys share everything but the sequence, its last 8 bytes.
        foreach (var (key, value) in _file.Scan(from, from.Length - 8))
        {
            var (_, sequence) = StoreKeys.ClientAndNumber(key);
            var r = new RecordReader(value);
            var (ownsBody, _, body) = StoreRecords.ReadQueuedHeader(ref r);
            var (messageId, qos, retain, ids) = StoreRecords.ReadDelivery(ref r);
            body ??= _file.Read(StoreKeys.ForBody(messageId))
                ?? throw new InvalidOperationException($"queued message {sequence} of {clientId} refers to message body {messageId}, which is missing");
            read.Add(new StoredQueued(sequence, new StoredDelivery(StoreRecords.ReadBody(messageId, body, clock), qos, retain, ids), ownsBody));
            if (read.Count == maxCount) break;
        }
        return read;
    }

    /// <summary>Reads the store back, rebuilding the reference counts as it goes; of each queue only the head, the rest
    /// counted (its records carry their sizes).</summary>
    private sealed class StoreLoader(IStoreFile file, RocksDbStore store, int queueHead)
    {
        private readonly StoreRecords.Clock _clock = new(store.Clock);
        private readonly StoredState _state = new();
        private readonly Dictionary<long, Message> _bodies = [];
        private readonly HashSet<string> _sessions = new(StringComparer.Ordinal);

        public StoredState Load()
        {
            // Message bodies are the bulk of a large store: they are decoded on a second thread while the queues that
            // refer to them are read, and resolved once both are done.
            var bodies = Task.Run(() =>
            {
                foreach (var (key, value) in file.Scan(StoreKeys.Body))
                    Read(key, () =>
                    {
                        long id = StoreKeys.MessageId(key);
                        _bodies[id] = StoreRecords.ReadBody(id, value, _clock);
                        _state.LastMessageId = Math.Max(_state.LastMessageId, id);
                    });
            });

            var queued = new List<(string ClientId, long Sequence, long MessageId, QualityOfService QoS, bool Retain, List<uint>? Ids, byte[]? Body)>();
            var tailReferences = new List<(string ClientId, long Sequence, long MessageId)>();
            long lastOwnedId = 0;
            try
            {
                foreach (var (key, value) in file.Scan(StoreKeys.Session))
                    Read(key, () =>
                    {
                        var session = StoreRecords.ReadSession(StoreKeys.Name(key), value, _clock);
                        _state.Sessions.Add(session);
                        _sessions.Add(session.ClientId);
                    });

                string? lastClientId = null;
                int headCount = 0;
                foreach (var (key, value) in file.Scan(StoreKeys.Queued))
                    Read(key, () =>
                    {
                        var (clientId, sequence) = StoreKeys.ClientAndNumber(key);
                        // A queue's records are adjacent: share one string per client id rather than one per message.
                        if (clientId == lastClientId) clientId = lastClientId;
                        else headCount = 0;
                        lastClientId = clientId;
                        var r = new RecordReader(value);
                        var (ownsBody, size, body) = StoreRecords.ReadQueuedHeader(ref r);
                        var (messageId, qos, retain, ids) = StoreRecords.ReadDelivery(ref r);
                        if (ownsBody) lastOwnedId = Math.Max(lastOwnedId, messageId);
                        if (headCount++ < queueHead)
                        {
                            queued.Add((clientId, sequence, messageId, qos, retain, ids, body));
                            return;
                        }
                        // The tail stays on disk: counted here, read when the head drains.
                        CheckSession(clientId);
                        var tail = _state.QueueTails.GetValueOrDefault(clientId);
                        _state.QueueTails[clientId] = tail is null ? new StoredQueueTail(sequence, 1, size, sequence)
                            : tail with { Count = tail.Count + 1, Bytes = tail.Bytes + size, LastSequence = sequence };
                        if (!ownsBody) tailReferences.Add((clientId, sequence, messageId));
                    });
            }
            finally
            {
                // Even when this side failed: never leave the other scan running on a file that is about to be closed.
                ((IAsyncResult)bodies).AsyncWaitHandle.WaitOne();
            }
            bodies.GetAwaiter().GetResult();
            _state.LastMessageId = Math.Max(_state.LastMessageId, lastOwnedId);
            foreach (var (clientId, sequence, messageId, qos, retain, ids, body) in queued)
            {
                try
                {
                    CheckSession(clientId);
                    // In key order: by client id, then by queue sequence, which is queue order.
                    var message = body is null ? Reference(messageId) : StoreRecords.ReadBody(messageId, body, _clock);
                    ListOf(_state.Queues, clientId).Add(new StoredQueued(sequence, new StoredDelivery(message, qos, retain, ids), body is not null));
                }
                catch (FormatException e)
                {
                    throw new StoreOpenException($"corrupt store record '{Describe(StoreKeys.ForQueued(clientId, sequence))}': {e.Message}", e);
                }
            }
            foreach (var (clientId, sequence, messageId) in tailReferences)
            {
                try
                {
                    Reference(messageId);
                }
                catch (FormatException e)
                {
                    throw new StoreOpenException($"corrupt store record '{Describe(StoreKeys.ForQueued(clientId, sequence))}': {e.Message}", e);
                }
            }

            foreach (var (key, value) in file.Scan(StoreKeys.Inflight))
                Read(key, () =>
                {
                    var (clientId, packetId) = StoreKeys.ClientAndNumber(key);
                    CheckSession(clientId);
                    var r = new RecordReader(value);
                    long order = r.Int64();
                    var state = StoreRecords.Checked((InflightState)r.Byte());
                    var (messageId, qos, retain, ids) = StoreRecords.ReadDelivery(ref r);
                    ListOf(_state.Inflight, clientId).Add(new StoredInflight((ushort)packetId, order, new StoredDelivery(Reference(messageId), qos, retain, ids), state));
                });
            // Keyed by packet id: the send order is the resend order.
            foreach (var flows in _state.Inflight.Values) flows.Sort((a, b) => a.Order.CompareTo(b.Order));

            foreach (var (key, _) in file.Scan(StoreKeys.InboundQoS2))
                Read(key, () =>
                {
                    var (clientId, packetId) = StoreKeys.ClientAndNumber(key);
                    CheckSession(clientId);
                    if (!_state.InboundQoS2.TryGetValue(clientId, out var ids)) _state.InboundQoS2[clientId] = ids = [];
                    ids.Add((ushort)packetId);
                });

            foreach (var (key, value) in file.Scan(StoreKeys.Will))
                Read(key, () =>
                {
                    string clientId = StoreKeys.Name(key);
                    CheckSession(clientId);
                    _state.PendingWills[clientId] = StoreRecords.ReadWill(value, _clock);
                });

            foreach (var (key, value) in file.Scan(StoreKeys.Retained))
                Read(key, () =>
                {
                    var r = new RecordReader(value);
                    var message = Reference(r.Int64());
                    r.End();
                    _state.Retained.Add(message);
                });

            List<StoreOp>? unreferenced = null;
            foreach (long id in _bodies.Keys)
                // A body nothing refers to cannot be reached; a change set is written whole, so this is only left by an older bug.
                if (!store._references.ContainsKey(id)) (unreferenced ??= []).Add(new StoreOp(StoreKeys.ForBody(id), null));
            if (unreferenced is not null) lock (store._lock) store._commit.Append(unreferenced);
            return _state;
        }

        private Message Reference(long messageId)
        {
            if (!_bodies.TryGetValue(messageId, out var message)) throw new FormatException($"refers to message body {messageId}, which is missing");
            lock (store._lock) CollectionsMarshal.GetValueRefOrAddDefault(store._references, messageId, out _)++;
            return message;
        }

        private void CheckSession(string clientId)
        {
            if (!_sessions.Contains(clientId)) throw new FormatException($"belongs to session '{clientId}', which is not stored");
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
