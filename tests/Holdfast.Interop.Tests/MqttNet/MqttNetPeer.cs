using Holdfast.Interop.Tests.Infrastructure;
using System.Buffers;
using System.Text;
using System.Threading.Channels;
using MQTTnet;
using MQTTnet.Formatter;
using MQTTnet.Packets;
using MQTTnet.Protocol;

namespace Holdfast.Interop.Tests.MqttNet;

/// <summary>An application message as the MQTTnet client received it, copied inside the handler (MQTTnet may
/// reuse its buffers afterwards), plus what is needed to acknowledge it later by hand.</summary>
public sealed class ReceivedMessage
{
    private readonly MqttApplicationMessageReceivedEventArgs _args;

    internal ReceivedMessage(MqttApplicationMessageReceivedEventArgs args)
    {
        _args = args;
        ArrivedAt = System.Diagnostics.Stopwatch.GetTimestamp();
        var m = args.ApplicationMessage;
        Topic = m.Topic;
        Payload = m.Payload.ToArray();
        QoS = m.QualityOfServiceLevel;
        Retain = m.Retain;
        Dup = m.Dup;
        PacketId = args.PacketIdentifier;
        MessageExpiryInterval = m.MessageExpiryInterval;
        SubscriptionIdentifiers = m.SubscriptionIdentifiers is null ? [] : [.. m.SubscriptionIdentifiers];
        UserProperties = m.UserProperties is null ? [] : m.UserProperties.Select(p => (p.Name, p.ReadValueAsString())).ToList();
        ResponseTopic = m.ResponseTopic;
        CorrelationData = m.CorrelationData is null ? null : [.. m.CorrelationData];
        ContentType = m.ContentType;
        PayloadFormatIndicator = m.PayloadFormatIndicator;
        TopicAlias = m.TopicAlias;
    }

    /// <summary>Stopwatch timestamp taken in MQTTnet's receive handler.</summary>
    public long ArrivedAt { get; }
    public string Topic { get; }
    public byte[] Payload { get; }
    public string Text => Encoding.UTF8.GetString(Payload);
    public MqttQualityOfServiceLevel QoS { get; }
    public bool Retain { get; }
    public bool Dup { get; }
    public ushort PacketId { get; }
    public uint MessageExpiryInterval { get; }
    public List<uint> SubscriptionIdentifiers { get; }
    public List<(string Name, string Value)> UserProperties { get; }
    public string? ResponseTopic { get; }
    public byte[]? CorrelationData { get; }
    public string? ContentType { get; }
    public MqttPayloadFormatIndicator PayloadFormatIndicator { get; }
    public ushort TopicAlias { get; }

    /// <summary>Sends the PUBACK (QoS 1) or PUBREC (QoS 2) for a peer connected with manual acknowledgement.</summary>
    public Task AckAsync() => _args.AcknowledgeAsync(CancellationToken.None);

    public override string ToString() => $"'{Topic}' q{(int)QoS} r{(Retain ? 1 : 0)} d{(Dup ? 1 : 0)} m{PacketId} \"{Text}\"";
}

/// <summary>
/// The MQTTnet client as an independent real peer: connects to a test broker, records every message it receives
/// in arrival order, and exposes the disconnect as a task. With <c>manualAck</c> it never acknowledges on its own
/// (MQTTnet 5: AutoAcknowledge = false), so a test decides when (and whether) each PUBACK/PUBREC goes out.
/// </summary>
public sealed class MqttNetPeer : IAsyncDisposable
{
    private readonly Channel<ReceivedMessage> _received = Channel.CreateUnbounded<ReceivedMessage>();
    private readonly TaskCompletionSource<MqttClientDisconnectedEventArgs> _disconnected = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly List<ReceivedMessage> _all = [];

    private MqttNetPeer(IMqttClient client, string clientId, MqttProtocolVersion version)
    {
        Client = client;
        ClientId = clientId;
        Version = version;
    }

    public IMqttClient Client { get; }
    public string ClientId { get; }
    public MqttProtocolVersion Version { get; }
    public MqttClientConnectResult ConnectResult { get; private set; } = null!;

    /// <summary>Completes when the connection ends for any reason other than our own DisconnectAsync.</summary>
    public Task<MqttClientDisconnectedEventArgs> Disconnected => _disconnected.Task;

    /// <summary>Every message received so far, in arrival order.</summary>
    public IReadOnlyList<ReceivedMessage> All { get { lock (_all) return [.. _all]; } }

    /// <summary>Builds options for a client of the given version: keep-alive 30 s (quiet, but alive), the given id.</summary>
    public static MqttClientOptionsBuilder Options(int port, MqttProtocolVersion version, string clientId) =>
        new MqttClientOptionsBuilder()
            .WithTcpServer("127.0.0.1", port)
            .WithProtocolVersion(version)
            .WithClientId(clientId)
            .WithKeepAlivePeriod(TimeSpan.FromSeconds(30))
            .WithTimeout(TimeSpan.FromSeconds(30));

    /// <summary>Connects a clean (non-persistent) client.</summary>
    public static Task<MqttNetPeer> ConnectAsync(int port, MqttProtocolVersion version, string clientId,
        Action<MqttClientOptionsBuilder>? configure = null, bool manualAck = false)
    {
        var builder = Options(port, version, clientId).WithCleanSession(true);
        configure?.Invoke(builder);
        return ConnectAsync(builder.Build(), manualAck);
    }

    /// <summary>Connects with a persistent session: 3.1.1 CleanSession=0; 5.0 CleanStart=0 and a session expiry of
    /// <paramref name="sessionExpirySeconds"/>.</summary>
    public static Task<MqttNetPeer> ConnectPersistentAsync(int port, MqttProtocolVersion version, string clientId,
        bool manualAck = false, uint sessionExpirySeconds = 300, Action<MqttClientOptionsBuilder>? configure = null)
    {
        var builder = Options(port, version, clientId).WithCleanSession(false);
        if (version == MqttProtocolVersion.V500) builder.WithSessionExpiryInterval(sessionExpirySeconds);
        configure?.Invoke(builder);
        return ConnectAsync(builder.Build(), manualAck);
    }

    public static async Task<MqttNetPeer> ConnectAsync(MqttClientOptions options, bool manualAck = false)
    {
        var client = new MqttClientFactory().CreateMqttClient();
        var peer = new MqttNetPeer(client, options.ClientId, options.ProtocolVersion);
        client.ApplicationMessageReceivedAsync += e =>
        {
            if (manualAck) e.AutoAcknowledge = false;
            var message = new ReceivedMessage(e);
            lock (peer._all) peer._all.Add(message);
            peer._received.Writer.TryWrite(message);
            return Task.CompletedTask;
        };
        client.DisconnectedAsync += e =>
        {
            if (e.ClientWasConnected) peer._disconnected.TrySetResult(e);
            return Task.CompletedTask;
        };
        using var cts = new CancellationTokenSource(Waits.Event);
        peer.ConnectResult = await client.ConnectAsync(options, cts.Token);
        Assert.Equal(MqttClientConnectResultCode.Success, peer.ConnectResult.ResultCode);
        return peer;
    }

    /// <summary>The next message in arrival order; fails the test if none arrives in time.</summary>
    public async Task<ReceivedMessage> ReceiveAsync(TimeSpan? timeout = null)
    {
        using var cts = new CancellationTokenSource(timeout ?? Waits.Event);
        try { return await _received.Reader.ReadAsync(cts.Token); }
        catch (OperationCanceledException)
        {
            throw new TimeoutException($"{ClientId}: no message within {(timeout ?? Waits.Event).TotalSeconds} s; received so far: {string.Join("; ", All)}");
        }
    }

    /// <summary>The next <paramref name="count"/> messages.</summary>
    public async Task<List<ReceivedMessage>> ReceiveAsync(int count, TimeSpan? timeout = null)
    {
        var list = new List<ReceivedMessage>(count);
        for (int i = 0; i < count; i++) list.Add(await ReceiveAsync(timeout));
        return list;
    }

    /// <summary>Asserts that no further message arrives within <paramref name="window"/> (default <see cref="Waits.Quiet"/>).</summary>
    public async Task AssertNothingReceivedAsync(TimeSpan? window = null)
    {
        using var cts = new CancellationTokenSource(window ?? Waits.Quiet);
        try
        {
            var extra = await _received.Reader.ReadAsync(cts.Token);
            Assert.Fail($"{ClientId}: expected no message, received {extra}");
        }
        catch (OperationCanceledException) { }
    }

    /// <summary>Asserts nothing is waiting to be read right now (after another peer's quiet window has passed).</summary>
    public void AssertNothingPending()
    {
        if (_received.Reader.TryRead(out var extra)) Assert.Fail($"{ClientId}: expected no message, received {extra}");
    }

    public async Task<MqttClientSubscribeResult> SubscribeAsync(string filter, MqttQualityOfServiceLevel qos = MqttQualityOfServiceLevel.AtLeastOnce)
    {
        var result = await Client.SubscribeAsync(new MqttClientSubscribeOptionsBuilder().WithTopicFilter(filter, qos).Build());
        var code = Assert.Single(result.Items).ResultCode;
        Assert.Equal((int)qos, (int)code);
        return result;
    }

    public Task<MqttClientSubscribeResult> SubscribeAsync(MqttClientSubscribeOptions options) => Client.SubscribeAsync(options);

    public Task<MqttClientPublishResult> PublishAsync(string topic, string payload,
        MqttQualityOfServiceLevel qos = MqttQualityOfServiceLevel.AtLeastOnce, bool retain = false) =>
        Client.PublishAsync(new MqttApplicationMessageBuilder().WithTopic(topic).WithPayload(payload)
            .WithQualityOfServiceLevel(qos).WithRetainFlag(retain).Build());

    public Task<MqttClientPublishResult> PublishAsync(MqttApplicationMessage message) => Client.PublishAsync(message);

    /// <summary>A normal DISCONNECT (0x00): the will is discarded.</summary>
    public Task DisconnectAsync(MqttClientDisconnectOptions? options = null) =>
        Client.DisconnectAsync(options ?? new MqttClientDisconnectOptionsBuilder().Build());

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (Client.IsConnected) await Client.DisconnectAsync(new MqttClientDisconnectOptionsBuilder().Build()).WaitAsync(TimeSpan.FromSeconds(5));
        }
        catch (Exception) { /* the broker may already be gone */ }
        Client.Dispose();
    }
}
