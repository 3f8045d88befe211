using Holdfast.Client;
using Holdfast.Protocol;

namespace Holdfast.Tools.Clients;

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
/// its acknowledgements back to play a slow or stuck consumer. Acknowledgements always go out in the order the messages
/// arrived, as MQTT requires, whichever mode sends them. It is a compliant QoS 2 receiver: a resent PUBLISH whose PUBREC was
/// already sent is answered again, not printed again; that packet-id state lives as long as the session.
/// </summary>
[System.Diagnostics.CodeAnalysis.SuppressMessage("Design", "CA1001:Types that own disposable fields should be disposable", Justification = "A SemaphoreSlim whose AvailableWaitHandle is never read holds no OS handle; disposing it could race a late Release.")]
internal sealed class Subscriber(SubscriberSettings settings)
{
    /// <summary>mosquitto_sub's exit code when -W expires.</summary>
    public const int TimedOut = 27;

    private readonly object _lock = new();
    // Printed QoS 1/2 messages whose acknowledgement is held back on this connection, oldest first, with when it is due
    // (--ack-delay; long.MaxValue: when Enter is pressed).
    private readonly Queue<(PublishPacket Publish, long DueTicks)> _withheld = new();
    private readonly SemaphoreSlim _withheldAdded = new(0);
    // QoS 2 packet ids this client has sent PUBREC for and not yet seen PUBREL for: session state.
    private readonly HashSet<ushort> _awaitingRelease = [];
    private readonly TaskCompletionSource<int> _finished = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private MqttClientConnection? _connection;
    private int _printed;
    private int _pendingSubAcks;

    public async Task<int> RunAsync(CancellationToken cancel)
    {
        using var timeout = new CancellationTokenSource();
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancel, timeout.Token);
        if (settings.AckMode == AckMode.Manual) _ = ReadEnterAsync(stop.Token);
        if (settings.AckMode == AckMode.Delayed) _ = AcknowledgeWhenDueAsync(stop.Token);
        bool first = true;
        while (!_finished.Task.IsCompleted)
        {
            MqttClientConnection connection;
            try
            {
                connection = await MqttClientConnection.ConnectAsync(settings.Options, stop.Token);
            }
            catch (Exception e) when (MqttClientConnection.IsConnectFailure(e))
            {
                // A refusal is final (mosquitto_sub's exit code is the CONNACK code); a broker that is away may come back.
                if (first || e is MqttConnectException) return ConnectErrors.Report(e, settings.Options.Version);
                Console.Error.WriteLine($"Connection error: {e.Message}");
                if (await DelayOrStop(TimeSpan.FromSeconds(1), stop.Token)) break;
                continue;
            }
            catch (OperationCanceledException) { break; }

            await using (connection)
            {
                if (first && settings.Timeout is { } limit) timeout.CancelAfter(limit);
                bool resumed = connection.ConnAck.SessionPresent;
                lock (_lock)
                {
                    _connection = connection;
                    // Acknowledgements withheld on the last connection are void: the broker resends those messages (DUP=1).
                    _withheld.Clear();
                    // Without the session the broker has forgotten our QoS 2 flows and may reuse their packet ids.
                    if (!resumed) _awaitingRelease.Clear();
                }
                if (!first && resumed) Console.Error.WriteLine("Reconnected; session present, subscriptions kept.");
                if (first || !resumed) Subscribe(connection);
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
            lock (_lock)
            {
                // Already PUBREC'd: the broker did not get our PUBREC before the connection dropped. Same message, answer again.
                if (_awaitingRelease.Contains(publish.PacketId)) { connection.Send(new PubRecPacket { PacketId = publish.PacketId }); return; }
            }
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

        if (publish.QoS != QualityOfService.AtMostOnce)
        {
            switch (settings.AckMode)
            {
                case AckMode.Immediate:
                    lock (_lock) Acknowledge(connection, publish);
                    break;
                case AckMode.Manual:
                    int waiting;
                    lock (_lock) { _withheld.Enqueue((publish, long.MaxValue)); waiting = _withheld.Count; }
                    Console.Error.WriteLine($"Message m{publish.PacketId} (q{(int)publish.QoS}{(publish.Dup ? ", resent" : "")}) not acknowledged: "
                        + $"press Enter to acknowledge the oldest ({waiting} waiting).");
                    break;
                case AckMode.Delayed:
                    lock (_lock) _withheld.Enqueue((publish, Environment.TickCount64 + (long)settings.AckDelay.TotalMilliseconds));
                    _withheldAdded.Release();
                    break;
            }
        }
        CheckCount();
    }

    /// <summary>Sends the acknowledgement; the caller holds the lock, so the QoS 2 state and the connection agree.</summary>
    private void Acknowledge(MqttClientConnection connection, PublishPacket publish)
    {
        if (publish.QoS == QualityOfService.AtLeastOnce)
            connection.Send(new PubAckPacket { PacketId = publish.PacketId });
        else if (connection.Send(new PubRecPacket { PacketId = publish.PacketId }))
            _awaitingRelease.Add(publish.PacketId);
    }

    /// <summary>--ack-delay: one loop acknowledges the oldest withheld message once it is due, so acknowledgements keep the
    /// order the messages came in (separate timers would fire in any order).</summary>
    private async Task AcknowledgeWhenDueAsync(CancellationToken stop)
    {
        try
        {
            while (!stop.IsCancellationRequested)
            {
                long due;
                lock (_lock) due = _withheld.TryPeek(out var head) ? head.DueTicks : -1;
                if (due < 0) { await _withheldAdded.WaitAsync(stop); continue; }
                long wait = due - Environment.TickCount64;
                if (wait > 0) { await Task.Delay(TimeSpan.FromMilliseconds(wait), stop); continue; }
                lock (_lock)
                {
                    // The head may have gone with a reconnect while we waited; only a due head is acknowledged.
                    if (_connection is { } connection && _withheld.TryPeek(out var head) && head.DueTicks <= Environment.TickCount64)
                    {
                        _withheld.Dequeue();
                        Acknowledge(connection, head.Publish);
                    }
                }
                CheckCount();
            }
        }
        catch (OperationCanceledException) { }
    }

    /// <summary>-C: done once that many messages are printed and, unless acknowledgements are withheld for good, acknowledged.</summary>
    private void CheckCount()
    {
        if (settings.Count <= 0 || _printed < settings.Count) return;
        bool withheld;
        lock (_lock) withheld = _withheld.Count > 0;
        if (settings.AckMode == AckMode.Never || !withheld) _finished.TrySetResult(0);
    }

    /// <summary>--manual-ack: each line on standard input acknowledges the oldest unacknowledged message.</summary>
    private async Task ReadEnterAsync(CancellationToken stop)
    {
        using var input = new StreamReader(Console.OpenStandardInput());
        while (!stop.IsCancellationRequested && await input.ReadLineAsync(stop) is not null)
        {
            PublishPacket? oldest = null;
            lock (_lock)
            {
                if (_connection is { } connection && _withheld.TryDequeue(out var head))
                {
                    oldest = head.Publish;
                    Acknowledge(connection, oldest);
                }
            }
            Console.Error.WriteLine(oldest is null ? "Nothing to acknowledge." : $"Acknowledged m{oldest.PacketId}.");
            CheckCount();
        }
    }
}
