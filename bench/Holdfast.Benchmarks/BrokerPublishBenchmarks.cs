using BenchmarkDotNet.Attributes;
using Holdfast.Broker;
using Holdfast.Protocol;

namespace Holdfast.Benchmarks;

/// <summary>
/// The broker's whole path for one PUBLISH already parsed: accept, match, route to every subscriber, build their
/// PUBLISH packets and (QoS 1) the publisher's PUBACK; for QoS 1 each subscriber's PUBACK is handled too, so the
/// inflight windows stay open and the run measures the steady state. MQTT 5 clients, clean sessions, no store.
/// The connections drop what they are sent: encoding and socket writes are not part of this.
/// </summary>
[MemoryDiagnoser, ShortRunJob]
public class BrokerPublishBenchmarks
{
    private MqttBroker _broker = null!;
    private ConnectedClient _publisher = null!;
    private PublishPacket _publish = null!;
    private (ConnectedClient Client, DroppingConnection Connection, PubAckPacket Ack)[] _subscribers = [];

    [Params(QualityOfService.AtMostOnce, QualityOfService.AtLeastOnce)]
    public QualityOfService QoS { get; set; }

    [Params(1, 50)]
    public int Subscribers { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _broker = new MqttBroker(new BrokerOptions { ConnectionMessages = false });
        _publisher = Connect("publisher", new DroppingConnection());
        _subscribers = new (ConnectedClient, DroppingConnection, PubAckPacket)[Subscribers];
        for (int i = 0; i < Subscribers; i++)
        {
            var connection = new DroppingConnection();
            var client = Connect($"subscriber-{i}", connection);
            _broker.HandleSubscribe(client, new SubscribePacket
            {
                PacketId = 1,
                Subscriptions = [new TopicSubscription { TopicFilter = "plant/+/sensor-7/temp", MaximumQoS = QualityOfService.AtLeastOnce }],
            });
            _subscribers[i] = (client, connection, new PubAckPacket());
        }
        _publish = new PublishPacket
        {
            Topic = "plant/line-42/sensor-7/temp",
            QoS = QoS,
            PacketId = QoS == QualityOfService.AtMostOnce ? (ushort)0 : (ushort)1,
            Payload = new byte[64],
        };
    }

    [GlobalCleanup]
    public void Cleanup() => _broker.Dispose();

    [Benchmark]
    public void HandlePublish()
    {
        // Synchronous unless a 3.1.1 publisher is held back by a full queue, which cannot happen here.
        _broker.HandlePublish(_publisher, _publish);
        if (QoS == QualityOfService.AtMostOnce) return;
        foreach (var (client, connection, ack) in _subscribers)
        {
            ack.PacketId = connection.LastPacketId;
            _broker.HandlePubAck(client, ack);
        }
    }

    private ConnectedClient Connect(string clientId, IClientConnection connection) =>
        _broker.HandleConnect(connection, new ConnectPacket { ProtocolVersion = ProtocolVersion.V500, ClientId = clientId }, ListenerPolicy.Default)
        ?? throw new InvalidOperationException($"{clientId} was refused");
}
