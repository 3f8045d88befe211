using Holdfast.Protocol;

namespace Holdfast.Broker;

/// <summary>PINGREQ (MQTT 5.0 §3.12) and AUTH (§3.15), under the session's shard lock so that the answer keeps its place
/// among the packets queued for the connection.</summary>
internal sealed class PingAuthHandler(SessionTable sessions, SessionLifecycle lifecycle)
{
    public void HandlePingReq(ConnectedClient client)
    {
        using var scope = new OperationScope(sessions, ShardSet.Of(client.Session.Shard), lifecycle);
        scope.Operation.Send(client.Connection, PingRespPacket.Instance);
    }

    /// <summary>Enhanced authentication is not configured: CONNECT with an Authentication Method was already refused
    /// with 0x8C, so any AUTH is a Protocol Error [MQTT-3.15.2-1 / §4.12].</summary>
    public void HandleAuth(ConnectedClient client)
    {
        using var scope = new OperationScope(sessions, ShardSet.Of(client.Session.Shard), lifecycle);
        lifecycle.Disconnect(scope.Operation, client, ReasonCode.ProtocolError, "AUTH without an authentication method");
    }
}
