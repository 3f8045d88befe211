using Holdfast.Broker;
using Holdfast.Protocol;

namespace Holdfast.Storage.Tests.Support;

/// <summary>An in-memory connection: records every packet the broker queues for sending, with the store sequence it
/// was stamped with (durableAt), as a client of <c>version</c> would read it, and every close. Thread-safe.</summary>
public sealed class RecordingConnection(string name, ProtocolVersion version = ProtocolVersion.V500) : IClientConnection
{
    private readonly Lock _gate = new();
    private readonly List<(MqttPacket Packet, long DurableAt)> _sent = [];
    private readonly List<ReasonCode?> _closes = [];

    public string RemoteAddress => name + ":1";
    public long PendingBytes => 0;

    public void Send(OutboundPacket packet, long durableAt = 0)
    {
        lock (_gate) _sent.Add((packet.ToPacket(version), durableAt));
    }

    public void Close(MqttPacket? goodbye = null)
    {
        lock (_gate) _closes.Add(goodbye is DisconnectPacket d ? d.ReasonCode : null);
    }

    public (MqttPacket Packet, long DurableAt)[] Sent { get { lock (_gate) return [.. _sent]; } }

    /// <summary>Returns what was sent since the last call and forgets it: for long runs that must not hold every packet.</summary>
    public MqttPacket[] TakeSent()
    {
        lock (_gate)
        {
            var taken = _sent.Select(s => s.Packet).ToArray();
            _sent.Clear();
            return taken;
        }
    }

    public (T Packet, long DurableAt)[] SentOf<T>() where T : MqttPacket =>
        Sent.Where(s => s.Packet is T).Select(s => ((T)s.Packet, s.DurableAt)).ToArray();

    public PublishPacket[] Publishes => SentOf<PublishPacket>().Select(s => s.Packet).ToArray();

    public bool IsClosed { get { lock (_gate) return _closes.Count > 0; } }
}
