using Holdfast.Client;
using Holdfast.Protocol;

namespace Holdfast.Tools.Check;

/// <summary>
/// One persistent subscriber, as an application that relies on its session would be written: it subscribes once, on
/// its first connection, and afterwards reconnects with Clean Start 0 and never subscribes again, so every message
/// it receives after a reconnect comes from the session the broker kept. A reconnect that finds no session is reported.
/// <para>It acknowledges QoS 1 with PUBACK, and receives QoS 2 as a compliant receiver must: it keeps the packet id of
/// every QoS 2 PUBLISH it answered with PUBREC until the PUBREL for it arrives, across reconnects (that is part of the
/// client's session state), and a PUBLISH with a held id is the same message again, not a new delivery.</para>
/// </summary>
internal sealed class CheckSubscriber
{
    private readonly int _index;
    private readonly MqttClientOptions _options;
    private readonly CheckLedger _ledger;
    private readonly string _topicFilter;
    /// <summary>QoS 2 packet ids answered with PUBREC and not yet released by PUBREL.</summary>
    private readonly HashSet<ushort> _heldQoS2 = [];
    private MqttClientConnection? _connection;

    public CheckSubscriber(int index, MqttClientOptions options, CheckLedger ledger, string runId)
    {
        _index = index;
        _options = options;
        _ledger = ledger;
        _topicFilter = CheckLedger.TopicFilter(runId);
    }

    public string ClientId => _options.ClientId;
    public int Connections { get; private set; }

    /// <summary>First connection and the one SUBSCRIBE (QoS 2, so each message arrives at the QoS it was published with).
    /// Throws when the broker cannot be reached or does not grant QoS 2: then the run cannot prove anything.</summary>
    public async Task SubscribeAsync(CancellationToken cancellationToken)
    {
        var options = _options.Clone();
        // MQTT 5 starts a new session that outlives the connection (Session Expiry); 3.1.1 keeps one only with Clean Session 0.
        options.CleanStart = options.Version == ProtocolVersion.V500;
        var connection = await MqttClientConnection.ConnectAsync(options, cancellationToken);
        Connections = 1;
        try
        {
            await SubscribeAsync(connection, cancellationToken);
        }
        catch
        {
            await connection.DisposeAsync();
            throw;
        }
        _connection = connection;
    }

    private async Task SubscribeAsync(MqttClientConnection connection, CancellationToken cancellationToken)
    {
        connection.Send(new SubscribePacket
        {
            PacketId = 1,
            Subscriptions = [new TopicSubscription { TopicFilter = _topicFilter, MaximumQoS = QualityOfService.ExactlyOnce }],
        });
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(10));
        MqttPacket? answer;
        try { answer = await connection.ReceiveAsync(timeout.Token); }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested) { answer = null; }
        if (answer is not SubAckPacket { ReasonCodes: [var granted] })
            throw new BrokerUnavailableException($"{ClientId}: no SUBACK for {_topicFilter} (got {answer?.Type.ToString() ?? "nothing"})");
        if (granted != ReasonCode.GrantedQoS2)
            throw new BrokerUnavailableException($"{ClientId}: the broker answered SUBSCRIBE {_topicFilter} QoS 2 with {MqttClientConnection.Describe(granted)}; check needs QoS 2 granted");
    }

    /// <summary>Once <paramref name="subscribed"/> (this subscriber's <see cref="SubscribeAsync(CancellationToken)"/>) has
    /// succeeded, receives until <paramref name="stop"/>, reconnecting (never resubscribing) whenever the connection
    /// ends. Does nothing if the subscription failed (whoever awaits <paramref name="subscribed"/> reports it).</summary>
    public async Task RunAsync(Task subscribed, CancellationToken stop)
    {
        await subscribed.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        if (!subscribed.IsCompletedSuccessfully) return;
        var backoff = new Backoff();
        while (!stop.IsCancellationRequested)
        {
            if (_connection is null)
            {
                var options = _options.Clone();
                options.CleanStart = false;
                try
                {
                    _connection = await MqttClientConnection.ConnectAsync(options, stop);
                }
                catch (Exception e) when (CheckPublisher.IsConnectionFailure(e, stop))
                {
                    await backoff.WaitAsync(stop);
                    continue;
                }
                catch (OperationCanceledException)
                {
                    return;
                }
                Connections++;
                backoff.Reset();
                if (!_connection.ConnAck.SessionPresent)
                {
                    _ledger.SessionLost(ClientId, Connections);
                    // The spec has a client discard its session state when the broker has none.
                    _heldQoS2.Clear();
                }
            }
            var connection = _connection;
            try
            {
                while (await connection.ReceiveAsync(stop) is { } packet) Handle(connection, packet);
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                await connection.DisconnectAsync();
            }
            catch (MqttProtocolException) { }
            await connection.DisposeAsync();
            _connection = null;
        }
        // Stopped before reading from the connection it has: it still ends it cleanly.
        if (_connection is { } left)
        {
            await left.DisconnectAsync();
            await left.DisposeAsync();
            _connection = null;
        }
    }

    private void Handle(MqttClientConnection connection, MqttPacket packet)
    {
        switch (packet)
        {
            case PublishPacket { QoS: QualityOfService.AtMostOnce } publish:
                _ledger.Delivered(_index, publish.Topic, publish.Payload.Span);
                break;
            case PublishPacket { QoS: QualityOfService.AtLeastOnce } publish:
                _ledger.Delivered(_index, publish.Topic, publish.Payload.Span);
                connection.Send(new PubAckPacket { PacketId = publish.PacketId });
                break;
            case PublishPacket publish:
                if (_heldQoS2.Add(publish.PacketId)) _ledger.Delivered(_index, publish.Topic, publish.Payload.Span);
                connection.Send(new PubRecPacket { PacketId = publish.PacketId });
                break;
            case PubRelPacket release:
                _heldQoS2.Remove(release.PacketId);
                connection.Send(new PubCompPacket { PacketId = release.PacketId });
                break;
        }
    }
}
