using BenchmarkDotNet.Attributes;
using Holdfast.Broker;
using Holdfast.Protocol;

namespace Holdfast.Benchmarks;

/// <summary>
/// Publish throughput with 1 and 2 publisher threads on disjoint topics: each thread's publisher has its own topic and
/// its own subscriber (MQTT 5, clean sessions, no store), and publishes <see cref="PerThread"/> messages as fast as the
/// broker takes them; at QoS 1 the subscriber acknowledges each message, so its window stays open. Reported per message:
/// with no lock shared between the two publishers' paths, the time per message should fall as threads are added.
/// The connections drop what they are sent: encoding and socket writes are not part of this.
/// </summary>
[ShortRunJob]
public class PublishScalingBenchmarks
{
    private const int PerThread = 200_000;
    private MqttBroker _broker = null!;
    private Lane[] _lanes = [];

    [Params(1, 2)]
    public int Threads { get; set; }

    [Params(QualityOfService.AtMostOnce, QualityOfService.AtLeastOnce)]
    public QualityOfService QoS { get; set; }

    /// <summary>One publisher thread's clients: its publisher, its subscriber and what it publishes.</summary>
    private sealed record Lane(ConnectedClient Publisher, ConnectedClient Subscriber, DroppingConnection SubscriberConnection, PublishPacket Publish, PubAckPacket Ack);

    [GlobalSetup]
    public void Setup()
    {
        _broker = new MqttBroker(new BrokerOptions { ConnectionMessages = false });
        _lanes = new Lane[Threads];
        var usedShards = new HashSet<int>();
        for (int i = 0; i < Threads; i++)
        {
            // Client ids in shards no other lane uses (string hashes differ between runs): the lanes share no session lock.
            string publisherId = UnusedShard($"publisher-{i}", usedShards), subscriberId = UnusedShard($"subscriber-{i}", usedShards);
            var publisher = Connect(publisherId, new DroppingConnection());
            var connection = new DroppingConnection();
            var subscriber = Connect(subscriberId, connection);
            _broker.HandleSubscribe(subscriber, new SubscribePacket
            {
                PacketId = 1,
                Subscriptions = [new TopicSubscription { TopicFilter = $"plant/line-{i}/+/temp", MaximumQoS = QualityOfService.AtLeastOnce }],
            });
            var publish = new PublishPacket { Topic = $"plant/line-{i}/sensor-7/temp", QoS = QoS, PacketId = QoS == QualityOfService.AtMostOnce ? (ushort)0 : (ushort)1, Payload = new byte[64] };
            _lanes[i] = new Lane(publisher, subscriber, connection, publish, new PubAckPacket());
        }
    }

    [GlobalCleanup]
    public void Cleanup() => _broker.Dispose();

    [Benchmark(OperationsPerInvoke = PerThread)]
    public void Publish()
    {
        using var start = new Barrier(Threads);
        var threads = _lanes.Select(lane => new Thread(() =>
        {
            start.SignalAndWait();
            for (int n = 0; n < PerThread / Threads; n++)
            {
                _broker.HandlePublish(lane.Publisher, lane.Publish);
                if (QoS == QualityOfService.AtMostOnce) continue;
                lane.Ack.PacketId = lane.SubscriberConnection.LastPacketId;
                _broker.HandlePubAck(lane.Subscriber, lane.Ack);
            }
        })).ToList();
        threads.ForEach(t => t.Start());
        threads.ForEach(t => t.Join());
    }

    private static string UnusedShard(string prefix, HashSet<int> used)
    {
        for (int n = 0; ; n++)
            if (used.Add(SessionTable.ShardIndexOf($"{prefix}-{n}"))) return $"{prefix}-{n}";
    }

    private ConnectedClient Connect(string clientId, IClientConnection connection) =>
        _broker.HandleConnect(connection, new ConnectPacket { ProtocolVersion = ProtocolVersion.V500, ClientId = clientId }, ListenerPolicy.Default)
        ?? throw new InvalidOperationException($"{clientId} was refused");
}
