using Holdfast.Broker.Routing;
using Holdfast.Broker.Storage;
using Holdfast.Protocol;

namespace Holdfast.Broker;

/// <summary>
/// The broker engine: sessions, subscriptions, routing, inflight windows, queues, retained messages, wills
/// and expiry. It knows nothing of sockets or files: the server hands it decoded packets with the
/// <see cref="ConnectedClient"/> they came from, and it answers through <see cref="IClientConnection"/>.
/// Each packet's handling lives in Handlers/ (one file per packet, as in Mosquitto's src/).
///
/// Concurrency: all session state is guarded by one lock. Work under the lock is bounded (routing plus
/// queuing packets for send); encoding and socket I/O happen on the connections' own loops. Each entry point that holds
/// the lock is one <see cref="BrokerOperation"/>: its store changes are committed, and its packets sent, at its end.
/// </summary>
public sealed partial class MqttBroker : IDisposable
{
    private readonly Lock _lock = new();
    private readonly SessionTable _sessions = new();
    private readonly SubscriptionTree _subscriptions = new();
    private readonly RetainedTree _retained = new();
    private readonly Dictionary<Session, DeliveryTarget> _targets = [];
    private readonly List<(Session Session, DeliveryTarget Target)> _deliveries = [];
    private readonly Dictionary<uint, List<uint>> _identifierLists = [];
    private readonly ITimer _timer;
    private TaskCompletionSource? _roomFreed;
    private bool _shuttingDown;

    /// <param name="store">Where durable state is recorded and recovered from; null records nothing (embedding, unit tests).</param>
    /// <param name="listeners">The policies clients connect with: a session recovered from the store is judged (acl_file) by
    /// the one of its last connection, found by name.</param>
    /// <param name="time">The clock every timer decision reads (tests pass a fake one); the system clock by default.</param>
    public MqttBroker(BrokerOptions? options = null, IBrokerLog? log = null, IBrokerStore? store = null, IEnumerable<ListenerPolicy>? listeners = null,
        TimeProvider? time = null)
    {
        Clock = time is null ? BrokerClock.System : new BrokerClock(time);
        Options = options ?? new BrokerOptions();
        Log = log ?? NullBrokerLog.Instance;
        _store = store ?? UnrecordedStore.Instance;
        _operation = new BrokerOperation(_store.BeginChanges());
        KnowListeners(listeners ?? []);
        Recover();
        _timer = Clock.Time.CreateTimer(_ => Tick(), null, TickInterval, TickInterval);
    }

    /// <summary>How often due timer work (will delay, session expiry, ack timeout, 3.1.1 retry) is looked for.</summary>
    public static readonly TimeSpan TickInterval = TimeSpan.FromMilliseconds(100);

    public BrokerClock Clock { get; }
    public BrokerOptions Options { get; }
    public IBrokerLog Log { get; }
    public BrokerMetrics Metrics { get; } = new();

    public int SessionCount { get { lock (_lock) return _sessions.Count; } }
    public int ConnectedCount { get { lock (_lock) return _sessions.Totals.ClientsConnected; } }
    public int RetainedCount { get { lock (_lock) return _retained.Count; } }
    public int SubscriptionCount { get { lock (_lock) return _subscriptions.Count; } }

    private long Now => Clock.Now;

    /// <summary>The broker's Receive Maximum as advertised to MQTT 5 clients.</summary>
    private int ReceiveMaximum => Options.ReceiveMaximum;

    /// <summary>Per-session delivery decided by routing: overlapping subscriptions of one session collapse
    /// into one delivery at the highest granted QoS carrying every matching subscription identifier.</summary>
    private struct DeliveryTarget
    {
        public QualityOfService QoS;
        public bool RetainAsPublished;
        public List<uint>? SubscriptionIds;
    }

    private enum RouteResult { Accepted, NoSubscribers, QueueFull }

    /// <summary>
    /// Routes a message to every matching session. With <paramref name="blockWhenFull"/> (the default
    /// queue_full_policy for QoS 1/2 publishes) nothing is delivered anywhere when one target's queue is
    /// full, so the publisher can be refused or held back without a partial delivery.
    /// </summary>
    private RouteResult Route(BrokerOperation op, Message message, bool blockWhenFull)
    {
        _targets.Clear();
        _deliveries.Clear();
        var matched = _subscriptions.Match(message.Topic);

        foreach (var (session, sub) in matched.Subscribers)
        {
            if (sub.NoLocal && session.ClientId == message.PublisherClientId) continue;
            var qos = (QualityOfService)Math.Min((int)message.QoS, (int)sub.MaximumQoS);
            if (_targets.TryGetValue(session, out var t))
            {
                if (qos > t.QoS) t.QoS = qos;
                t.RetainAsPublished |= sub.RetainAsPublished;
            }
            else
            {
                t = new DeliveryTarget { QoS = qos, RetainAsPublished = sub.RetainAsPublished };
            }
            // A new list for a second identifier: lists handed to deliveries are shared and never changed.
            if (sub.SubscriptionIdentifier is { } id) t.SubscriptionIds = t.SubscriptionIds is null ? IdentifierList(id) : [.. t.SubscriptionIds, id];
            _targets[session] = t;
        }

        foreach (var (session, t) in _targets) _deliveries.Add((session, t));

        // A shared group delivers each message to one member, chosen round-robin among those able to take it. It is a
        // subscription of its own: a member that also matches plainly gets both copies.
        foreach (var group in matched.SharedGroups)
        {
            // Among the members that may read it: one that may not would drop it for the whole group. When none may, the
            // member picked drops it (counted). A group emptied since the match has nobody to pick.
            if (!group.TryPick(MayRead, message.Topic, out var picked)) continue;
            var (member, sub) = picked;
            _deliveries.Add((member, new DeliveryTarget
            {
                QoS = (QualityOfService)Math.Min((int)message.QoS, (int)sub.MaximumQoS),
                RetainAsPublished = sub.RetainAsPublished,
                SubscriptionIds = sub.SubscriptionIdentifier is { } id ? IdentifierList(id) : null,
            }));
        }

        if (_deliveries.Count == 0) return RouteResult.NoSubscribers;

        if (blockWhenFull)
            foreach (var (session, t) in _deliveries)
                // A subscriber that may not read the message will not get it, so its full queue holds nothing back.
                if (t.QoS > 0 && MustQueue(session) && IsQueueFull(op, session, message) && MayRead(session, message.Topic)) return RouteResult.QueueFull;

        foreach (var (session, t) in _deliveries)
            Deliver(op, session, message, t.QoS, message.Retain && t.RetainAsPublished, t.SubscriptionIds);
        return RouteResult.Accepted;
    }

    /// <summary>The list of one subscription identifier that deliveries matching only that subscription carry: made once
    /// and shared, so that routing to subscriptions with identifiers allocates nothing per message. Bounded: forgotten
    /// when too many identifiers were seen (the lists given out stay valid, they are never changed).</summary>
    private List<uint> IdentifierList(uint id)
    {
        if (!_identifierLists.TryGetValue(id, out var list))
        {
            if (_identifierLists.Count >= MaxIdentifierLists) _identifierLists.Clear();
            _identifierLists[id] = list = [id];
        }
        return list;
    }

    private const int MaxIdentifierLists = 4096;

    /// <summary>Whether a new QoS 1/2 message for this session has to wait in its queue rather than go out now.</summary>
    private static bool MustQueue(Session s) =>
        s.Client is null || s.QueuedCount > 0 || s.UnsentInflight > 0 || !s.HasInflightRoom;

    private bool IsQueueFull(BrokerOperation op, Session s, Message message)
    {
        if (!WouldOverflow(s, message)) return false;
        // Expired messages must not hold a queue full: remove those at its head, then look again.
        return PurgeExpiredHead(op, s, Now) == 0 || WouldOverflow(s, message);
    }

    private bool WouldOverflow(Session s, Message message) =>
        (Options.MaxQueuedMessages > 0 && s.QueuedCount >= Options.MaxQueuedMessages)
        || (Options.MaxQueuedBytes > 0 && s.QueuedBytes + message.Size > Options.MaxQueuedBytes);

    /// <summary>Drops expired messages from the head of a queue (counted and logged); returns how many.</summary>
    private int PurgeExpiredHead(BrokerOperation op, Session s, long now)
    {
        int purged = 0;
        while (s.QueuedCount > 0 && s.PeekQueued().Message.IsExpired(now))
        {
            CountDrop(s, Dequeue(op, s).Message, DropCause.Expired);
            purged++;
        }
        if (purged > 0) SignalRoomFreed();
        return purged;
    }

    private static QueuedMessage Dequeue(BrokerOperation op, Session session)
    {
        var next = session.Dequeue();
        RecordDequeued(op, session, next);
        return next;
    }

    /// <summary>Hands one message to one session: straight out if the window has room, else into its queue.</summary>
    /// <param name="retainedOnSubscribe">Retained messages sent for a new subscription: they are all owed to the
    /// subscriber [MQTT-3.3.1-9], so the queue limits meant for live traffic do not drop them.</param>
    private void Deliver(BrokerOperation op, Session session, Message message, QualityOfService qos, bool retain, List<uint>? subscriptionIds,
        bool retainedOnSubscribe = false)
    {
        if (message.FromBroker) { SendBrokerStatus(op, session, message, retain, subscriptionIds, retainedOnSubscribe); return; }
        if (!MayRead(session, message.Topic)) { DropUnreadable(session, message); return; }
        if (qos == QualityOfService.AtMostOnce)
        {
            // A QoS 0 message queued earlier (queue_qos0_messages) goes first: never overtake it on a live connection.
            if (session.Client is { } client && session.QueuedQoS0 == 0)
            {
                SendQoS0(op, client, message, retain, subscriptionIds, retainedOnSubscribe);
            }
            else if (session.Client is not null || (Options.QueueQos0Messages && session.ExpiryInterval > 0))
            {
                if (!retainedOnSubscribe && IsQueueFull(op, session, message)) { CountDrop(session, message, DropCause.QueueFull); return; }
                Enqueue(op, session, new QueuedMessage(message, qos, retain, subscriptionIds));
            }
            else
            {
                // MQTT allows it and Mosquitto does the same (queue_qos0_messages false): counted, logged only at debug.
                Metrics.Drop(DropCause.Qos0NotQueued);
                if (Log.IsEnabled(LogType.Debug))
                    Log.Write(LogType.Debug, $"QoS 0 message {message.Id} on '{message.Topic}' not queued for offline client {session.ClientId}.");
            }
            return;
        }

        var queued = new QueuedMessage(message, qos, retain, subscriptionIds);
        if (!MustQueue(session))
        {
            SendNewInflight(op, session, session.Client!, queued);
            return;
        }
        if (!retainedOnSubscribe && IsQueueFull(op, session, message))
        {
            if (Options.QueueFullPolicy == QueueFullPolicy.DropOldest && session.QueuedCount > 0)
            {
                CountDrop(session, Dequeue(op, session).Message, DropCause.QueueFull);
            }
            else
            {
                // DropNew, or Block where blocking was not possible (will messages, retained-on-subscribe).
                CountDrop(session, message, DropCause.QueueFull);
                return;
            }
        }
        Enqueue(op, session, queued);
    }

    private void Enqueue(BrokerOperation op, Session session, QueuedMessage queued)
    {
        RecordQueued(op, session, session.Enqueue(queued));
        // Its expiry may now be the offline session's next timer work.
        if (session.Client is null) ScheduleTimers(session);
    }

    private void CountDrop(Session session, Message message, DropCause cause)
    {
        Metrics.Drop(cause);
        if (Log.IsEnabled(LogType.Warning))
            Log.Warning($"Dropped message {message.Id} on '{message.Topic}' (q{(int)message.QoS}) for client {session.ClientId}: {DropReason(cause)}.");
    }

    private static string DropReason(DropCause cause) => cause switch
    {
        DropCause.QueueFull => "queue full",
        DropCause.Expired => "message expired",
        DropCause.PacketTooLarge => "larger than the client's maximum packet size",
        DropCause.NotAuthorized => "not authorized",
        DropCause.SessionExpired => "session expired",
        DropCause.Qos0NotQueued => "QoS 0 not queued for offline client",
        DropCause.ClientTooSlow => "client too slow",
        _ => cause.ToString(),
    };

    private void SendQoS0(BrokerOperation op, ConnectedClient client, Message message, bool retain, List<uint>? subscriptionIds, bool retainedOnSubscribe = false)
    {
        long now = Now;
        if (message.IsExpired(now)) { CountDrop(client.Session, message, DropCause.Expired); return; }
        // A QoS 0 message to a client that cannot keep up is the one drop MQTT allows; bound it so a slow
        // reader cannot make the broker buffer without limit. Retained messages for a new subscription are owed.
        if (!retainedOnSubscribe && client.Connection.PendingBytes > SlowClientLimit) { CountDrop(client.Session, message, DropCause.ClientTooSlow); return; }
        var packet = BuildPublish(client, message, QualityOfService.AtMostOnce, retain, subscriptionIds, 0, false, now);
        if (!FitsClient(client, packet)) { CountDrop(client.Session, message, DropCause.PacketTooLarge); return; }
        op.Send(client.Connection, packet);
        Metrics.MessageSent(message, QualityOfService.AtMostOnce);
    }

    /// <summary>
    /// A $SYS update goes to a connected subscriber only, and is skipped without a word where a client's message would be
    /// counted as dropped (not readable under the ACL, a slow client, a packet over its maximum size). It is not client traffic: never queued, never
    /// stored, and the retained tree gives a returning or lagging client the current values.
    /// </summary>
    private void SendBrokerStatus(BrokerOperation op, Session session, Message message, bool retain, List<uint>? subscriptionIds, bool retainedOnSubscribe)
    {
        if (session.Client is not { } client || !MayRead(session, message.Topic)) return;
        if (!retainedOnSubscribe && client.Connection.PendingBytes > SlowClientLimit) return;
        var packet = BuildPublish(client, message, QualityOfService.AtMostOnce, retain, subscriptionIds, 0, false, Now);
        if (FitsClient(client, packet)) op.Send(client.Connection, packet);
    }

    /// <summary>Queues a packet that vouches for the client's own session state (an outbound QoS 1/2 flow, PUBREL, PUBCOMP,
    /// SUBACK): held until the operation's changes are durable when the session is recorded at all. A session with expiry 0
    /// has nothing stored that a crash could undo, so its packets never wait, not even while the store is failing. A packet
    /// that vouches for changes of an earlier operation (a resend) waits behind that operation's packets on the same
    /// connection, or, on a new connection, for the CONNECT's own commit, which follows it.</summary>
    private static void SendSessionRecorded(BrokerOperation op, ConnectedClient client, OutboundPacket packet) =>
        op.Send(client.Connection, packet, waitsForChanges: client.Session.ExpiryInterval > 0);

    /// <summary>Bytes a connection may have waiting to be written before QoS 0 messages to it are dropped.</summary>
    private const long SlowClientLimit = 8 * 1024 * 1024;

    /// <summary>Gives a QoS 1/2 message a packet id, records it as inflight and sends it.</summary>
    private void SendNewInflight(BrokerOperation op, Session session, ConnectedClient client, QueuedMessage queued)
    {
        long now = Now;
        if (queued.Message.IsExpired(now)) { CountDrop(session, queued.Message, DropCause.Expired); return; }
        ushort packetId = session.NextPacketId();
        var packet = BuildPublish(client, queued.Message, queued.QoS, queued.Retain, queued.SubscriptionIds, packetId, false, now);
        // Too large for the client: discard it and behave as if it had been delivered [MQTT-3.1.2-25].
        if (!FitsClient(client, packet)) { CountDrop(session, queued.Message, DropCause.PacketTooLarge); return; }
        var inflight = session.StartInflight(packetId, queued.Message, queued.QoS, queued.Retain, queued.SubscriptionIds);
        RecordInflight(op, session, inflight, started: true);
        inflight.Sent = inflight.EverSent = true;
        inflight.SentAt = now;
        // The first flow of an idle window: the ack timeout (or 3.1.1 retry) now has something to watch.
        if (session.InflightCount == 1) ScheduleTimers(session);
        SendSessionRecorded(op, client, packet);
        Metrics.MessageSent(queued.Message, queued.QoS);
    }

    /// <summary>Resends an inflight message after a reconnect (or on the 3.1.1 retry): DUP=1 and the original
    /// packet id for a PUBLISH, or PUBREL when the PUBREC already arrived. Returns false, changing nothing, when the
    /// PUBLISH no longer fits the client's Maximum Packet Size (it may have reconnected with a smaller one).</summary>
    private bool Resend(BrokerOperation op, ConnectedClient client, InflightMessage m)
    {
        long now = Now;
        OutboundPacket? publish = null;
        if (m.State != InflightState.AwaitingPubComp)
        {
            publish = BuildPublish(client, m.Message, m.QoS, m.Retain, m.SubscriptionIds, m.PacketId, m.EverSent, now);
            if (!FitsClient(client, publish.Value)) return false;
        }
        if (!m.Sent)
        {
            // First send on this connection: the ack timeout counts from here (a 3.1.1 retry does not restart it).
            m.Sent = true;
            client.Session.UnsentInflight--;
            m.SentAt = now;
            m.AckTimeoutReported = false;
        }
        else
        {
            m.RetriedAt = now;
        }
        if (publish is null)
        {
            SendSessionRecorded(op, client, OutboundPacket.Ack(PacketType.PubRel, m.PacketId));
            return true;
        }
        m.EverSent = true;
        SendSessionRecorded(op, client, publish.Value);
        Metrics.MessageSent(m.Message, m.QoS);
        return true;
    }

    private static bool FitsClient(ConnectedClient client, in OutboundPacket packet) =>
        client.MaximumPacketSize == 0 || PacketWriter.GetSize(packet, client.Version) <= client.MaximumPacketSize;

    /// <summary>One subscriber's PUBLISH: the shared message with this delivery's fields, no copy of its properties
    /// (the writer puts in the remaining expiry and the subscription identifiers; MQTT 3.1.1 carries neither).</summary>
    private static OutboundPacket BuildPublish(ConnectedClient client, Message message, QualityOfService qos, bool retain,
        List<uint>? subscriptionIds, ushort packetId, bool dup, long now) =>
        OutboundPacket.Publish(message, qos, retain, dup, packetId,
            client.IsV5 ? message.RemainingExpirySeconds(now) : null, client.IsV5 ? subscriptionIds : null);

    /// <summary>Fills the client's window: first inflight messages not yet resent on this connection, in order,
    /// then the queue. Called after every acknowledgement and on reconnect.</summary>
    private void Pump(BrokerOperation op, Session session)
    {
        FillWindow(op, session);
        // The oldest flow may have changed: the ack timeout watches the new one.
        ScheduleTimers(session);
    }

    private void FillWindow(BrokerOperation op, Session session)
    {
        if (session.Client is not { } client) return;
        if (session.UnsentInflight > 0)
        {
            int sentCount = session.InflightCount - session.UnsentInflight;
            bool windowFull = false;
            List<InflightMessage>? tooLarge = null, unreadable = null;
            foreach (var m in session.Inflight)
            {
                if (m.Sent) continue;
                // Judged again before a PUBLISH is resent, as Mosquitto does: another user may have resumed the session, or
                // a reload revoked read access. A PUBREL carries no message, so that flow continues.
                if (m.State != InflightState.AwaitingPubComp && !MayRead(session, m.Message.Topic)) { (unreadable ??= []).Add(m); continue; }
                if (sentCount >= session.InflightWindow) { windowFull = true; break; }
                if (!Resend(op, client, m)) { (tooLarge ??= []).Add(m); continue; }
                sentCount++;
            }
            // Too large for the client's Maximum Packet Size on this connection: discard it and behave as if it had
            // been delivered [MQTT-3.1.2-24, MQTT-3.1.2-25]; counted, like a new message that does not fit.
            if (tooLarge is not null)
                foreach (var m in tooLarge)
                {
                    var message = m.Message;
                    CompleteInflight(op, session, m.PacketId);
                    CountDrop(session, message, DropCause.PacketTooLarge);
                }
            // Completed as if acknowledged, so it is neither resent later nor held in the store.
            if (unreadable is not null)
                foreach (var m in unreadable)
                {
                    var message = m.Message;
                    CompleteInflight(op, session, m.PacketId);
                    DropUnreadable(session, message);
                }
            if (windowFull) return;
        }
        bool dequeued = false;
        while (session.QueuedCount > 0 && (session.PeekQueued().QoS == 0 || session.HasInflightRoom))
        {
            // Made inflight before it leaves the queue: referenced by the flow before the queue entry releases it.
            var next = session.PeekQueued();
            // Judged again on the way out: the ACL may have been reloaded, or the session recovered with no identity.
            if (!MayRead(session, next.Message.Topic))
            {
                DropUnreadable(session, Dequeue(op, session).Message);
                dequeued = true;
                continue;
            }
            if (next.QoS == QualityOfService.AtMostOnce) SendQoS0(op, client, next.Message, next.Retain, next.SubscriptionIds);
            else SendNewInflight(op, session, client, next);
            Dequeue(op, session);
            dequeued = true;
        }
        // Room also appears without a dequeue: an empty queue whose window just opened can take a message that is
        // alone larger than max_queued_bytes (it goes straight out), so wake held-back publishers then too.
        if (dequeued || (session.QueuedCount == 0 && session.HasInflightRoom)) SignalRoomFreed();
    }

    /// <summary>Wakes MQTT 3.1.1 publishers held back by a full queue so they retry.</summary>
    private void SignalRoomFreed()
    {
        var waiting = _roomFreed;
        if (waiting is null) return;
        _roomFreed = null;
        waiting.TrySetResult();
    }

    private Task WaitForRoom() =>
        (_roomFreed ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).Task;

    /// <summary>Publishes a message originating in the broker itself ($SYS, wills). Never blocks: a full queue drops, counted.</summary>
    public void PublishInternal(Message message)
    {
        lock (_lock)
        {
            using var op = BeginOperation();
            PublishInternalLocked(op, message);
        }
    }

    private void PublishInternalLocked(BrokerOperation op, Message message)
    {
        KeepIfRetained(op, message);
        Route(op, message, blockWhenFull: false);
    }

    /// <summary>$SYS topics belong to the broker: clients neither publish nor leave wills there.</summary>
    private static bool IsBrokerTopic(string topic) =>
        topic == "$SYS" || topic.StartsWith("$SYS/", StringComparison.Ordinal);

    /// <summary>Whether the store holds every change up to <paramref name="sequence"/> durably (see <see cref="IClientConnection.Send"/>).</summary>
    public bool IsDurable(long sequence) => _store.IsDurable(sequence);

    /// <summary>Completes when <paramref name="sequence"/> is durable; faults with <see cref="Storage.StoreWriteException"/> if its write failed.</summary>
    public ValueTask WhenDurable(long sequence) => _store.WhenDurable(sequence);

    public void Dispose() => _timer.Dispose();
}
