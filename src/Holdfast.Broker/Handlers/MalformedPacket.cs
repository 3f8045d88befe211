using Holdfast.Protocol;

namespace Holdfast.Broker;

// Bytes that do not read as a valid packet (MQTT 5.0 §4.13): the protocol layer names the reason, the broker answers.
public sealed partial class MqttBroker
{
    /// <summary>A packet from <paramref name="connection"/> could not be read. A connected client is disconnected with the
    /// reason the protocol layer gave (MQTT 5: a DISCONNECT carrying it). Before CONNECT completed, an unsupported protocol
    /// level gets a CONNACK saying so [MQTT-3.1.2-2]; anything else is just closed.</summary>
    public void HandleMalformedPacket(IClientConnection connection, ConnectedClient? client, MqttProtocolException error)
    {
        if (Log.IsEnabled(LogType.Notice))
            Log.Notice($"Client {client?.ClientId ?? connection.RemoteAddress} sent a bad packet: {error.Message}; disconnecting (0x{(byte)error.ReasonCode:X2}).");
        if (client is not null)
        {
            Disconnect(client, error.ReasonCode, error.Message);
            return;
        }
        connection.Close(error.ReasonCode == ReasonCode.UnsupportedProtocolVersion ? new ConnAckPacket { ReasonCode = ReasonCode.UnsupportedProtocolVersion } : null);
    }
}
