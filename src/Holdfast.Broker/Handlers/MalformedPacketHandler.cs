using Holdfast.Protocol;

namespace Holdfast.Broker;

/// <summary>Bytes that do not read as a valid packet (MQTT 5.0 §4.13): the protocol layer names the reason, the broker
/// answers.</summary>
internal sealed class MalformedPacketHandler(BrokerContext context, DisconnectHandler disconnects)
{
    /// <summary>A connected client is disconnected with the reason the protocol layer gave (MQTT 5: a DISCONNECT carrying
    /// it). Before CONNECT completed, an unsupported protocol level gets a CONNACK saying so [MQTT-3.1.2-2]; anything else
    /// is just closed.</summary>
    public void Handle(IClientConnection connection, ConnectedClient? client, MqttProtocolException error)
    {
        if (context.Log.IsEnabled(LogType.Notice))
            context.Log.Notice($"Client {client?.ClientId ?? connection.RemoteAddress} sent a bad packet: {error.Message}; disconnecting (0x{(byte)error.ReasonCode:X2}).");
        if (client is not null && error.PacketType is PacketType.ConnAck or PacketType.SubAck or PacketType.UnsubAck or PacketType.PingResp)
        {
            // A packet only a server sends is no request to answer: closed without a DISCONNECT, as Mosquitto does.
            disconnects.CloseForProtocolError(client, error.Message);
            return;
        }
        if (client is not null)
        {
            disconnects.Disconnect(client, error.ReasonCode, error.Message);
            return;
        }
        connection.Close(error.ReasonCode == ReasonCode.UnsupportedProtocolVersion ? new ConnAckPacket { ReasonCode = ReasonCode.UnsupportedProtocolVersion } : null);
    }
}
