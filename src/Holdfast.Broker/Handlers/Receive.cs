using Holdfast.Protocol;

namespace Holdfast.Broker;

// Where each packet from a connected client goes: one handler per packet type (PUBLISH has its own entry, HandlePublish,
// because it can hold the connection back).
public sealed partial class MqttBroker
{
    /// <summary>Hands a packet other than PUBLISH from a connected client to its handler. Returns the packet when the broker
    /// keeps nothing of it (an acknowledgement), so the reader may read the next of its type into it; null otherwise.</summary>
    public MqttPacket? HandlePacket(ConnectedClient client, MqttPacket packet)
    {
        switch (packet)
        {
            case PubAckPacket a: HandlePubAck(client, a); return a;
            case PubRecPacket a: HandlePubRec(client, a); return a;
            case PubRelPacket a: HandlePubRel(client, a); return a;
            case PubCompPacket a: HandlePubComp(client, a); return a;
            case SubscribePacket s: HandleSubscribe(client, s); return null;
            case UnsubscribePacket u: HandleUnsubscribe(client, u); return null;
            case PingReqPacket: HandlePingReq(client); return null;
            case DisconnectPacket d: HandleDisconnect(client, d); return null;
            case AuthPacket a: HandleAuth(client, a); return null;
            default:
                // CONNECT twice, or a packet only a server sends [MQTT-3.1.0-2]; a PUBLISH goes to HandlePublish.
                Disconnect(client, ReasonCode.ProtocolError, $"unexpected {packet.Type} from a client");
                return null;
        }
    }
}
