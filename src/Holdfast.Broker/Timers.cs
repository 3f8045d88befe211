using Holdfast.Protocol;

namespace Holdfast.Broker;

// What happens with time: delayed wills, session expiry, the ack timeout and the opt-in 3.1.1 retry.
public sealed partial class MqttBroker
{
    private int _ticking;

    /// <summary>Runs every <see cref="TickInterval"/>. Public so tests can drive it.</summary>
    public void Tick()
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
        List<Session>? expired = null;
        foreach (var session in _sessions.Values)
        {
            if (session.Client is { } client)
            {
                CheckInflightAge(op, client, now);
                continue;
            }
            if (session.PendingWill is { } will && now >= will.PublishAt)
            {
                SetPendingWill(op, session, null);
                PublishWill(op, session, will.Will);
            }
            if (IsExpired(session, now)) (expired ??= []).Add(session);
            else PurgeExpiredHead(op, session, now);
        }
        if (expired is not null)
            foreach (var session in expired)
            {
                Log.Notice($"Expiring client {session.ClientId}.");
                Metrics.SessionExpired();
                EndSession(op, session, "expired");
            }
    }

    private bool IsExpired(Session session, long now)
    {
        long offline = now - session.DisconnectedAt;
        if (session.ExpiryInterval != uint.MaxValue) return offline >= session.ExpiryInterval * 1000L;
        // Sessions that never expire by protocol are removed only by the operator's persistent_client_expiration.
        return Options.PersistentClientExpiration is { } limit && offline >= (long)limit.TotalMilliseconds;
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
