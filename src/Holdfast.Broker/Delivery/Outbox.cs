using Holdfast.Protocol;
using static Holdfast.Broker.SessionRecording;

namespace Holdfast.Broker;

/// <summary>
/// A session's outgoing side: hands a message to one session (straight out when its window has room, else into its
/// queue), fills the inflight window from the queue as acknowledgements arrive, and resends inflight messages on a new
/// connection. Every call is made under the session's shard lock, inside an operation that records what changed.
/// </summary>
internal sealed class Outbox(BrokerContext context, SessionTable sessions, SessionTimers timers, RoomSignal room, SessionEnding ending)
{
    /// <summary>Bytes a connection may have waiting to be written before QoS 0 messages to it are dropped.</summary>
    private const long SlowClientLimit = 8 * 1024 * 1024;

    /// <summary>Queued messages a stored session keeps in memory: the rest of its queue (the tail) is on disk only and read
    /// back in batches as the head drains, so an offline session's queue of millions costs memory for this many.</summary>
    public const int HeadLimit = 256;

    private BrokerOptions Options => context.Options;
    private BrokerMetrics Metrics => context.Metrics;
    private IBrokerLog Log => context.Log;

    /// <summary>Whether a new QoS 1/2 message for this session has to wait in its queue rather than go out now.</summary>
    public static bool MustQueue(Session s) =>
        s.Client is null || s.QueuedCount > 0 || s.UnsentInflight > 0 || !s.HasInflightRoom;

    /// <summary>What a full queue means for this session now: under end_session a connected subscriber holds its
    /// publishers back (it is slow, or stuck until the ack timeout disconnects it) and an offline one is ended.</summary>
    public QueueFullPolicy PolicyFor(Session s) =>
        Options.QueueFullPolicy == QueueFullPolicy.EndSession && s.Client is not null ? QueueFullPolicy.Block : Options.QueueFullPolicy;

    public bool IsQueueFull(BrokerOperation op, Session s, Message message)
    {
        if (!WouldOverflow(s, message)) return false;
        // Expired messages must not hold a queue full: remove those at its head, then look again.
        return PurgeExpiredHead(op, s, context.Now) == 0 || WouldOverflow(s, message);
    }

    private bool WouldOverflow(Session s, Message message) =>
        (Options.MaxQueuedMessages > 0 && s.QueuedCount >= Options.MaxQueuedMessages)
        || (Options.MaxQueuedBytes > 0 && s.QueuedBytes + message.Size > Options.MaxQueuedBytes)
        || (Options.MaxQueuedBytesTotal > 0 && sessions.QueuedBytesTotal() + message.Size > Options.MaxQueuedBytesTotal);

    /// <summary>Drops expired messages from the head of a queue (counted and logged); returns how many.</summary>
    public int PurgeExpiredHead(BrokerOperation op, Session s, long now)
    {
        int purged = 0;
        while (s.HeadCount > 0 && s.PeekQueued().Message.IsExpired(now))
        {
            CountDrop(s, Dequeue(op, s).Message, DropCause.Expired);
            purged++;
        }
        if (purged > 0) room.Signal();
        return purged;
    }

    private QueuedMessage Dequeue(BrokerOperation op, Session session)
    {
        if (session.HeadCount == 0) ReadTail(session);
        var next = session.Dequeue();
        RecordDequeued(op, session, next);
        return next;
    }

    /// <summary>Moves the next messages of the queue's tail from the store into its head, up to <see cref="HeadLimit"/>.
    /// The store sees only what it has written, so right after a commit a read may come back short: the timers look again
    /// (see <see cref="SessionTimers"/>) while the head is empty.</summary>
    private void ReadTail(Session session)
    {
        int wanted = Math.Min(HeadLimit - session.HeadCount, session.TailCount);
        if (wanted <= 0) return;
        foreach (var r in context.Store.ReadQueued(session.ClientId, session.TailFrom, wanted))
        {
            var d = r.Delivery;
            session.TakeFromTail(new QueuedMessage(d.Message, d.QoS, d.Retain, d.SubscriptionIds as List<uint> ?? d.SubscriptionIds?.ToList(), r.Sequence, r.OwnsBody));
        }
    }

    /// <summary>Whether a new message for this session goes to the tail on disk: once the head is full, and after that for
    /// as long as there is a tail (queue order). Only a stored session's, and only when the store can read it back.</summary>
    private bool GoesToTail(Session session) =>
        session.TailCount > 0 || (session.HeadCount >= HeadLimit && session.IsStored && context.Store.ReadsQueues);

    /// <summary>Hands one message to one session: straight out if the window has room, else into its queue.</summary>
    /// <param name="retainedOnSubscribe">Retained messages sent for a new subscription: they are all owed to the
    /// subscriber [MQTT-3.3.1-9], so the queue limits meant for live traffic do not drop them.</param>
    public void Deliver(BrokerOperation op, Session session, Message message, QualityOfService qos, bool retain, List<uint>? subscriptionIds,
        bool retainedOnSubscribe = false)
    {
        if (message.FromBroker) { SendBrokerStatus(op, session, message, retain, subscriptionIds, retainedOnSubscribe); return; }
        if (!AccessRules.MayRead(session, message.Topic)) { DropUnreadable(session, message); return; }
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
            switch (PolicyFor(session))
            {
                case QueueFullPolicy.DropOldest when session.QueuedCount > 0:
                    CountDrop(session, Dequeue(op, session).Message, DropCause.QueueFull);
                    break;
                case QueueFullPolicy.EndSession:
                    EndFullSession(op, session, message);
                    return;
                default:
                    // DropNew, or Block where blocking was not possible (a will, a $SYS-free broker message).
                    CountDrop(session, message, DropCause.QueueFull);
                    return;
            }
        }
        Enqueue(op, session, queued);
    }

    private void Enqueue(BrokerOperation op, Session session, QueuedMessage queued)
    {
        RecordQueued(op, session, session.Enqueue(queued, GoesToTail(session)));
        // Its expiry may now be the offline session's next timer work.
        if (session.Client is null) timers.Schedule(session);
    }

    /// <summary>An offline session whose queue is full is ended as if it had expired (queue_full_policy end_session): the
    /// client finds session present 0 on return instead of a queue with a silent hole. Its will is published.</summary>
    private void EndFullSession(BrokerOperation op, Session session, Message message)
    {
        Metrics.SessionEndedQueueFull();
        Log.Warning($"Ending the session of {session.ClientId}: its queue is full ({DescribeQueue(session, context.Now)}) and a message on "
            + $"'{message.Topic}' arrived; queue_full_policy end_session. The client will find no session (session present 0).");
        ending.End(op, session, "queue full", DropCause.SessionEndedQueueFull);
    }

    public void CountDrop(Session session, Message message, DropCause cause)
    {
        Metrics.Drop(cause);
        session.CountDrop(cause);
        if (!Log.IsEnabled(LogType.Warning)) return;
        string state = cause == DropCause.QueueFull ? $" ({DescribeQueue(session, context.Now)})" : "";
        Log.Warning($"Dropped message {message.Id} on '{message.Topic}' (q{(int)message.QoS}) for client {session.ClientId}: {DropReason(cause)}{state}.");
    }

    /// <summary>Who a queue belongs to and how full it is, for the lines that name a full session: connected or offline
    /// for how long, depth and bytes.</summary>
    public static string DescribeQueue(Session session, long now)
    {
        string state = session.IsConnected ? "connected" : $"offline for {Durations.Describe(now - session.DisconnectedAt)}";
        return $"{state}, {session.QueuedCount} queued, {Durations.Bytes(session.QueuedBytes)}, {session.InflightCount} inflight";
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
        DropCause.SessionEndedQueueFull => "session ended, its queue was full",
        _ => cause.ToString(),
    };

    /// <summary>A message its subscriber may not read: counted; logged only at debug, because a subscription to a wide
    /// filter that the ACL narrows (e.g. '#') is ordinary use, as with Mosquitto.</summary>
    private void DropUnreadable(Session session, Message message)
    {
        Metrics.Drop(DropCause.NotAuthorized);
        if (Log.IsEnabled(LogType.Debug))
            Log.Write(LogType.Debug, $"Denied delivery of message {message.Id} on '{message.Topic}' to {session.ClientId}: no read access.");
    }

    private void SendQoS0(BrokerOperation op, ConnectedClient client, Message message, bool retain, List<uint>? subscriptionIds, bool retainedOnSubscribe = false)
    {
        long now = context.Now;
        if (message.IsExpired(now)) { CountDrop(client.Session, message, DropCause.Expired); return; }
        // A QoS 0 message to a client that cannot keep up is the one drop MQTT allows; bound it so a slow
        // reader cannot make the broker buffer without limit. Retained messages for a new subscription are owed.
        if (!retainedOnSubscribe && client.Connection.PendingBytes > SlowClientLimit) { CountDrop(client.Session, message, DropCause.ClientTooSlow); return; }
        var packet = BuildPublish(client, message, QualityOfService.AtMostOnce, retain, subscriptionIds, 0, false, now);
        if (!FitsClient(client, packet)) { CountDrop(client.Session, message, DropCause.PacketTooLarge); return; }
        op.Send(client.Connection, packet);
        Metrics.MessageSent(client.Session.Shard, message, QualityOfService.AtMostOnce);
    }

    /// <summary>
    /// A $SYS update goes to a connected subscriber only, and is skipped without a word where a client's message would be
    /// counted as dropped (not readable under the ACL, a slow client, a packet over its maximum size). It is not client
    /// traffic: never queued, never stored, and the retained tree gives a returning or lagging client the current values.
    /// </summary>
    private void SendBrokerStatus(BrokerOperation op, Session session, Message message, bool retain, List<uint>? subscriptionIds, bool retainedOnSubscribe)
    {
        if (session.Client is not { } client || !AccessRules.MayRead(session, message.Topic)) return;
        if (!retainedOnSubscribe && client.Connection.PendingBytes > SlowClientLimit) return;
        var packet = BuildPublish(client, message, QualityOfService.AtMostOnce, retain, subscriptionIds, 0, false, context.Now);
        if (FitsClient(client, packet)) op.Send(client.Connection, packet);
    }

    /// <summary>Queues a packet that vouches for the client's own session state (an outbound QoS 1/2 flow, PUBREL, PUBCOMP,
    /// SUBACK): held until the operation's changes are durable when the session is recorded at all. A session with expiry 0
    /// has nothing stored that a crash could undo, so its packets never wait, not even while the store is failing. A packet
    /// that vouches for changes of an earlier operation (a resend) waits behind that operation's packets on the same
    /// connection, or, on a new connection, for the CONNECT's own commit, which follows it.</summary>
    public static void SendSessionRecorded(BrokerOperation op, ConnectedClient client, OutboundPacket packet) =>
        op.Send(client.Connection, packet, waitsForChanges: client.Session.ExpiryInterval > 0);

    /// <summary>Gives a QoS 1/2 message a packet id, records it as inflight and sends it.</summary>
    private void SendNewInflight(BrokerOperation op, Session session, ConnectedClient client, QueuedMessage queued)
    {
        long now = context.Now;
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
        if (session.InflightCount == 1) timers.Schedule(session);
        SendSessionRecorded(op, client, packet);
        Metrics.MessageSent(session.Shard, queued.Message, queued.QoS);
    }

    /// <summary>Resends an inflight message after a reconnect (or on the 3.1.1 retry): DUP=1 and the original
    /// packet id for a PUBLISH, or PUBREL when the PUBREC already arrived. Returns false, changing nothing, when the
    /// PUBLISH no longer fits the client's Maximum Packet Size (it may have reconnected with a smaller one).</summary>
    public bool Resend(BrokerOperation op, ConnectedClient client, InflightMessage m)
    {
        long now = context.Now;
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
        Metrics.MessageSent(client.Session.Shard, m.Message, m.QoS);
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
    public void Pump(BrokerOperation op, Session session)
    {
        FillWindow(op, session);
        // The oldest flow may have changed: the ack timeout watches the new one.
        timers.Schedule(session);
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
                if (m.State != InflightState.AwaitingPubComp && !AccessRules.MayRead(session, m.Message.Topic)) { (unreadable ??= []).Add(m); continue; }
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
                    CompleteInflight(op, session, m);
                    CountDrop(session, message, DropCause.PacketTooLarge);
                }
            // Completed as if acknowledged, so it is neither resent later nor held in the store.
            if (unreadable is not null)
                foreach (var m in unreadable)
                {
                    var message = m.Message;
                    CompleteInflight(op, session, m);
                    DropUnreadable(session, message);
                }
            if (windowFull) return;
        }
        bool dequeued = false;
        while (session.QueuedCount > 0)
        {
            if (session.TailCount > 0 && session.HeadCount < HeadLimit / 2) ReadTail(session);
            if (session.HeadCount == 0 || (session.PeekQueued().QoS != 0 && !session.HasInflightRoom)) break;
            // Made inflight before it leaves the queue: referenced by the flow before the queue entry releases it.
            var next = session.PeekQueued();
            // Judged again on the way out: the ACL may have been reloaded, or the session recovered with no identity.
            if (!AccessRules.MayRead(session, next.Message.Topic))
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
        if (dequeued || (session.QueuedCount == 0 && session.HasInflightRoom)) room.Signal();
    }
}
