using Holdfast.Broker;
using Holdfast.Protocol;

namespace Holdfast.Benchmarks;

/// <summary>A connection that drops what it is sent, remembering only the packet id of the last PUBLISH (to acknowledge
/// it): encoding and socket writes are not part of the broker benchmarks.</summary>
internal sealed class DroppingConnection : IClientConnection
{
    public ushort LastPacketId { get; private set; }
    public string RemoteAddress => "127.0.0.1:1";
    public long PendingBytes => 0;

    public void Send(OutboundPacket packet, long durableAt = 0)
    {
        if (packet.IsPublish) LastPacketId = packet.PacketId;
    }

    public void Close(MqttPacket? goodbye = null) =>
        throw new InvalidOperationException($"the broker closed a benchmark connection: {goodbye}");
}
