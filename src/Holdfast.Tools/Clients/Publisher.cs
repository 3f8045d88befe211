using System.Text.Json;
using Holdfast.Client;
using Holdfast.Protocol;

namespace Holdfast.Tools.Clients;

/// <summary>Sends the messages over one connection, up to a window of unacknowledged ones, and runs their QoS flows.</summary>
[System.Diagnostics.CodeAnalysis.SuppressMessage("Design", "CA1001:Types that own disposable fields should be disposable", Justification = "A SemaphoreSlim whose AvailableWaitHandle is never read holds no OS handle; disposing it could race a late Release.")]
internal sealed class Publisher(MqttClientOptions options, PublishPacket template, int maxInflight, bool json)
{
    private readonly PacketIdPool _ids = new();
    private readonly Dictionary<ushort, PublishPacket> _inflight = [];
    private readonly object _lock = new();
    private SemaphoreSlim _window = null!;
    private int _failed;

    public async Task<int> RunAsync(IAsyncEnumerable<byte[]> messages, CancellationToken cancel)
    {
        MqttClientConnection connection;
        try
        {
            connection = await MqttClientConnection.ConnectAsync(options, cancel);
        }
        catch (Exception e) when (MqttClientConnection.IsConnectFailure(e))
        {
            return ConnectErrors.Report(e, options.Version);
        }
        await using var _ = connection;
        int window = Math.Min(maxInflight, connection.ConnAck.Properties?.ReceiveMaximum ?? ushort.MaxValue);
        _window = new SemaphoreSlim(window, window);
        var receiving = ReceiveAsync(connection);

        try
        {
            await foreach (var body in messages.WithCancellation(cancel))
            {
                var publish = new PublishPacket { Topic = template.Topic, QoS = template.QoS, Retain = template.Retain, Properties = template.Properties, Payload = body };
                if (publish.QoS != QualityOfService.AtMostOnce)
                {
                    await _window.WaitAsync(connection.Closed);
                    lock (_lock)
                    {
                        _ids.TryTake(out var id);
                        publish.PacketId = id;
                        _inflight[id] = publish;
                    }
                }
                if (!connection.Send(publish)) break;
                if (publish.QoS == QualityOfService.AtMostOnce && json) Report(publish, null);
            }
            // Every QoS 1/2 message acknowledged: all window slots back.
            for (int i = 0; i < window; i++) await _window.WaitAsync(connection.Closed);
        }
        catch (OperationCanceledException) when (connection.Closed.IsCancellationRequested)
        {
            // The broker went away: reported below.
        }
        if (connection.Closed.IsCancellationRequested)
        {
            int unacknowledged;
            lock (_lock) unacknowledged = _inflight.Count;
            Console.Error.WriteLine($"Error: the connection was lost{(unacknowledged > 0 ? $" with {unacknowledged} message(s) unacknowledged" : "")}.");
            return 1;
        }
        await connection.DisconnectAsync();
        await receiving;
        return _failed > 0 ? 1 : 0;
    }

    private async Task ReceiveAsync(MqttClientConnection connection)
    {
        try
        {
            while (await connection.ReceiveAsync() is { } packet)
            {
                switch (packet)
                {
                    case PubAckPacket ack: Complete(ack.PacketId, ack.ReasonCode); break;
                    case PubRecPacket rec when rec.ReasonCode >= ReasonCode.UnspecifiedError: Complete(rec.PacketId, rec.ReasonCode); break;
                    case PubRecPacket rec: connection.Send(new PubRelPacket { PacketId = rec.PacketId }); break;
                    case PubCompPacket comp: Complete(comp.PacketId, comp.ReasonCode); break;
                    case DisconnectPacket disconnect:
                        Console.Error.WriteLine($"Error: the broker disconnected: {MqttClientConnection.Describe(disconnect.ReasonCode)}"
                            + (disconnect.Properties?.ReasonString is { } why ? $" ({why})" : ""));
                        connection.Abort();
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

    private void Complete(ushort packetId, ReasonCode reasonCode)
    {
        PublishPacket? publish;
        lock (_lock)
        {
            if (!_inflight.Remove(packetId, out publish)) return;
            _ids.Release(packetId);
        }
        if (reasonCode >= ReasonCode.UnspecifiedError)
        {
            Interlocked.Increment(ref _failed);
            Console.Error.WriteLine($"Warning: Publish {packetId} failed: {MqttClientConnection.Describe(reasonCode)}.");
        }
        if (json) Report(publish, reasonCode);
        _window.Release();
    }

    private static void Report(PublishPacket publish, ReasonCode? reasonCode)
    {
        var line = new Dictionary<string, object?>
        {
            ["topic"] = publish.Topic,
            ["qos"] = (int)publish.QoS,
            ["packet_id"] = publish.PacketId,
            ["bytes"] = publish.Payload.Length,
            ["reason_code"] = reasonCode is { } code ? (int)code : null,
            ["acknowledged"] = reasonCode is { } c ? c < ReasonCode.UnspecifiedError : null,
        };
        lock (Console.Out) Console.Out.WriteLine(JsonSerializer.Serialize(line, JsonOutput.Options));
    }
}
