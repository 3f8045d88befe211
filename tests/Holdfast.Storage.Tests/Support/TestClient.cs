using System.Text;
using Holdfast.Broker;
using Holdfast.Protocol;

namespace Holdfast.Storage.Tests.Support;

/// <summary>One client of a broker under test: its recorded connection and the broker's handle for it.</summary>
public sealed class TestClient
{
    private TestClient(MqttBroker broker, RecordingConnection connection, ConnectedClient client)
    {
        Broker = broker;
        Connection = connection;
        Client = client;
    }

    public MqttBroker Broker { get; }
    public RecordingConnection Connection { get; }
    public ConnectedClient Client { get; }

    public ConnAckPacket ConnAck => Connection.SentOf<ConnAckPacket>().Single().Packet;

    /// <summary>Connects through <see cref="MqttBroker.HandleConnect"/>. A persistent session is 3.1.1 clean session 0, or
    /// MQTT 5 clean start 0 with a session expiry that never ends.</summary>
    public static TestClient Connect(MqttBroker broker, string clientId, ProtocolVersion version = ProtocolVersion.V500, bool persistent = false)
    {
        var connection = new RecordingConnection(clientId, version);
        var client = broker.HandleConnect(connection, new ConnectPacket
        {
            ProtocolVersion = version,
            ProtocolName = "MQTT",
            ClientId = clientId,
            CleanStart = !persistent,
            Properties = version == ProtocolVersion.V500 && persistent ? new MqttProperties { SessionExpiryInterval = uint.MaxValue } : null,
        }, ListenerPolicy.Default);
        Assert.NotNull(client);
        return new TestClient(broker, connection, client);
    }

    public void Subscribe(string filter, QualityOfService qos, ushort packetId = 1) =>
        Broker.HandleSubscribe(Client, new SubscribePacket
        {
            PacketId = packetId,
            Subscriptions = [new TopicSubscription { TopicFilter = filter, MaximumQoS = qos }],
        });

    /// <summary>Publishes; the broker finishes with a publish synchronously unless it holds a 3.1.1 publisher back.</summary>
    public void Publish(string topic, string payload, QualityOfService qos, ushort packetId, bool retain = false)
    {
        var receipt = Broker.HandlePublish(Client, new PublishPacket
        {
            Topic = topic,
            Payload = Encoding.UTF8.GetBytes(payload),
            QoS = qos,
            PacketId = packetId,
            Retain = retain,
        });
        Assert.False(receipt.PacketKept, "the broker should have finished with the publish here");
    }

    public void PubAck(ushort packetId) => Broker.HandlePubAck(Client, new PubAckPacket { PacketId = packetId });

    /// <summary>The connection ends without a DISCONNECT (the session stays, inflight messages are resent later).</summary>
    public void Lost() => Broker.ConnectionLost(Client, "closed its connection");

    /// <summary>The PUBACK sent for <paramref name="packetId"/>, with the store sequence it waits for.</summary>
    public (PubAckPacket Packet, long DurableAt) PubAckFor(ushort packetId) =>
        Connection.SentOf<PubAckPacket>().Single(a => a.Packet.PacketId == packetId);
}

public static class PublishPacketExtensions
{
    public static string Text(this PublishPacket p) => Encoding.UTF8.GetString(p.Payload.Span);
}
