using Holdfast.Protocol;

namespace Holdfast.Broker;

// DISCONNECT from the client, connections that end any other way, wills and the end of sessions (MQTT 5.0 §3.14, §3.1.3.2).
public sealed partial class MqttBroker
{
    /// <summary>A client's DISCONNECT: the will is discarded unless MQTT 5 reason 0x04 asks for it; the session expiry may change.</summary>
    public void HandleDisconnect(ConnectedClient client, DisconnectPacket packet)
    {
        lock (_lock)
        {
            using var op = BeginOperation();
            if (client.Closed) return;
            var session = client.Session;
            if (client.IsV5 && packet.Properties?.SessionExpiryInterval is { } expiry)
            {
                // Setting a non-zero expiry at DISCONNECT when CONNECT had zero is a Protocol Error [MQTT-3.14.2-2].
                if (session.ExpiryInterval == 0 && expiry != 0)
                {
                    Disconnect(op, client, ReasonCode.ProtocolError, "session expiry set at DISCONNECT after 0 at CONNECT");
                    return;
                }
                session.ExpiryInterval = expiry;
                RecordSession(op, session);
            }
            // Only a normal disconnection (0x00; always so in 3.1.1) deletes the will [MQTT-3.1.2-8, MQTT-3.14.4-3]:
            // 0x04 asks for it, and a client reporting an error (0x80 and up) did not end normally either.
            client.WillSuppressed = packet.ReasonCode == ReasonCode.NormalDisconnection;
            if (Options.ConnectionMessages && Log.IsEnabled(LogType.Notice)) Log.Notice($"Client {client.ClientId} disconnected.");
            op.Close(client.Connection);
            EndConnection(op, client);
        }
    }

    /// <summary>The server reports that a connection ended (socket closed, keep-alive expired, protocol error).
    /// Idempotent: a connection the broker already ended is ignored.</summary>
    public void ConnectionLost(ConnectedClient client, string reason)
    {
        lock (_lock)
        {
            using var op = BeginOperation();
            if (client.Closed) return;
            if (Options.ConnectionMessages && Log.IsEnabled(LogType.Notice)) Log.Notice($"Client {client.ClientId} {reason}.");
            EndConnection(op, client);
        }
    }

    /// <summary>The server saw nothing from the client for 1.5 × its keep-alive [MQTT-3.1.2-22]: close it (MQTT 5: 0x8D) and publish its will.</summary>
    public void KeepAliveExpired(ConnectedClient client)
    {
        lock (_lock)
        {
            using var op = BeginOperation();
            if (client.Closed) return;
            if (Log.IsEnabled(LogType.Notice)) Log.Notice($"Client {client.ClientId} has exceeded timeout, disconnecting.");
            CloseConnection(op, client, ReasonCode.KeepAliveTimeout);
            EndConnection(op, client);
        }
    }

    /// <summary>The broker closes a client: MQTT 5 clients get a DISCONNECT with the reason; the will is published.</summary>
    public void Disconnect(ConnectedClient client, ReasonCode reason, string why)
    {
        lock (_lock)
        {
            using var op = BeginOperation();
            Disconnect(op, client, reason, why);
        }
    }

    private void Disconnect(BrokerOperation op, ConnectedClient client, ReasonCode reason, string why)
    {
        if (client.Closed) return;
        if (Log.IsEnabled(LogType.Notice)) Log.Notice($"Client {client.ClientId} disconnected by the broker: {why}.");
        CloseConnection(op, client, reason, why);
        EndConnection(op, client);
    }

    /// <summary>Closes a client's connection with a reason: an MQTT 5 client is sent a DISCONNECT carrying it (and
    /// <paramref name="why"/> as its Reason String); MQTT 3.1.1 has no server DISCONNECT, so its connection just closes.</summary>
    private static void CloseConnection(BrokerOperation op, ConnectedClient client, ReasonCode reason, string? why = null)
    {
        if (!client.IsV5) { op.Close(client.Connection); return; }
        var disconnect = new DisconnectPacket
        {
            ReasonCode = reason,
            Properties = why is null ? null : new MqttProperties { ReasonString = why },
        };
        // The reason string is optional: left out rather than exceed the client's Maximum Packet Size [MQTT-3.14.2-3].
        if (client.MaximumPacketSize > 0 && PacketWriter.GetSize(disconnect, client.Version) > client.MaximumPacketSize)
            disconnect.Properties = null;
        op.Close(client.Connection, goodbye: disconnect);
    }

    /// <summary>The store could not write what a packet to this client vouched for: the client is disconnected (MQTT 5:
    /// 0x80) without it and resends on its next connection. Its will is not published: the client did nothing wrong, and
    /// a store fault would otherwise fire the will of every client it touched.</summary>
    public void StoreWriteFailed(ConnectedClient client)
    {
        lock (_lock)
        {
            using var op = BeginOperation();
            client.WillSuppressed = true;
            Disconnect(op, client, ReasonCode.UnspecifiedError, "store write failed");
        }
    }

    /// <summary>Detaches a connection from its session: inflight messages will be resent on the next connection,
    /// the will is published (now or after its delay), and a session with expiry 0 ends.</summary>
    private void EndConnection(BrokerOperation op, ConnectedClient client)
    {
        client.Closed = true;
        client.Held?.Release();
        var session = client.Session;
        if (session.Client == client) session.Client = null;
        session.DisconnectedAt = Now;
        foreach (var m in session.Inflight) m.Sent = false;
        session.UnsentInflight = session.InflightCount;

        if (!client.WillSuppressed && client.Will is { } will && !_shuttingDown)
        {
            uint delay = Math.Min(will.Properties?.WillDelayInterval ?? 0, session.ExpiryInterval);
            if (delay == 0) PublishWill(op, session, will);
            else SetPendingWill(op, session, new PendingWill(will, Now + delay * 1000L));
        }
        if (session.ExpiryInterval == 0) { if (!_shuttingDown) EndSession(op, session, "session expiry 0"); }
        // Recorded as offline since now, so that its expiry still counts from here after a restart.
        else if (session.Client is null)
        {
            RecordSession(op, session);
            ScheduleTimers(session);
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
        return new Message(will.Topic, will.Payload, will.QoS, will.Retain, properties, clientId, Now);
    }

    private void PublishWill(BrokerOperation op, Session session, WillMessage will)
    {
        if (!MayPublishWill(session, will.Topic))
        {
            Metrics.Drop(DropCause.NotAuthorized);
            if (Log.IsEnabled(LogType.Notice))
                Log.Notice($"Will of {session.ClientId} on '{will.Topic}' not published: not authorized"
                    + (session.Identity?.Policy is null ? " (its listener is unknown since the restart)." : "."));
            return;
        }
        if (Log.IsEnabled(LogType.Notice)) Log.Notice($"Publishing will of {session.ClientId} on '{will.Topic}'.");
        PublishInternalLocked(op, WillToMessage(will, session.ClientId));
    }

    /// <summary>Ends a session: its subscriptions go, undelivered messages are counted as dropped, a pending will is published.</summary>
    private void EndSession(BrokerOperation op, Session session, string why)
    {
        if (session.SubscriptionCount > 0)
        {
            foreach (var sub in session.Subscriptions.Values) _subscriptions.Remove(session, sub);
            session.Subscriptions.Clear();
        }
        int undelivered = session.InflightCount + session.QueuedCount;
        if (undelivered > 0)
        {
            Metrics.Drop(DropCause.SessionExpired, undelivered);
            Log.Warning($"Session of {session.ClientId} ended ({why}) with {undelivered} undelivered message(s); they are dropped.");
        }
        bool hadQueue = session.QueuedCount > 0;
        // Everything the session holds leaves the store with it, in this operation's change set.
        Unrecord(op, session);
        session.ClearMessages();
        _sessions.Remove(session);
        if (session.PendingWill is { } will)
        {
            // The store already forgot it with the session.
            session.PendingWill = null;
            PublishWill(op, session, will.Will);
        }
        if (hadQueue) SignalRoomFreed();
    }

    /// <summary>Graceful shutdown: MQTT 5 clients get DISCONNECT 0x8B Server shutting down; sessions are kept.</summary>
    public void Shutdown()
    {
        lock (_lock)
        {
            using var op = BeginOperation();
            _shuttingDown = true;
            foreach (var session in _sessions.Values.ToList())
            {
                if (session.Client is not { } client) continue;
                CloseConnection(op, client, ReasonCode.ServerShuttingDown);
                EndConnection(op, client);
            }
        }
    }
}
