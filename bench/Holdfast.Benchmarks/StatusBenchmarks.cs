using BenchmarkDotNet.Attributes;
using Holdfast.Broker;
using Holdfast.Protocol;

namespace Holdfast.Benchmarks;

/// <summary>
/// The status snapshot behind $SYS and /metrics (and, beside it, the broker's timer tick), taken under the broker's lock (every publish waits for it): 20,000
/// sessions, half connected, half offline persistent sessions; one in ten connected clients holds unacknowledged QoS 1
/// messages (inflight, window 2, and more queued behind them), every offline session holds queued messages; 10,000
/// retained messages. Each listener has an ack_timeout, so the past-ack-timeout count has work to do.
/// </summary>
[MemoryDiagnoser, ShortRunJob]
public class StatusBenchmarks
{
    private const int Sessions = 20_000, Retained = 10_000;
    private MqttBroker _broker = null!;

    [GlobalSetup]
    public void Setup()
    {
        _broker = new MqttBroker(new BrokerOptions { ConnectionMessages = false, MaxInflightMessages = 2 });
        var policy = new ListenerPolicy { AckTimeout = TimeSpan.FromMinutes(5) };
        var publisher = Connect("publisher", expiry: 0, policy);
        for (int i = 0; i < Sessions; i++)
        {
            bool connected = i % 2 == 0;
            var client = Connect($"client-{i}", expiry: 3600, policy);
            // The held ones: every tenth connected client, and every offline session.
            if (i % 20 == 0 || !connected)
                _broker.HandleSubscribe(client, new SubscribePacket
                {
                    PacketId = 1,
                    Subscriptions = [new TopicSubscription { TopicFilter = $"held/{i}", MaximumQoS = QualityOfService.AtLeastOnce }],
                });
            if (!connected) _broker.ConnectionLost(client, "closed");
        }
        for (ushort n = 1; n <= 3; n++)
            for (int i = 0; i < Sessions; i++)
                if (i % 20 == 0 || i % 2 == 1)
                    Publish(publisher, $"held/{i}", QualityOfService.AtLeastOnce, retain: false, packetId: n);
        for (int i = 0; i < Retained; i++) Publish(publisher, $"kept/{i}", QualityOfService.AtMostOnce, retain: true, packetId: 0);
        var status = _broker.Status();
        if (status.ClientsTotal != Sessions + 1 || status.RetainedMessages != Retained || status.InflightMessages == 0 || status.QueuedMessages == 0)
            throw new InvalidOperationException($"unexpected setup: {status}");
    }

    [GlobalCleanup]
    public void Cleanup() => _broker.Dispose();

    [Benchmark]
    public BrokerStatus Status() => _broker.Status();

    /// <summary>The broker's timer (wills, session and message expiry, ack timeouts), which runs every 100 ms under the
    /// same lock: with nothing due it looks only at the head of its deadline queue, however many sessions exist.</summary>
    [Benchmark]
    public void Tick() => _broker.Tick();

    private void Publish(ConnectedClient publisher, string topic, QualityOfService qos, bool retain, ushort packetId) =>
        _broker.HandlePublish(publisher, new PublishPacket { Topic = topic, QoS = qos, Retain = retain, PacketId = packetId, Payload = new byte[64] });

    private ConnectedClient Connect(string clientId, uint expiry, ListenerPolicy policy) =>
        _broker.HandleConnect(new SilentConnection(), new ConnectPacket
        {
            ProtocolVersion = ProtocolVersion.V500,
            ClientId = clientId,
            Properties = expiry > 0 ? new MqttProperties { SessionExpiryInterval = expiry } : null,
        }, policy) ?? throw new InvalidOperationException($"{clientId} was refused");

    /// <summary>A connection that drops what it is sent.</summary>
    private sealed class SilentConnection : IClientConnection
    {
        public string RemoteAddress => "127.0.0.1:1";
        public long PendingBytes => 0;
        public void Send(OutboundPacket packet, long durableAt = 0) { }
        public void Close(MqttPacket? goodbye = null) { }
    }
}
