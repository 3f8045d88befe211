using System.Diagnostics;
using Microsoft.Extensions.Time.Testing;
using System.Text;
using Holdfast.Protocol;

namespace Holdfast.Broker.Tests;

/// <summary>An in-memory connection: records every packet the broker sends and every close, thread-safe.</summary>
public sealed class FakeConnection(string name = "test") : IClientConnection
{
    private readonly Lock _gate = new();
    private readonly List<MqttPacket> _sent = [];
    private readonly List<(ReasonCode? Reason, string? Text)> _closes = [];
    private readonly List<(Func<MqttPacket, bool> Match, TaskCompletionSource Waiter)> _waiters = [];

    public string RemoteAddress => name + ":1";
    public long PendingBytes { get; set; }
    /// <summary>The version the client connected with: sent packets are recorded as a reader of their bytes would see them.</summary>
    public ProtocolVersion Version { get; set; } = ProtocolVersion.V500;

    public void Send(OutboundPacket packet, long durableAt = 0)
    {
        var sent = packet.ToPacket(Version);
        lock (_gate)
        {
            _sent.Add(sent);
            _waiters.RemoveAll(w => w.Match(sent) && w.Waiter.TrySetResult());
        }
    }

    /// <summary>Recorded as the reason and reason string of the DISCONNECT the broker said goodbye with (MQTT 5), or as
    /// the refusing CONNACK's code; (null, null) for a plain close.</summary>
    public void Close(MqttPacket? goodbye = null)
    {
        lock (_gate)
        {
            if (goodbye is not null) _sent.Add(goodbye);
            _closes.Add(goodbye switch
            {
                DisconnectPacket d => (d.ReasonCode, d.Properties?.ReasonString),
                ConnAckPacket c => (c.ReasonCode, null),
                _ => (null, null),
            });
        }
    }

    public MqttPacket[] Sent { get { lock (_gate) return [.. _sent]; } }

    /// <summary>Completes when a packet matching <paramref name="match"/> has been sent (perhaps already).</summary>
    public Task WhenSent(Func<MqttPacket, bool> match)
    {
        lock (_gate)
        {
            if (_sent.Any(match)) return Task.CompletedTask;
            var waiter = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _waiters.Add((match, waiter));
            return waiter.Task;
        }
    }
    public T[] SentOf<T>() where T : MqttPacket => Sent.OfType<T>().ToArray();
    public PublishPacket[] Publishes => SentOf<PublishPacket>();
    public (ReasonCode? Reason, string? Text)[] Closes { get { lock (_gate) return [.. _closes]; } }
    public bool IsClosed => Closes.Length > 0;
    public ReasonCode? CloseReason => Closes.Length > 0 ? Closes[0].Reason : null;

    public void Clear()
    {
        lock (_gate) _sent.Clear();
    }
}

/// <summary>One test client: its connection, the attached broker client and the CONNACK it got.</summary>
public sealed class Peer(MqttBroker broker, FakeConnection connection, ConnectedClient? client)
{
    public MqttBroker Broker { get; } = broker;
    public FakeConnection Conn { get; } = connection;
    public ConnectedClient? ClientOrNull { get; } = client;
    public ConnectedClient Client => ClientOrNull ?? throw new InvalidOperationException("connection was refused");
    public ConnAckPacket ConnAck => Conn.SentOf<ConnAckPacket>().Single();

    public PublishPacket[] Publishes => Conn.Publishes;

    public void Subscribe(string filter, QualityOfService qos = QualityOfService.AtLeastOnce, bool noLocal = false,
        bool retainAsPublished = false, RetainHandling retainHandling = RetainHandling.SendAtSubscribe, uint? subscriptionId = null,
        ushort packetId = 1)
    {
        Broker.HandleSubscribe(Client, new SubscribePacket
        {
            PacketId = packetId,
            Properties = subscriptionId is { } id ? new MqttProperties { SubscriptionIdentifiers = [id] } : null,
            Subscriptions = [new TopicSubscription
            {
                TopicFilter = filter, MaximumQoS = qos, NoLocal = noLocal, RetainAsPublished = retainAsPublished, RetainHandling = retainHandling,
            }],
        });
    }

    /// <summary>Publishes; the task completes at once, or, when the broker held the publish back, once it is acknowledged.</summary>
    public Task PublishAsync(string topic, string payload, QualityOfService qos = QualityOfService.AtLeastOnce, ushort packetId = 0,
        bool retain = false, bool dup = false, MqttProperties? properties = null)
    {
        var receipt = Broker.HandlePublish(Client, new PublishPacket
        {
            Topic = topic,
            Payload = Encoding.UTF8.GetBytes(payload),
            QoS = qos,
            PacketId = packetId,
            Retain = retain,
            Dup = dup,
            Properties = properties,
        });
        if (!receipt.PacketKept) return Task.CompletedTask;
        return Conn.WhenSent(p => p is PubAckPacket or PubRecPacket && ((PublishResponsePacket)p).PacketId == packetId);
    }

    /// <summary>Publishes and requires the broker to have finished with it at once (not held back).</summary>
    public void Publish(string topic, string payload, QualityOfService qos = QualityOfService.AtLeastOnce, ushort packetId = 0,
        bool retain = false, bool dup = false, MqttProperties? properties = null)
    {
        var task = PublishAsync(topic, payload, qos, packetId, retain, dup, properties);
        Assert.True(task.IsCompletedSuccessfully, "the broker should have finished with the publish here");
    }

    public void PubAck(ushort packetId) => Broker.HandlePubAck(Client, new PubAckPacket { PacketId = packetId });
    public void PubRec(ushort packetId, ReasonCode code = ReasonCode.Success) =>
        Broker.HandlePubRec(Client, new PubRecPacket { PacketId = packetId, ReasonCode = code });
    public void PubRel(ushort packetId) => Broker.HandlePubRel(Client, new PubRelPacket { PacketId = packetId });
    public void PubComp(ushort packetId) => Broker.HandlePubComp(Client, new PubCompPacket { PacketId = packetId });
    public void Disconnect(ReasonCode code = ReasonCode.NormalDisconnection, MqttProperties? properties = null) =>
        Broker.HandleDisconnect(Client, new DisconnectPacket { ReasonCode = code, Properties = properties });
    public void Lost() => Broker.ConnectionLost(Client, "closed its connection");

    /// <summary>Acknowledges every QoS 1 PUBLISH received so far.</summary>
    public void AckAllQoS1()
    {
        foreach (var p in Publishes.Where(p => p.QoS == QualityOfService.AtLeastOnce).Select(p => p.PacketId).Distinct().ToList())
            PubAck(p);
    }
}

public static class BrokerTestExtensions
{
    public static Peer Connect(this MqttBroker broker, string clientId, ProtocolVersion version = ProtocolVersion.V500,
        bool cleanStart = true, uint? sessionExpiry = null, ushort? receiveMaximum = null, uint? maximumPacketSize = null,
        WillMessage? will = null, ListenerPolicy? policy = null, string? userName = null, FakeConnection? connection = null,
        byte[]? password = null)
    {
        MqttProperties? properties = null;
        if (version == ProtocolVersion.V500 && (sessionExpiry is not null || receiveMaximum is not null || maximumPacketSize is not null))
            properties = new MqttProperties { SessionExpiryInterval = sessionExpiry, ReceiveMaximum = receiveMaximum, MaximumPacketSize = maximumPacketSize };
        var conn = connection ?? new FakeConnection(clientId);
        conn.Version = version;
        var client = broker.HandleConnect(conn, new ConnectPacket
        {
            ProtocolVersion = version,
            ProtocolName = version == ProtocolVersion.V310 ? "MQIsdp" : "MQTT",
            ClientId = clientId,
            CleanStart = cleanStart,
            Properties = properties,
            Will = will,
            UserName = userName,
            Password = password,
        }, policy ?? ListenerPolicy.Default);
        return new Peer(broker, conn, client);
    }

    /// <summary>A persistent MQTT 5 session (clean start off, never expires) or 3.1.1 clean session 0.</summary>
    public static Peer ConnectPersistent(this MqttBroker broker, string clientId, ProtocolVersion version = ProtocolVersion.V500,
        ushort? receiveMaximum = null, ListenerPolicy? policy = null) =>
        broker.Connect(clientId, version, cleanStart: false,
            sessionExpiry: version == ProtocolVersion.V500 ? uint.MaxValue : null, receiveMaximum: receiveMaximum, policy: policy);

    public static string Text(this PublishPacket p) => Encoding.UTF8.GetString(p.Payload.Span);

    /// <summary>The fake clock the broker runs on (see <see cref="TestBroker.New"/>).</summary>
    public static FakeTimeProvider FakeTime(this MqttBroker broker) =>
        broker.Clock.Time as FakeTimeProvider ?? throw new InvalidOperationException("this broker runs on the system clock; make it with TestBroker.New");

    /// <summary>Moves the broker's clock on by <paramref name="milliseconds"/>, one timer period at a time, so its timer
    /// runs as it would have (the fake clock runs due timer callbacks inside Advance).</summary>
    public static void TickFor(this MqttBroker broker, int milliseconds)
    {
        var time = broker.FakeTime();
        int step = (int)MqttBroker.TickInterval.TotalMilliseconds;
        for (int passed = 0; passed < milliseconds; passed += step)
            time.Advance(TimeSpan.FromMilliseconds(Math.Min(step, milliseconds - passed)));
    }

    /// <summary>Moves the broker's clock on one timer period at a time until the condition holds; fails when it has not
    /// after <paramref name="timeoutMs"/> of the broker's time. Returns the broker time that passed.</summary>
    public static long TickUntil(this MqttBroker broker, Func<bool> condition, int timeoutMs = 5000, string? what = null)
    {
        int step = (int)MqttBroker.TickInterval.TotalMilliseconds;
        for (int passed = 0; ; passed += step)
        {
            if (condition()) return passed;
            if (passed >= timeoutMs) Assert.Fail($"timed out after {timeoutMs} ms of broker time waiting for {what ?? "condition"}");
            broker.FakeTime().Advance(TimeSpan.FromMilliseconds(step));
        }
    }
}

/// <summary>Brokers for engine tests: on a fake clock, so no test sleeps and timers run when the test moves time on.</summary>
public static class TestBroker
{
    public static MqttBroker New(BrokerOptions? options = null, IBrokerLog? log = null, Storage.IBrokerStore? store = null,
        IEnumerable<ListenerPolicy>? listeners = null, FakeTimeProvider? time = null) =>
        new(options, log, store, listeners, time ?? new FakeTimeProvider());
}
