using Holdfast.Protocol;

namespace Holdfast.Broker;

// AUTH (MQTT 5.0 §3.15) and PINGREQ.
public sealed partial class MqttBroker
{
    /// <summary>Enhanced authentication is not configured: CONNECT with an Authentication Method was already refused
    /// with 0x8C, so any AUTH is a Protocol Error [MQTT-3.15.2-1 / §4.12].</summary>
    public void HandleAuth(ConnectedClient client, AuthPacket packet) =>
        Disconnect(client, ReasonCode.ProtocolError, "AUTH without an authentication method");

    public void HandlePingReq(ConnectedClient client) => client.Connection.Send(PingRespPacket.Instance);
}
