using Holdfast.Protocol;

namespace Holdfast.Broker;

/// <summary>Why the broker did not deliver a message. Every drop is counted by cause and logged.</summary>
public enum DropCause
{
    QueueFull,
    Expired,
    PacketTooLarge,
    NotAuthorized,
    SessionExpired,
    Qos0NotQueued,
    ClientTooSlow,
}

/// <summary>Counters the broker keeps; read by $SYS and /metrics. Updated with Interlocked.</summary>
public sealed class BrokerMetrics
{
    private readonly long[] _dropped = new long[Enum.GetValues<DropCause>().Length];
    // PUBLISH messages and their payload bytes by QoS (0, 1, 2). The broker's own $SYS messages are not counted.
    private readonly long[] _publishReceived = new long[3], _publishSent = new long[3];
    private long _publishBytesReceived, _publishBytesSent, _ackTimeouts, _publishesRejected;
    // Counted by the server's connections: every MQTT packet and byte on the wire, sockets accepted.
    private long _packetsReceived, _packetsSent, _bytesReceived, _bytesSent, _socketsOpened;
    private long _clientsConnected, _sessionsExpired;

    /// <summary>PUBLISH messages accepted from clients, all QoS.</summary>
    public long MessagesReceived => Sum(_publishReceived);
    /// <summary>PUBLISH messages sent to clients (resends included), all QoS.</summary>
    public long MessagesSent => Sum(_publishSent);
    public long PublishReceived(QualityOfService qos) => Interlocked.Read(ref _publishReceived[(int)qos]);
    public long PublishSent(QualityOfService qos) => Interlocked.Read(ref _publishSent[(int)qos]);
    public long PublishBytesReceived => Interlocked.Read(ref _publishBytesReceived);
    public long PublishBytesSent => Interlocked.Read(ref _publishBytesSent);
    public long AckTimeouts => Interlocked.Read(ref _ackTimeouts);
    /// <summary>MQTT 5 publishes refused with 0x97 because a subscriber's queue was full (never acknowledged, so not lost).</summary>
    public long PublishesRejected => Interlocked.Read(ref _publishesRejected);
    public long Dropped(DropCause cause) => Interlocked.Read(ref _dropped[(int)cause]);
    public long DroppedTotal => Sum(_dropped);
    /// <summary>MQTT packets of every type read from and written to clients (Mosquitto's messages/received and /sent).</summary>
    public long PacketsReceived => Interlocked.Read(ref _packetsReceived);
    public long PacketsSent => Interlocked.Read(ref _packetsSent);
    public long BytesReceived => Interlocked.Read(ref _bytesReceived);
    public long BytesSent => Interlocked.Read(ref _bytesSent);
    /// <summary>Network connections accepted, whether or not they became MQTT clients.</summary>
    public long SocketsOpened => Interlocked.Read(ref _socketsOpened);
    /// <summary>CONNECTs accepted.</summary>
    public long ClientsConnected => Interlocked.Read(ref _clientsConnected);
    /// <summary>Sessions removed because they stayed offline past their expiry.</summary>
    public long SessionsExpired => Interlocked.Read(ref _sessionsExpired);

    internal void MessageReceived(QualityOfService qos, int payloadBytes)
    {
        Interlocked.Increment(ref _publishReceived[(int)qos]);
        Interlocked.Add(ref _publishBytesReceived, payloadBytes);
    }

    internal void MessageSent(Message message, QualityOfService qos)
    {
        if (message.FromBroker) return;
        Interlocked.Increment(ref _publishSent[(int)qos]);
        Interlocked.Add(ref _publishBytesSent, message.Payload.Length);
    }

    internal void AckTimeout() => Interlocked.Increment(ref _ackTimeouts);
    internal void PublishRejected() => Interlocked.Increment(ref _publishesRejected);
    internal void Drop(DropCause cause, long count = 1) => Interlocked.Add(ref _dropped[(int)cause], count);
    internal void ClientConnected() => Interlocked.Increment(ref _clientsConnected);
    internal void SessionExpired() => Interlocked.Increment(ref _sessionsExpired);

    /// <summary>A connection read <paramref name="packets"/> packets in <paramref name="bytes"/> bytes (one call per read, not per packet).</summary>
    public void Received(int packets, long bytes)
    {
        if (packets > 0) Interlocked.Add(ref _packetsReceived, packets);
        if (bytes > 0) Interlocked.Add(ref _bytesReceived, bytes);
    }

    /// <summary>A connection wrote <paramref name="packets"/> packets in <paramref name="bytes"/> bytes (one call per flush).</summary>
    public void Sent(int packets, long bytes)
    {
        if (packets > 0) Interlocked.Add(ref _packetsSent, packets);
        if (bytes > 0) Interlocked.Add(ref _bytesSent, bytes);
    }

    public void SocketOpened() => Interlocked.Increment(ref _socketsOpened);

    private static long Sum(long[] counters)
    {
        long sum = 0;
        for (int i = 0; i < counters.Length; i++) sum += Interlocked.Read(ref counters[i]);
        return sum;
    }
}
