namespace Holdfast.Protocol;

/// <summary>
/// What one connection's reader keeps between packets so that a steady stream of PUBLISHes and acknowledgements
/// allocates neither packet objects nor topic strings per message (a PUBLISH's payload is still copied once: it becomes
/// the message's shared buffer). A PUBLISH, PUBACK, PUBREC, PUBREL or PUBCOMP is parsed into the packet of its type
/// last handed back with <see cref="Return"/>, or a new one; hand a packet back only when nothing keeps it any more.
/// </summary>
public sealed class PacketReaderCache
{
    private PublishPacket? _sparePublish;
    // Indexed by type - PUBACK (4 .. 7); made on the first one handed back.
    private PublishResponsePacket?[]? _spareAcks;
    private TopicNameCache? _topics;

    /// <summary>Made on the first PUBLISH: a connection that never publishes carries none.</summary>
    public TopicNameCache Topics => _topics ??= new TopicNameCache();

    /// <summary>The caller is done with <paramref name="packet"/> (the broker did not keep it): the next packet of its
    /// type is read into it. Other packet types are not reused, and ignored.</summary>
    public void Return(MqttPacket packet)
    {
        if (packet is PublishPacket publish) _sparePublish = publish;
        else if (packet is PublishResponsePacket ack) (_spareAcks ??= new PublishResponsePacket?[4])[ack.Type - PacketType.PubAck] = ack;
    }

    internal PublishPacket TakePublish()
    {
        var packet = _sparePublish ?? new PublishPacket();
        _sparePublish = null;
        return packet;
    }

    internal PublishResponsePacket TakeAck(PacketType type)
    {
        var packet = _spareAcks?[type - PacketType.PubAck] ?? PublishResponsePacket.Create(type);
        if (_spareAcks is not null) _spareAcks[type - PacketType.PubAck] = null;
        return packet;
    }
}
