using Holdfast.Protocol;

namespace Holdfast.Broker;

// What happens with time: delayed wills, session expiry, message expiry in offline queues, the ack timeout and the
// opt-in 3.1.1 retry. Each session is in the deadline queue for the earliest of these, so a tick looks only at what is due.
public sealed partial class MqttBroker
{
    private readonly DeadlineQueue _deadlines = new();
    private int _ticking;

    /// <summary>Entries in the deadline queue, for tests (read under the broker's lock).</summary>
    internal int DeadlineCount => _deadlines.Count;

    /// <summary>Runs every <see cref="TickInterval"/> of the injected clock.</summary>
    internal void Tick()
    {
        if (Interlocked.Exchange(ref _ticking, 1) == 1) return;
        try
        {
            lock (_lock)
            {
                using var op = BeginOperation();
                TickLocked(op, Now);
            }
        }
        catch (Exception e)
        {
            Log.Error($"Timer failed: {e}");
        }
        finally
        {
            Volatile.Write(ref _ticking, 0);
        }
    }

    private void TickLocked(BrokerOperation op, long now)
    {
        while (_deadlines.TryTakeDue(now, out var session))
        {
            // Ended since it was scheduled (a session object is never reused).
            if (!_sessions.TryGetValue(session.ClientId, out var current) || current != session) continue;
            if (session.Client is { } client) CheckInflightAge(op, client, now);
            else RunOfflineTimers(op, session, now);
            ScheduleTimers(session);
        }
    }

    private void RunOfflineTimers(BrokerOperation op, Session session, long now)
    {
        if (session.PendingWill is { } will && now >= will.PublishAt)
        {
            SetPendingWill(op, session, null);
            PublishWill(op, session, will.Will);
        }
        if (IsExpired(session, now))
        {
            Log.Notice($"Expiring client {session.ClientId}.");
            Metrics.SessionExpired();
            EndSession(op, session, "expired");
        }
        else PurgeExpiredHead(op, session, now);
    }

    /// <summary>Puts the session in the deadline queue for its next timer work, if that is earlier than it is queued for.
    /// Called wherever a due time can move earlier: a connection ends or starts, a flow starts or moves on, a will is set,
    /// a message is queued for an offline session. Cheap when nothing is due: a few comparisons.</summary>
    private void ScheduleTimers(Session session)
    {
        long due = NextDue(session);
        if (due != long.MaxValue) _deadlines.Schedule(session, due);
    }

    private long NextDue(Session session)
    {
        long due = long.MaxValue;
        if (session.Client is { } client)
        {
            if (session.OldestInflight is not { } oldest) return due;
            if (client.Policy.AckTimeout is { } timeout && oldest.Sent && !oldest.AckTimeoutReported)
                due = oldest.SentAt + (long)timeout.TotalMilliseconds;
            if (Options.RetryIntervalV311 is { } retry && !client.IsV5)
                foreach (var m in session.Inflight)
                    if (m.Sent) due = Math.Min(due, Math.Max(m.SentAt, m.RetriedAt) + (long)retry.TotalMilliseconds);
            return due;
        }
        if (session.PendingWill is { } will) due = will.PublishAt;
        due = Math.Min(due, ExpiresAt(session));
        if (session.QueuedCount > 0 && session.PeekQueued().Message.ExpiresAt is { } messageExpires) due = Math.Min(due, messageExpires);
        return due;
    }

    private bool IsExpired(Session session, long now) => session.Client is null && now >= ExpiresAt(session);

    /// <summary>When an offline session expires (monotonic ms); long.MaxValue = never.</summary>
    private long ExpiresAt(Session session)
    {
        if (session.ExpiryInterval != uint.MaxValue) return session.DisconnectedAt + session.ExpiryInterval * 1000L;
        // Sessions that never expire by protocol are removed only by the operator's persistent_client_expiration.
        return Options.PersistentClientExpiration is { } limit ? session.DisconnectedAt + (long)limit.TotalMilliseconds : long.MaxValue;
    }

    /// <summary>The stuck-subscriber answer: report (and optionally disconnect) when the oldest inflight message has
    /// waited longer than the listener's ack_timeout; for 3.1.1 clients only, resend on retry_interval_v311.</summary>
    private void CheckInflightAge(BrokerOperation op, ConnectedClient client, long now)
    {
        var session = client.Session;
        if (session.InflightCount == 0) return;

        if (Options.RetryIntervalV311 is { } retry && !client.IsV5)
        {
            // MQTT 5 forbids resending on a live connection; 3.1.1 allowed it. Opt-in only: see README.
            foreach (var m in session.Inflight.ToList())
                if (m.Sent && now - Math.Max(m.SentAt, m.RetriedAt) >= (long)retry.TotalMilliseconds) Resend(op, client, m);
        }

        if (client.Policy.AckTimeout is not { } timeout) return;
        var oldest = session.OldestInflight;
        if (oldest is null || !oldest.Sent || oldest.AckTimeoutReported) return;
        long waited = now - oldest.SentAt;
        if (waited < (long)timeout.TotalMilliseconds) return;

        oldest.AckTimeoutReported = true;
        Metrics.AckTimeout();
        string what = oldest.State == InflightState.AwaitingPubComp ? "PUBCOMP" : oldest.QoS == QualityOfService.AtLeastOnce ? "PUBACK" : "PUBREC";
        Log.Warning($"Client {client.ClientId} has not acknowledged message m{oldest.PacketId} on '{oldest.Message.Topic}' for {waited / 1000.0:0.#} s (no {what}); {session.InflightCount} inflight, {session.QueuedCount} queued.");
        if (client.Policy.AckTimeoutDisconnect)
            Disconnect(op, client, ReasonCode.ImplementationSpecificError, $"ack timeout: m{oldest.PacketId} unacknowledged for {waited / 1000.0:0.#} s");
    }
}
