using Holdfast.Protocol;

namespace Holdfast.Broker;

/// <summary>
/// The server side of an MQTT session (MQTT 5.0 §4.1): subscriptions, outbound messages inflight and
/// queued, inbound QoS 2 packet ids awaiting PUBREL. Outlives its connections when persistent.
/// All state is guarded by the lock of its <see cref="SessionShard"/>. Its collections are made on first use: a session that never subscribes,
/// queues or takes part in a QoS 1/2 flow carries none of them. Messages are added and removed only through its methods,
/// which keep the broker's <see cref="SessionTotals"/> while the session is counted there (see <see cref="CountIn"/>).
/// </summary>
internal sealed class Session(string clientId)
{
    // Inflight messages by packet id, and in the order they were sent (an intrusive list through the messages themselves).
    private Dictionary<ushort, InflightMessage>? _inflightById;
    private InflightMessage? _oldestInflight, _newestInflight;
    // Records of completed flows kept for the next messages, so a steady QoS 1/2 stream allocates none.
    private InflightMessage? _spareInflight;
    private int _spareCount;
    private ushort _lastPacketId;
    // The last queue sequence and send order given out: they key the session's records in the store, so they only grow,
    // also across restarts (recovery continues after the stored ones).
    private long _lastQueueSequence;
    private long _lastSendOrder;
    private long _inflightBytes;
    private SessionTotals? _totals;

    /// <summary>Neighbours among the sessions with inflight messages, while counted in <see cref="SessionTotals"/>.</summary>
    internal Session? PreviousWithInflight { get; set; }
    internal Session? NextWithInflight { get; set; }

    /// <summary>Spare inflight records a session keeps at most: enough for acknowledgements that arrive in bursts,
    /// little enough that a session which once had a wide window does not hold on to it.</summary>
    public const int MaxSpareInflight = 8;

    public string ClientId { get; } = clientId;
    public ProtocolVersion Version { get; set; }

    /// <summary>Seconds the session outlives its connection; uint.MaxValue = never expires.</summary>
    public uint ExpiryInterval { get; set; }

    private long[]? _drops;

    /// <summary>Messages dropped for this session, by cause (the broker-wide counts are in <see cref="BrokerMetrics"/>).</summary>
    public long Dropped(DropCause cause) => _drops?[(int)cause] ?? 0;

    public void CountDrop(DropCause cause, long count = 1) => (_drops ??= new long[Enum.GetValues<DropCause>().Length])[(int)cause] += count;

    private Dictionary<string, Subscription>? _subscriptions;
    private HashSet<ushort>? _inboundQoS2;
    private Queue<QueuedMessage>? _queue;

    public Dictionary<string, Subscription> Subscriptions => _subscriptions ??= new(StringComparer.Ordinal);
    public int SubscriptionCount => _subscriptions?.Count ?? 0;

    /// <summary>Inbound QoS 2 packet ids whose PUBLISH was accepted and PUBREL is awaited (exactly-once on the receiving side).</summary>
    public HashSet<ushort> InboundQoS2 => _inboundQoS2 ??= [];
    public int InboundQoS2Count => _inboundQoS2?.Count ?? 0;
    public bool AwaitsPubRel(ushort packetId) => _inboundQoS2?.Contains(packetId) == true;

    // The queue is a head in memory (_queue) and, behind it, a tail kept on disk only: messages the store holds and gives
    // back when the head runs low (see Outbox), so that a long queue costs disk, not memory.
    private int _tailCount;
    private long _tailFrom, _tailBytes, _headBytes;

    /// <summary>Queued messages, the head and the tail on disk.</summary>
    public int QueuedCount => HeadCount + _tailCount;
    /// <summary>Queued messages in memory.</summary>
    public int HeadCount => _queue?.Count ?? 0;
    /// <summary>Queued messages on disk only, after the head; their sequences start at <see cref="TailFrom"/>.</summary>
    public int TailCount => _tailCount;
    public long TailFrom => _tailFrom;
    public long QueuedBytes => _headBytes + _tailBytes;
    /// <summary>QoS 0 messages in the head: while there are any, new QoS 0 messages queue behind them.</summary>
    public int QueuedQoS0 { get; private set; }

    /// <summary>The oldest queued message; call only when <see cref="HeadCount"/> is not 0.</summary>
    public QueuedMessage PeekQueued() => _queue!.Peek();

    /// <summary>Queued messages in memory, oldest first.</summary>
    public IEnumerable<QueuedMessage> Queued => _queue ?? Enumerable.Empty<QueuedMessage>();

    /// <summary>Appends a message under the next queue sequence, to the head, or with <paramref name="toTail"/> to the tail on
    /// disk (not kept here: the caller records it, body and all); returns it with that sequence.</summary>
    public QueuedMessage Enqueue(QueuedMessage queued, bool toTail = false)
    {
        queued = queued with { Sequence = ++_lastQueueSequence, OwnsBody = toTail };
        if (!toTail) { Append(queued); return queued; }
        if (_tailCount == 0) _tailFrom = queued.Sequence;
        _tailCount++;
        _tailBytes += queued.Message.Size;
        if (_totals is { } totals)
        {
            totals.QueuedMessages++;
            totals.QueuedBytes += queued.Message.Size;
        }
        return queued;
    }

    /// <summary>A message of the tail, read back from the store, moves into the head (it is the tail's first).</summary>
    public void TakeFromTail(QueuedMessage queued)
    {
        _tailCount--;
        _tailBytes -= queued.Message.Size;
        _tailFrom = queued.Sequence + 1;
        if (_totals is { } totals)
        {
            totals.QueuedMessages--;
            totals.QueuedBytes -= queued.Message.Size;
        }
        Append(queued);
    }

    /// <summary>The tail of a queue recovered from the store (after its head, <see cref="RestoreQueued"/>).</summary>
    public void RestoreTail(long from, int count, long bytes, long lastSequence)
    {
        _lastQueueSequence = Math.Max(_lastQueueSequence, lastSequence);
        _tailFrom = from;
        _tailCount = count;
        _tailBytes = bytes;
        if (_totals is { } totals)
        {
            totals.QueuedMessages += count;
            totals.QueuedBytes += bytes;
        }
    }

    /// <summary>Appends a message recovered from the store, keeping its sequence.</summary>
    public void RestoreQueued(QueuedMessage queued)
    {
        _lastQueueSequence = Math.Max(_lastQueueSequence, queued.Sequence);
        Append(queued);
    }

    private void Append(QueuedMessage queued)
    {
        (_queue ??= new()).Enqueue(queued);
        _headBytes += queued.Message.Size;
        if (queued.QoS == QualityOfService.AtMostOnce) QueuedQoS0++;
        if (_totals is { } totals)
        {
            totals.QueuedMessages++;
            totals.HeldBytes += queued.Message.Size;
            totals.QueuedBytes += queued.Message.Size;
        }
    }

    public QueuedMessage Dequeue()
    {
        var next = _queue!.Dequeue();
        _headBytes -= next.Message.Size;
        if (next.QoS == QualityOfService.AtMostOnce) QueuedQoS0--;
        if (_totals is { } totals)
        {
            totals.QueuedMessages--;
            totals.HeldBytes -= next.Message.Size;
            totals.QueuedBytes -= next.Message.Size;
        }
        return next;
    }

    private ConnectedClient? _client;

    /// <summary>The connected client, or null while the session is offline.</summary>
    public ConnectedClient? Client
    {
        get => _client;
        set
        {
            if (_totals is { } totals && (_client is null) != (value is null)) totals.ClientsConnected += value is null ? -1 : 1;
            _client = value;
        }
    }
    public bool IsConnected => Client is not null;

    /// <summary>Who the latest connection was, kept while the session is offline (not the connection itself) and with the
    /// session record: it decides what the session may read and whether its will may be published. Null only for a session
    /// recovered from a record written before identities were kept, until it reconnects.</summary>
    internal SessionIdentity? Identity { get; set; }

    /// <summary>Monotonic ms when the last connection ended (for expiry).</summary>
    public long DisconnectedAt { get; set; }

    /// <summary>The shard the session lives in (set when it is added): its lock guards this session and its connection.</summary>
    internal SessionShard Shard { get; set; } = null!;

    /// <summary>Removed from its shard (ended, or replaced): an operation that found it through an older match skips it.</summary>
    internal bool Ended { get; set; }

    /// <summary>When the broker's deadline queue next looks at this session (monotonic ms); long.MaxValue = not queued.</summary>
    internal long ScheduledDue { get; set; } = long.MaxValue;

    /// <summary>The epoch of the session's record in the store (see <see cref="Storage.ISessionChanges"/>); 0 while the store
    /// holds none (a session with expiry 0 is never stored). Only a stored session's changes are recorded.</summary>
    public long StoredEpoch { get; set; }
    public bool IsStored => StoredEpoch > 0;

    /// <summary>A will waiting for its delay (or for the session to end).</summary>
    public PendingWill? PendingWill { get; set; }

    /// <summary>The current connection's send window: min(max_inflight_messages, the client's Receive Maximum).</summary>
    public int InflightWindow { get; set; } = 65535;

    public int InflightCount => _inflightById?.Count ?? 0;
    /// <summary>Inflight messages not yet resent on the current connection (after a reconnect).</summary>
    public int UnsentInflight { get; set; }
    public bool HasInflightRoom => InflightCount < InflightWindow;
    /// <summary>Oldest first. Removing the message just returned while enumerating is allowed.</summary>
    public IEnumerable<InflightMessage> Inflight
    {
        get
        {
            for (var m = _oldestInflight; m is not null;)
            {
                var next = m.Next;
                yield return m;
                m = next;
            }
        }
    }

    public InflightMessage? OldestInflight => _oldestInflight;

    public InflightMessage? FindInflight(ushort packetId) => _inflightById?.GetValueOrDefault(packetId);

    /// <summary>Gives the next packet id not held by an unfinished flow [MQTT-2.2.1-3]. Call only with room in the window.</summary>
    public ushort NextPacketId()
    {
        for (int i = 0; i < 65535; i++)
        {
            _lastPacketId = (ushort)(_lastPacketId == 65535 ? 1 : _lastPacketId + 1);
            if (InflightCount == 0 || !_inflightById!.ContainsKey(_lastPacketId)) return _lastPacketId;
        }
        throw new InvalidOperationException("no free packet id");
    }

    /// <summary>After recovery: continue numbering after the highest id in use, so no id a client may still hold is reused soon.</summary>
    public void SkipPacketIdsInUse()
    {
        if (InflightCount > 0) _lastPacketId = _inflightById!.Keys.Max();
    }

    /// <summary>Makes a new inflight message (reusing a spare record when there is one) and adds it as the newest.</summary>
    public InflightMessage StartInflight(ushort packetId, Message message, QualityOfService qos, bool retain, List<uint>? subscriptionIds)
    {
        InflightMessage m;
        if (_spareInflight is { } spare)
        {
            _spareInflight = spare.Next;
            _spareCount--;
            m = spare;
            m.Start(packetId, message, qos, retain, subscriptionIds);
        }
        else
        {
            m = new InflightMessage(packetId, message, qos, retain, subscriptionIds);
        }
        m.Order = ++_lastSendOrder;
        AddInflight(m);
        return m;
    }

    /// <summary>Adds an inflight message as the newest; one recovered from the store keeps its <see cref="InflightMessage.Order"/>.</summary>
    public void AddInflight(InflightMessage message)
    {
        _lastSendOrder = Math.Max(_lastSendOrder, message.Order);
        (_inflightById ??= []).Add(message.PacketId, message);
        message.Previous = _newestInflight;
        message.Next = null;
        if (_newestInflight is null) _oldestInflight = message;
        else _newestInflight.Next = message;
        _newestInflight = message;
        _inflightBytes += message.Message.Size;
        if (_totals is { } totals)
        {
            totals.InflightMessages++;
            totals.HeldBytes += message.Message.Size;
            if (InflightCount == 1) totals.AddWithInflight(this);
        }
    }

    /// <summary>Ends the flow of <paramref name="packetId"/>. Its record may be reused at once: callers take what they
    /// still need from it before.</summary>
    public bool RemoveInflight(ushort packetId)
    {
        if (_inflightById is null || !_inflightById.Remove(packetId, out var m)) return false;
        if (m.Previous is null) _oldestInflight = m.Next;
        else m.Previous.Next = m.Next;
        if (m.Next is null) _newestInflight = m.Previous;
        else m.Next.Previous = m.Previous;
        if (!m.Sent) UnsentInflight--;
        _inflightBytes -= m.Message.Size;
        if (_totals is { } totals)
        {
            totals.InflightMessages--;
            totals.HeldBytes -= m.Message.Size;
            if (InflightCount == 0) totals.RemoveWithInflight(this);
        }
        m.Forget();
        if (_spareCount < MaxSpareInflight)
        {
            m.Next = _spareInflight;
            _spareInflight = m;
            _spareCount++;
        }
        return true;
    }

    public void ClearMessages()
    {
        var totals = _totals;
        CountIn(null);
        _oldestInflight = _newestInflight = null;
        _inflightById = null;
        _inflightBytes = 0;
        UnsentInflight = 0;
        _queue = null;
        _headBytes = _tailBytes = _tailFrom = 0;
        _tailCount = 0;
        QueuedQoS0 = 0;
        _inboundQoS2 = null;
        CountIn(totals);
    }

    /// <summary>Moves what this session holds (its connection, inflight and queued messages) out of the totals it is
    /// counted in, and into <paramref name="totals"/> (null: counted nowhere). Its methods keep those totals from then on.</summary>
    internal void CountIn(SessionTotals? totals)
    {
        if (_totals is { } old) Add(old, -1);
        _totals = totals;
        if (totals is not null) Add(totals, 1);
    }

    private void Add(SessionTotals totals, int sign)
    {
        if (_client is not null) totals.ClientsConnected += sign;
        totals.InflightMessages += sign * InflightCount;
        totals.QueuedMessages += sign * QueuedCount;
        totals.HeldBytes += sign * (_inflightBytes + _headBytes);
        totals.QueuedBytes += sign * QueuedBytes;
        if (InflightCount == 0) return;
        if (sign > 0) totals.AddWithInflight(this);
        else totals.RemoveWithInflight(this);
    }

    public override string ToString() => ClientId;
}

/// <summary>The listener and user name of a session's latest connection. <paramref name="Policy"/> is that listener's
/// policy, or null when a session recovered from the store names a listener the config no longer has (renamed, removed).</summary>
internal sealed record SessionIdentity(string ListenerName, string? UserName, ListenerPolicy? Policy);

/// <summary>A will held back by its Will Delay Interval (monotonic ms). It becomes a message only when published, so
/// its Message Expiry Interval counts from then [MQTT 5.0 §3.1.3.2.4].</summary>
public sealed record PendingWill(WillMessage Will, long PublishAt);
