using System.IO.Pipelines;
using Holdfast.Broker;
using Holdfast.Broker.Storage;
using Holdfast.Protocol;
using Microsoft.AspNetCore.Connections;

namespace Holdfast.Server.Connections;

/// <summary>
/// The writing half of a connection: what the broker queues is encoded straight into the transport and flushed once the
/// queue is drained (one write for a burst, not one per packet). A packet that must wait for the durable store (an
/// acknowledgement, an outbound QoS 1/2 flow) holds itself and everything behind it until its batch is on disk: order is
/// kept, and many packets share the wait for one group commit. When the connection closes, what is queued goes out, then
/// the goodbye packet the broker gave, if any.
/// </summary>
internal sealed class OutputProducer(PipeWriter output, MqttBroker broker, IBrokerLog log, Func<string> clientName)
{
    private readonly OutboundQueue _outbound = new();
    private long _pendingBytes;
    private int _closing;
    private MqttPacket? _goodbye;

    /// <summary>The protocol version packets are encoded for: set once the CONNECT is read.</summary>
    public ProtocolVersion Version { get; set; } = ProtocolVersion.V311;

    /// <summary>Bytes of PUBLISH payload and topic queued but not yet written: how far behind the client is.</summary>
    public long PendingBytes => Interlocked.Read(ref _pendingBytes);

    public bool IsClosing => Volatile.Read(ref _closing) == 1;

    /// <summary>The broker's goodbye was written: the socket should stay open a moment so that the peer reads it.</summary>
    public bool WroteGoodbye { get; private set; }

    /// <summary>The store could not keep what a queued packet vouched for (see <see cref="RunAsync"/>).</summary>
    public Action? StoreWriteFailed { get; set; }

    public void Send(OutboundPacket packet, long durableAt)
    {
        // Counted before it is queued, so the write loop never subtracts it first; taken back if the connection is closing.
        long weight = PendingWeight(packet);
        if (weight > 0) Interlocked.Add(ref _pendingBytes, weight);
        if (!_outbound.TryAdd(new Outbound(packet, durableAt)) && weight > 0) Interlocked.Add(ref _pendingBytes, -weight);
    }

    /// <summary>Ends the queue: what is in it still goes out, then <paramref name="goodbye"/>. Returns false if already closing.</summary>
    public bool Close(MqttPacket? goodbye)
    {
        if (Interlocked.Exchange(ref _closing, 1) == 1) return false;
        _goodbye = goodbye;
        _outbound.Complete();
        return true;
    }

    /// <summary>What a queued packet counts in <see cref="PendingBytes"/>: a PUBLISH's payload and topic.</summary>
    private static int PendingWeight(in OutboundPacket packet) =>
        packet.Message is { } m ? m.Payload.Length + m.Topic.Length
        : packet.Packet is PublishPacket p ? p.Payload.Length + p.Topic.Length
        : 0;

    public async Task RunAsync()
    {
        int packets = 0;
        long bytes = 0;
        try
        {
            try
            {
                while (await _outbound.WaitToReadAsync())
                {
                    while (_outbound.TryTakeAll(out var batch))
                    {
                        for (int i = 0; i < batch.Count; i++)
                        {
                            var item = batch.Items[i];
                            if (item.DurableAt > 0 && !broker.IsDurable(item.DurableAt))
                            {
                                // Let the client have what is already written while the store catches up.
                                if ((await output.FlushAsync()).IsCompleted) return;
                                // Checked again after each wake-up: the packet leaves only once its own sequence is durable.
                                do await broker.WhenDurable(item.DurableAt);
                                while (!broker.IsDurable(item.DurableAt));
                            }
                            var packet = item.Packet;
                            if (log.IsEnabled(LogType.Debug)) log.Write(LogType.Debug, PacketTrace.Sending(packet.ToPacket(Version), clientName()));
                            bytes += PacketWriter.Write(packet, Version, output);
                            packets++;
                            if (PendingWeight(packet) is > 0 and var weight) Interlocked.Add(ref _pendingBytes, -weight);
                        }
                        _outbound.Recycle(batch);
                    }
                    // Counted once per batch, not per packet: the counters are shared by every connection.
                    broker.Metrics.Sent(packets, bytes);
                    packets = 0;
                    bytes = 0;
                    if ((await output.FlushAsync()).IsCompleted) return;
                }
            }
            catch (StoreWriteException e)
            {
                // The store could not keep what this packet vouches for: it and everything behind it are discarded, never
                // sent (an acknowledgement would be a lie). The broker closes the connection; on its next connection the
                // client resends what it still holds, while the store retries the write.
                if (log.IsEnabled(LogType.Warning)) log.Warning($"Client {clientName()}: disconnecting, {e.Message}.");
                StoreWriteFailed?.Invoke();
                while (await _outbound.WaitToReadAsync()) while (_outbound.TryTakeAll(out var discarded)) _outbound.Recycle(discarded);
            }
            if (_goodbye is { } goodbye)
            {
                if (log.IsEnabled(LogType.Debug)) log.Write(LogType.Debug, PacketTrace.Sending(goodbye, clientName()));
                broker.Metrics.Sent(1, PacketWriter.Write(goodbye, Version, output));
                var flushed = await output.FlushAsync();
                WroteGoodbye = !flushed.IsCompleted && !flushed.IsCanceled;
            }
        }
        catch (Exception e) when (e is IOException or ConnectionResetException or ObjectDisposedException or InvalidOperationException)
        {
            // The peer went away; the read side reports it.
        }
        finally
        {
            // After a goodbye the socket stays open for the linger; the connection closes it.
            if (!WroteGoodbye) await output.CompleteAsync();
        }
    }
}
