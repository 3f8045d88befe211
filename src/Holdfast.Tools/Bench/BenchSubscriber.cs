using System.Diagnostics;
using Holdfast.Client;
using Holdfast.Protocol;

namespace Holdfast.Tools.Bench;

/// <summary>
/// One subscribing client: subscribes to one filter at the scenario's QoS, acknowledges what it receives (PUBACK, or
/// PUBREC then PUBCOMP), and records each message in the <see cref="DeliveryStream"/> of its publisher and its send-to-
/// receive latency in its own histogram (one receive loop, so no locks on the hot path). A connection the broker ends
/// before the run does is reported to the run's <see cref="RunFailure"/>.
/// </summary>
internal sealed class BenchSubscriber
{
    private readonly MqttClientConnection _connection;
    private readonly DeliveryStream?[] _streams;
    private readonly RunFailure _failure;
    private int _ending;    // 1 once we disconnect or abort: the connection ending is no longer a failure
    private Task _receiving = Task.CompletedTask;
    private long _measureFromTicks = long.MaxValue;
    private long _measureToTicks = long.MaxValue;

    private BenchSubscriber(int index, MqttClientConnection connection, int publisherCount, RunFailure failure)
    {
        _failure = failure;
        Index = index;
        _connection = connection;
        _streams = new DeliveryStream?[publisherCount];
    }

    public int Index { get; }
    /// <summary>Send-to-receive latency in Stopwatch ticks of messages sent (or, with a rate, scheduled) inside the measured
    /// interval.</summary>
    public LatencyHistogram Latency { get; } = new();
    /// <summary>Messages that were not from this run's publishers to this subscriber (none expected).</summary>
    public long Unexpected { get; private set; }

    public static async Task<BenchSubscriber> ConnectAsync(MqttClientOptions options, int index, string filter, QualityOfService qos, int publisherCount,
        RunFailure failure)
    {
        var connection = await MqttClientConnection.ConnectAsync(options);
        try
        {
            connection.Send(new SubscribePacket { PacketId = 1, Subscriptions = [new TopicSubscription { TopicFilter = filter, MaximumQoS = qos }] });
            while (true)
            {
                var packet = await connection.ReceiveAsync() ?? throw new IOException($"the broker closed subscriber {index}'s connection before SUBACK");
                if (packet is not SubAckPacket subAck) continue;
                var granted = subAck.ReasonCodes.Count == 1 ? subAck.ReasonCodes[0] : ReasonCode.UnspecifiedError;
                if ((byte)granted != (byte)qos)
                    throw new InvalidOperationException($"subscriber {index}: the broker granted {MqttClientConnection.Describe(granted)} for {filter} at QoS {(int)qos}");
                return new BenchSubscriber(index, connection, publisherCount, failure);
            }
        }
        catch
        {
            await connection.DisposeAsync();
            throw;
        }
    }

    /// <summary>Expect <paramref name="stream"/>'s publisher's messages (before <see cref="Start"/>).</summary>
    public void Expect(DeliveryStream stream) => _streams[stream.Publisher.Index] = stream;

    public IEnumerable<DeliveryStream> Streams => _streams.OfType<DeliveryStream>();

    public void Start(long measureFromTicks, long measureToTicks)
    {
        _measureFromTicks = measureFromTicks;
        _measureToTicks = measureToTicks;
        _receiving = Task.Run(ReceiveAsync);
    }

    /// <summary>Ends the connection and surfaces what went wrong in the receive loop, if anything.</summary>
    public async Task DisconnectAsync()
    {
        Volatile.Write(ref _ending, 1);
        await _connection.DisconnectAsync();
        await _receiving;
    }

    public void Abort()
    {
        Volatile.Write(ref _ending, 1);
        _connection.Abort();
    }

    private async Task ReceiveAsync()
    {
        ReasonCode? disconnect = null;
        try
        {
            await ReceiveUntilClosedAsync(code => disconnect = code);
        }
        catch (MqttProtocolException e)
        {
            _failure.Report($"subscriber {Index}: {e.Message}");
            return;
        }
        if (Volatile.Read(ref _ending) == 0)
            _failure.Report(RunFailure.ConnectionEnded($"subscriber {Index}", disconnect, _connection.WriteError));
    }

    private async Task ReceiveUntilClosedAsync(Action<ReasonCode> onDisconnect)
    {
        while (await _connection.ReceiveAsync() is { } packet)
        {
            switch (packet)
            {
                case DisconnectPacket disconnect:
                    onDisconnect(disconnect.ReasonCode);
                    break;
                case PublishPacket publish:
                    OnPublish(publish);
                    break;
                case PubRelPacket release:
                    _connection.Send(new PubCompPacket { PacketId = release.PacketId });
                    break;
            }
        }
    }

    private void OnPublish(PublishPacket publish)
    {
        long now = Stopwatch.GetTimestamp();
        if (publish.QoS == QualityOfService.AtLeastOnce) _connection.Send(new PubAckPacket { PacketId = publish.PacketId });
        else if (publish.QoS == QualityOfService.ExactlyOnce) _connection.Send(new PubRecPacket { PacketId = publish.PacketId });

        if (!BenchPayload.TryDecode(publish.Payload.Span, out var payload) || (uint)payload.Publisher >= (uint)_streams.Length
            || _streams[payload.Publisher] is not { } stream)
        {
            Unexpected++;
            return;
        }
        stream.OnReceived(payload.Sequence);
        if (payload.SentTicks >= _measureFromTicks && payload.SentTicks < _measureToTicks) Latency.Record(now - payload.SentTicks);
    }
}
