using Holdfast.Protocol;
using static Holdfast.Broker.SessionRecording;

namespace Holdfast.Broker;

/// <summary>DISCONNECT from the client, and connections that end any other way: the network, keep-alive, a store write
/// that failed, the broker's own decision (MQTT 5.0 §3.14, §4.13). Each under the session's shard lock; what happens to
/// the session and its will is the <see cref="SessionLifecycle"/>'s.</summary>
internal sealed class DisconnectHandler(BrokerContext context, SessionTable sessions, SessionLifecycle lifecycle)
{
    private IBrokerLog Log => context.Log;

    /// <summary>A client's DISCONNECT: the will is discarded unless MQTT 5 reason 0x04 asks for it; the session expiry may change.</summary>
    public void Handle(ConnectedClient client, DisconnectPacket packet)
    {
        var session = client.Session;
        using var scope = new OperationScope(sessions, ShardSet.Of(session.Shard), lifecycle);
        var op = scope.Operation;
        if (client.Closed) return;
        if (client.IsV5 && packet.Properties?.SessionExpiryInterval is { } expiry)
        {
            // Setting a non-zero expiry at DISCONNECT when CONNECT had zero is a Protocol Error [MQTT-3.14.2-2].
            if (session.ExpiryInterval == 0 && expiry != 0)
            {
                lifecycle.Disconnect(op, client, ReasonCode.ProtocolError, "session expiry set at DISCONNECT after 0 at CONNECT");
                return;
            }
            session.ExpiryInterval = expiry;
            RecordSession(op, session);
        }
        // Only a normal disconnection (0x00; always so in 3.1.1) deletes the will [MQTT-3.1.2-8, MQTT-3.14.4-3]:
        // 0x04 asks for it, and a client reporting an error (0x80 and up) did not end normally either.
        client.WillSuppressed = packet.ReasonCode == ReasonCode.NormalDisconnection;
        if (context.Options.ConnectionMessages && Log.IsEnabled(LogType.Notice)) Log.Notice($"Client {client.ClientId} disconnected.");
        op.Close(client.Connection);
        lifecycle.EndConnection(op, client);
    }

    /// <summary>The server reports that a connection ended (socket closed, protocol error). Idempotent: a connection the
    /// broker already ended is ignored.</summary>
    public void ConnectionLost(ConnectedClient client, string reason)
    {
        using var scope = new OperationScope(sessions, ShardSet.Of(client.Session.Shard), lifecycle);
        if (client.Closed) return;
        if (context.Options.ConnectionMessages && Log.IsEnabled(LogType.Notice)) Log.Notice($"Client {client.ClientId} {reason}.");
        lifecycle.EndConnection(scope.Operation, client);
    }

    /// <summary>The server saw nothing from the client for 1.5 × its keep-alive [MQTT-3.1.2-22]: close it (MQTT 5: 0x8D) and publish its will.</summary>
    public void KeepAliveExpired(ConnectedClient client)
    {
        using var scope = new OperationScope(sessions, ShardSet.Of(client.Session.Shard), lifecycle);
        if (client.Closed) return;
        if (Log.IsEnabled(LogType.Notice)) Log.Notice($"Client {client.ClientId} has exceeded timeout, disconnecting.");
        SessionLifecycle.CloseConnection(scope.Operation, client, ReasonCode.KeepAliveTimeout);
        lifecycle.EndConnection(scope.Operation, client);
    }

    /// <summary>The broker closes a client: MQTT 5 clients get a DISCONNECT with the reason; the will is published.</summary>
    public void Disconnect(ConnectedClient client, ReasonCode reason, string why)
    {
        using var scope = new OperationScope(sessions, ShardSet.Of(client.Session.Shard), lifecycle);
        lifecycle.Disconnect(scope.Operation, client, reason, why);
    }

    /// <summary>Closes a client for a protocol error without a DISCONNECT (see <see cref="SessionLifecycle.CloseForProtocolError"/>).</summary>
    public void CloseForProtocolError(ConnectedClient client, string why)
    {
        using var scope = new OperationScope(sessions, ShardSet.Of(client.Session.Shard), lifecycle);
        lifecycle.CloseForProtocolError(scope.Operation, client, why);
    }

    /// <summary>The store could not write what a packet to this client vouched for: the client is disconnected (MQTT 5:
    /// 0x80) without it and resends on its next connection. Its will is not published: the client did nothing wrong, and
    /// a store fault would otherwise fire the will of every client it touched.</summary>
    public void StoreWriteFailed(ConnectedClient client)
    {
        using var scope = new OperationScope(sessions, ShardSet.Of(client.Session.Shard), lifecycle);
        client.WillSuppressed = true;
        lifecycle.Disconnect(scope.Operation, client, ReasonCode.UnspecifiedError, "store write failed");
    }
}
