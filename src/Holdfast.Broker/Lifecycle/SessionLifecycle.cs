using Holdfast.Broker.Routing;
using Holdfast.Protocol;
using static Holdfast.Broker.SessionRecording;

namespace Holdfast.Broker;

/// <summary>
/// How connections and sessions end: a connection closed (by the client, the broker or the network) detaches from its
/// session; a session ends when its expiry says so; wills are published when due; and the timers (will delay, session
/// expiry, message expiry, ack timeout, the 3.1.1 retry) run from each shard's deadline queue. All under the session's
/// shard lock, inside an operation; a will is published after the operation, as an operation of its own.
/// </summary>
internal sealed class SessionLifecycle(BrokerContext context, SessionTable sessions, SessionEnding ending, Outbox outbox,
    SessionTimers timers, AccessRules access, Distributor distributor)
{
    private IBrokerLog Log => context.Log;
    private BrokerMetrics Metrics => context.Metrics;

    /// <summary>The broker closes a client: MQTT 5 clients get a DISCONNECT with the reason; the will is published.</summary>
    public void Disconnect(BrokerOperation op, ConnectedClient client, ReasonCode reason, string why)
    {
        if (client.Closed) return;
        if (Log.IsEnabled(LogType.Notice)) Log.Notice($"Client {client.ClientId} disconnected by the broker: {why}.");
        CloseConnection(op, client, reason);
        EndConnection(op, client);
    }

    /// <summary>The broker closes a client for a protocol error in an acknowledgement, without a DISCONNECT (MQTT 5.0
    /// §4.13.1 makes it optional; Mosquitto sends none there, and clients written against it expect none); the will is
    /// published.</summary>
    public void CloseForProtocolError(BrokerOperation op, ConnectedClient client, string why)
    {
        if (client.Closed) return;
        if (Log.IsEnabled(LogType.Notice)) Log.Notice($"Client {client.ClientId} disconnected due to protocol error: {why}.");
        op.Close(client.Connection);
        EndConnection(op, client);
    }

    /// <summary>Closes a client's connection with a reason: an MQTT 5 client is sent a DISCONNECT carrying it; MQTT 3.1.1
    /// has no server DISCONNECT, so its connection just closes. The DISCONNECT has no Reason String (optional,
    /// [MQTT-3.14.2.2.3]): Mosquitto sends none and clients written against it compare the bytes; the log line says why.</summary>
    public static void CloseConnection(BrokerOperation op, ConnectedClient client, ReasonCode reason)
    {
        if (!client.IsV5) { op.Close(client.Connection); return; }
        op.Close(client.Connection, goodbye: new DisconnectPacket { ReasonCode = reason });
    }

    /// <summary>Detaches a connection from its session: inflight messages will be resent on the next connection,
    /// the will is published (now or after its delay), and a session with expiry 0 ends.</summary>
    public void EndConnection(BrokerOperation op, ConnectedClient client)
    {
        client.Closed = true;
        client.Held?.Release();
        var session = client.Session;
        if (session.Client == client) session.Client = null;
        long now = context.Now;
        session.DisconnectedAt = now;
        foreach (var m in session.Inflight) m.Sent = false;
        session.UnsentInflight = session.InflightCount;

        if (!client.WillSuppressed && client.Will is { } will && !context.ShuttingDown)
        {
            uint delay = Math.Min(will.Properties?.WillDelayInterval ?? 0, session.ExpiryInterval);
            if (delay > 0) SetPendingWill(op, session, new PendingWill(will, now + delay * 1000L));
            else if (session.ExpiryInterval == 0) op.PublishWillAfter(session, will, null);
            else
            {
                // Kept as a will due now until it is published, right after this operation: a crash in between still
                // publishes it after the restart.
                var due = new PendingWill(will, now);
                SetPendingWill(op, session, due);
                op.PublishWillAfter(session, will, due);
            }
        }
        if (session.ExpiryInterval == 0) { if (!context.ShuttingDown) EndSession(op, session, "session expiry 0"); }
        // Recorded as offline since now, so that its expiry still counts from here after a restart.
        else if (session.Client is null)
        {
            RecordSession(op, session);
            timers.Schedule(session);
        }
    }

    /// <summary>Ends a session (see <see cref="SessionEnding"/>).</summary>
    public void EndSession(BrokerOperation op, Session session, string why) => ending.End(op, session, why);

    /// <summary>Publishes the wills an operation decided on, each as an operation of its own over its session's shard and
    /// the shards its routing needs. A will still kept as pending (<paramref name="wills"/>' third element) is published
    /// only by whoever finds it pending, and is forgotten in the same change set that routes it.</summary>
    public void PublishWills(List<(Session Session, WillMessage Will, PendingWill? Pending)> wills)
    {
        foreach (var (session, will, pending) in wills)
        {
            var message = WillToMessage(will, session.ClientId);
            var match = distributor.Match(message.Topic, message.Retain, session.Shard, out var shards);
            using var scope = new OperationScope(sessions, shards, this);
            var op = scope.Operation;
            if (pending is not null)
            {
                if (!ReferenceEquals(session.PendingWill, pending)) continue;
                SetPendingWill(op, session, null);
            }
            if (!access.MayPublishWill(session, will.Topic))
            {
                Metrics.Drop(DropCause.NotAuthorized);
                if (Log.IsEnabled(LogType.Notice))
                    Log.Notice($"Will of {session.ClientId} on '{will.Topic}' not published: not authorized"
                        + (session.Identity?.Policy is null ? " (its listener is unknown since the restart)." : "."));
                continue;
            }
            if (Log.IsEnabled(LogType.Notice)) Log.Notice($"Publishing will of {session.ClientId} on '{will.Topic}'.");
            distributor.KeepIfRetained(op, message);
            distributor.Route(op, message, match, shards, blockWhenFull: false);
            // An expired session waited for its will to go first (see RunOfflineTimers).
            if (!session.Ended && session.Client is null) timers.Schedule(session);
        }
    }

    private Message WillToMessage(WillMessage will, string clientId)
    {
        MqttProperties? properties = null;
        if (will.Properties is { } p)
        {
            properties = p.Clone();
            properties.WillDelayInterval = null;
        }
        return new Message(will.Topic, will.Payload, will.QoS, will.Retain, properties, clientId, context.Now);
    }

    /// <summary>Runs the timer work that is due, shard by shard. Called every <see cref="MqttBroker.TickInterval"/>.</summary>
    public void RunDueTimers()
    {
        // By index: enumerating the shards' list would allocate at every tick.
        for (int i = 0; i < SessionTable.ShardCount; i++)
        {
            var shard = sessions.Shard(i);
            using var scope = new OperationScope(sessions, ShardSet.Of(shard), this);
            long now = context.Now;
            while (shard.Deadlines.TryTakeDue(now, out var session))
            {
                // Ended since it was scheduled (a session object is never reused).
                if (session.Ended) continue;
                if (session.Client is { } client)
                {
                    CheckInflightAge(scope.Operation, client, now);
                    timers.Schedule(session);
                }
                else if (RunOfflineTimers(scope.Operation, session, now))
                {
                    // Looked at again on the next tick, after its will is published.
                    shard.Deadlines.Schedule(session, now + 1);
                }
                else timers.Schedule(session);
            }
        }
    }

    /// <summary>A delayed will that is due is published (after this operation); a session past its expiry ends, but only
    /// once its will has gone, so that a crash between the two never loses the will. Returns whether a will is on its way.</summary>
    private bool RunOfflineTimers(BrokerOperation op, Session session, long now)
    {
        if (session.PendingWill is { } will && now >= will.PublishAt)
        {
            op.PublishWillAfter(session, will.Will, will);
            return true;
        }
        if (timers.IsExpired(session, now))
        {
            Log.Notice($"Expiring client {session.ClientId}.");
            Metrics.SessionExpired();
            EndSession(op, session, "expired");
        }
        else outbox.PurgeExpiredHead(op, session, now);
        return false;
    }

    /// <summary>The stuck-subscriber answer: report (and optionally disconnect) when the oldest inflight message has
    /// waited longer than the listener's ack_timeout; for 3.1.1 clients only, resend on retry_interval_v311.</summary>
    private void CheckInflightAge(BrokerOperation op, ConnectedClient client, long now)
    {
        var session = client.Session;
        if (session.InflightCount == 0) return;

        if (context.Options.RetryIntervalV311 is { } retry && !client.IsV5)
        {
            // MQTT 5 forbids resending on a live connection; 3.1.1 allowed it. Opt-in only: see docs/configuration.md.
            foreach (var m in session.Inflight.ToList())
                if (m.Sent && now - Math.Max(m.SentAt, m.RetriedAt) >= (long)retry.TotalMilliseconds) outbox.Resend(op, client, m);
        }

        if (client.Policy.AckTimeout is not { } timeout) return;
        var oldest = session.OldestInflight;
        if (oldest is null || !oldest.Sent || oldest.AckTimeoutReported) return;
        long waited = now - oldest.SentAt;
        if (waited < (long)timeout.TotalMilliseconds) return;

        oldest.AckTimeoutReported = true;
        Metrics.AckTimeout();
        Log.Warning($"Client {client.ClientId} has not acknowledged message m{oldest.PacketId} on '{oldest.Message.Topic}' for {waited / 1000.0:0.#} s (no {oldest.AwaitedPacket}); {session.InflightCount} inflight, {session.QueuedCount} queued.");
        if (client.Policy.AckTimeoutDisconnect)
            Disconnect(op, client, ReasonCode.ImplementationSpecificError, $"ack timeout: m{oldest.PacketId} unacknowledged for {waited / 1000.0:0.#} s");
    }
}
