using Holdfast.Client;
using Holdfast.Protocol;

namespace Holdfast.Cli.Clients;

/// <summary>What holdfast sub does with its flags.</summary>
internal sealed record SubscriberSettings
{
    public required MqttClientOptions Options { get; init; }
    public required List<TopicSubscription> Filters { get; init; }
    public MqttProperties? SubscribeProperties { get; init; }
    public List<string> Unsubscribe { get; init; } = [];
    public List<string> FilterOut { get; init; } = [];
    public int Count { get; init; }
    public TimeSpan? Timeout { get; init; }
    public bool SkipRetained { get; init; }
    public bool RetainedOnly { get; init; }
    public bool ExitAfterSubscribe { get; init; }
    public bool RemoveRetained { get; init; }
    public AckMode AckMode { get; init; }
    public TimeSpan AckDelay { get; init; }
    public required MessagePrinter Printer { get; init; }
}

/// <summary>
/// A subscriber that, like mosquitto_sub, stays connected (and reconnects) until its count or timeout, and that can hold
/// its acknowledgements back to play a slow or stuck consumer. It is a compliant QoS 2 receiver: a message is printed once
/// per PUBREC it sends, and a resent PUBLISH whose PUBREC was already sent is answered again, not printed again.
/// </summary>
internal sealed class Subscriber(SubscriberSettings settings)
{
    /// <summary>mosquitto_sub's exit code when -W expires.</summary>
    public const int TimedOut = 27;

    private readonly object _lock = new();
    private readonly Queue<PublishPacket> _unacknowledged = new();
    // QoS 2 packet ids this client has sent PUBREC for and not yet seen PUBREL: session state, kept across reconnects.
    private readonly HashSet<ushort> _awaitingRelease = [];
    private readonly TaskCompletionSource<int> _finished = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private MqttClientConnection? _connection;
    private int _printed;
    private int _pendingSubAcks;
    // QoS 1/2 messages printed whose acknowledgement is held back (manual or delayed) on this connection.
    private int _deferred;

    public async Task<int> RunAsync(CancellationToken cancel)
    {
        using var timeout = new CancellationTokenSource();
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancel, timeout.Token);
        if (settings.AckMode == AckMode.Manual) _ = ReadEnterAsync(stop.Token);
        bool first = true;
        while (!_finished.Task.IsCompleted)
        {
            MqttClientConnection connection;
            try
            {
                connection = await MqttClientConnection.ConnectAsync(settings.Options, stop.Token);
            }
            catch (Exception e) when (e is MqttConnectException or IOException or System.Net.Sockets.SocketException or TimeoutException
                or System.Security.Authentication.AuthenticationException)
            {
                Console.Error.WriteLine($"Connection error: {e.Message}");
                if (first) return 1;
                if (await DelayOrStop(TimeSpan.FromSeconds(1), stop.Token)) break;
                continue;
            }
            catch (OperationCanceledException) { break; }

            await using (connection)
            {
                if (first && settings.Timeout is { } limit) timeout.CancelAfter(limit);
                // Acknowledgements withheld on the last connection are void: the broker resends those messages (DUP=1).
                lock (_lock) { _connection = connection; _unacknowledged.Clear(); _deferred = 0; }
                if (!first && connection.ConnAck.SessionPresent)
                    Console.Error.WriteLine("Reconnected; session present, subscriptions kept.");
                if (first || !connection.ConnAck.SessionPresent) Subscribe(connection);
                first = false;

                using var registration = stop.Token.Register(() => _finished.TrySetResult(timeout.IsCancellationRequested ? TimedOut : 0));
                var receiving = ReceiveAsync(connection);
                await Task.WhenAny(receiving, _finished.Task);
                if (_finished.Task.IsCompleted)
                {
                    await connection.DisconnectAsync();
                    break;
                }
                lock (_lock) _connection = null;
                Console.Error.WriteLine("Connection lost; reconnecting.");
            }
            if (await DelayOrStop(TimeSpan.FromSeconds(1), stop.Token)) break;
        }
        return _finished.Task.IsCompleted ? await _finished.Task : timeout.IsCancellationRequested ? TimedOut : 0;
    }

    private static async Task<bool> DelayOrStop(TimeSpan delay, CancellationToken stop)
    {
        try { await Task.Delay(delay, stop); return false; }
        catch (OperationCanceledException) { return true; }
    }

    private void Subscribe(MqttClientConnection connection)
    {
        _pendingSubAcks = 1;
        connection.Send(new SubscribePacket { PacketId = 1, Subscriptions = settings.Filters, Properties = settings.SubscribeProperties });
        if (settings.Unsubscribe.Count > 0)
        {
            _pendingSubAcks++;
            connection.Send(new UnsubscribePacket { PacketId = 2, TopicFilters = settings.Unsubscribe });
        }
    }

    private async Task ReceiveAsync(MqttClientConnection connection)
    {
        try
        {
            while (await connection.ReceiveAsync() is { } packet)
            {
                switch (packet)
                {
                    case PublishPacket publish: OnPublish(connection, publish); break;
                    case PubRelPacket release:
                        lock (_lock) _awaitingRelease.Remove(release.PacketId);
                        connection.Send(new PubCompPacket { PacketId = release.PacketId });
                        break;
                    case SubAckPacket subAck: OnSubAck(subAck); break;
                    case UnsubAckPacket: SubscriptionAnswered(); break;
                    case DisconnectPacket disconnect:
                        Console.Error.WriteLine($"The broker disconnected: {MqttClientConnection.Describe(disconnect.ReasonCode)}"
                            + (disconnect.Properties?.ReasonString is { } why ? $" ({why})" : ""));
                        return;
                }
            }
        }
        catch (MqttProtocolException e)
        {
            Console.Error.WriteLine($"Error: malformed packet from the broker: {e.Message}");
            connection.Abort();
        }
    }

    private void OnSubAck(SubAckPacket subAck)
    {
        for (int i = 0; i < subAck.ReasonCodes.Count && i < settings.Filters.Count; i++)
            if (subAck.ReasonCodes[i] >= ReasonCode.UnspecifiedError)
                Console.Error.WriteLine($"Subscription to {settings.Filters[i].TopicFilter} refused: {MqttClientConnection.Describe(subAck.ReasonCodes[i])}.");
        if (subAck.ReasonCodes.Count > 0 && subAck.ReasonCodes.All(c => c >= ReasonCode.UnspecifiedError))
        {
            Console.Error.WriteLine("All subscription requests were denied.");
            _finished.TrySetResult(1);
            return;
        }
        SubscriptionAnswered();
    }

    private void SubscriptionAnswered()
    {
        if (--_pendingSubAcks == 0 && settings.ExitAfterSubscribe) _finished.TrySetResult(0);
    }

    private void OnPublish(MqttClientConnection connection, PublishPacket publish)
    {
        if (publish.QoS == QualityOfService.ExactlyOnce)
        {
            bool seen;
            lock (_lock) seen = _awaitingRelease.Contains(publish.PacketId);
            // Already PUBREC'd: the broker did not get our PUBREC before the connection dropped. Same message, answer again.
            if (seen) { connection.Send(new PubRecPacket { PacketId = publish.PacketId }); return; }
        }
        if (settings.RetainedOnly && !publish.Retain) { _finished.TrySetResult(0); return; }

        bool show = !(settings.SkipRetained && publish.Retain) && !settings.FilterOut.Any(f => TopicRules.Matches(f, publish.Topic));
        if (show)
        {
            settings.Printer.Print(publish);
            _printed++;
        }
        if (settings.RemoveRetained && publish.Retain && publish.Payload.Length > 0)
            connection.Send(new PublishPacket { Topic = publish.Topic, Retain = true });

        if (publish.QoS == QualityOfService.AtMostOnce) { CheckCount(); return; }
        switch (settings.AckMode)
        {
            case AckMode.Immediate: Acknowledge(connection, publish); break;
            case AckMode.Never: break;
            case AckMode.Manual:
                int waiting;
                lock (_lock) { _unacknowledged.Enqueue(publish); waiting = _unacknowledged.Count; _deferred++; }
                Console.Error.WriteLine($"Message m{publish.PacketId} (q{(int)publish.QoS}{(publish.Dup ? ", resent" : "")}) not acknowledged: press Enter to acknowledge the oldest ({waiting} waiting).");
                break;
            case AckMode.Delayed:
                lock (_lock) _deferred++;
                _ = AcknowledgeLaterAsync(connection, publish);
                break;
        }
        CheckCount();
    }

    private async Task AcknowledgeLaterAsync(MqttClientConnection connection, PublishPacket publish)
    {
        await Task.Delay(settings.AckDelay);
        lock (_lock)
        {
            if (_connection != connection) return;
            _deferred--;
        }
        Acknowledge(connection, publish);
        CheckCount();
    }

    private void Acknowledge(MqttClientConnection connection, PublishPacket publish)
    {
        if (publish.QoS == QualityOfService.AtLeastOnce)
            connection.Send(new PubAckPacket { PacketId = publish.PacketId });
        else
        {
            lock (_lock) _awaitingRelease.Add(publish.PacketId);
            connection.Send(new PubRecPacket { PacketId = publish.PacketId });
        }
    }

    /// <summary>-C: done once that many messages are printed and, unless acknowledgements are withheld for good, acknowledged.</summary>
    private void CheckCount()
    {
        if (settings.Count <= 0 || _printed < settings.Count) return;
        bool acksOutstanding;
        lock (_lock) acksOutstanding = _deferred > 0;
        if (settings.AckMode == AckMode.Never || !acksOutstanding) _finished.TrySetResult(0);
    }

    /// <summary>--manual-ack: each line on standard input acknowledges the oldest unacknowledged message.</summary>
    private async Task ReadEnterAsync(CancellationToken stop)
    {
        using var input = new StreamReader(Console.OpenStandardInput());
        while (!stop.IsCancellationRequested && await input.ReadLineAsync(stop) is not null)
        {
            PublishPacket? oldest;
            MqttClientConnection? connection;
            lock (_lock)
            {
                connection = _connection;
                if (_unacknowledged.TryDequeue(out oldest)) _deferred--;
            }
            if (oldest is null || connection is null) { Console.Error.WriteLine("Nothing to acknowledge."); continue; }
            Acknowledge(connection, oldest);
            Console.Error.WriteLine($"Acknowledged m{oldest.PacketId}.");
            CheckCount();
        }
    }
}
