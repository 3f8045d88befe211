using Holdfast.Broker;
using Holdfast.Broker.Storage;
using Holdfast.Protocol;

namespace Holdfast.Storage.RocksDb;

/// <summary>
/// The values stored under <see cref="StoreKeys"/>. Times are stored as Unix milliseconds (the broker's monotonic
/// clock restarts with the process) and converted back on load. A message (or will) is kept as its MQTT 5 PUBLISH
/// packet, so topic, payload and every property go through the protocol codec rather than a second format.
/// </summary>
internal static class StoreRecords
{
    /// <summary>Converts between the broker's monotonic milliseconds and Unix milliseconds, at one instant.</summary>
    public readonly struct Clock(BrokerClock clock)
    {
        private readonly long _unix = clock.Time.GetUtcNow().ToUnixTimeMilliseconds();
        private readonly long _monotonic = clock.Now;

        public long ToUnix(long monotonic) => _unix - (_monotonic - monotonic);
        public long ToMonotonic(long unix) => _monotonic - (_unix - unix);
    }

    private const long Connected = long.MinValue;

    public static byte[] Session(RecordWriter w, StoredSession s, Clock clock)
    {
        w.Byte((byte)s.Version).UInt32(s.ExpiryInterval).Int64(s.DisconnectedAt is { } at ? clock.ToUnix(at) : Connected);
        w.UInt32((uint)s.Subscriptions.Count);
        foreach (var sub in s.Subscriptions)
        {
            w.String(sub.TopicFilter).Byte((byte)sub.MaximumQoS).Bool(sub.NoLocal).Bool(sub.RetainAsPublished).Byte((byte)sub.RetainHandling);
            w.Bool(sub.SubscriptionIdentifier.HasValue);
            if (sub.SubscriptionIdentifier is { } id) w.UInt32(id);
            w.NullableString(sub.ShareGroup).String(sub.MatchFilter);
        }
        w.NullableString(s.ListenerName).NullableString(s.UserName);
        w.Int64(s.Epoch).String(s.Owner);
        return w.ToArray();
    }

    public static StoredSession ReadSession(string clientId, ReadOnlySpan<byte> value, Clock clock)
    {
        var r = new RecordReader(value);
        var version = (ProtocolVersion)r.Byte();
        if (!Enum.IsDefined(version)) throw new FormatException($"unknown protocol version {(byte)version}");
        uint expiry = r.UInt32();
        long disconnected = r.Int64();
        uint count = r.UInt32();
        var subs = new List<Subscription>((int)Math.Min(count, 65536));
        for (uint i = 0; i < count; i++)
        {
            string filter = r.String();
            var qos = Checked((QualityOfService)r.Byte());
            bool noLocal = r.Bool(), rap = r.Bool();
            var handling = Checked((RetainHandling)r.Byte());
            uint? id = r.Bool() ? r.UInt32() : null;
            subs.Add(new Subscription(filter, qos, noLocal, rap, handling, id) { ShareGroup = r.NullableString(), MatchFilter = r.String() });
        }
        string? listener = r.NullableString(), user = r.NullableString();
        long epoch = r.Int64();
        string owner = r.String();
        r.End();
        return new StoredSession(clientId, version, expiry, subs, disconnected == Connected ? null : clock.ToMonotonic(disconnected), listener, user,
            epoch, owner);
    }

    public static byte[] Body(RecordWriter w, Message m, Clock clock)
    {
        w.Int64(clock.ToUnix(m.ReceivedAt)).NullableString(m.PublisherClientId);
        w.Raw(AsPublish(m.Topic, m.Payload, m.QoS, m.Retain, m.Properties));
        return w.ToArray();
    }

    public static Message ReadBody(long id, byte[] value, Clock clock)
    {
        var r = new RecordReader(value);
        long received = r.Int64();
        string? publisher = r.NullableString();
        var p = FromPublish(r.Rest());
        // Received-at in this process's clock: the Message Expiry Interval keeps counting from the original receipt.
        return new Message(id, p.Topic, p.Payload, p.QoS, p.Retain, p.Properties, publisher, clock.ToMonotonic(received));
    }

    public static byte[] Delivery(RecordWriter w, StoredDelivery d)
    {
        var (qos, retain, subscriptionIds) = (d.QoS, d.Retain, d.SubscriptionIds);
        w.Int64(d.Message.Id).Byte((byte)qos).Bool(retain).UInt32((uint)(subscriptionIds?.Count ?? 0));
        if (subscriptionIds is not null) foreach (uint id in subscriptionIds) w.UInt32(id);
        return w.ToArray();
    }

    /// <summary>A queued delivery: whether it carries its own body, the message's size (so a queue's bytes are known
    /// without reading the bodies), the body when it carries one, then the delivery.</summary>
    public static byte[] Queued(RecordWriter w, StoredDelivery d, bool ownsBody, Clock clock)
    {
        byte[]? body = ownsBody ? Body(w, d.Message, clock) : null;
        w.Bool(ownsBody).UInt32((uint)d.Message.Size);
        if (body is not null) w.Bytes(body);
        return Delivery(w, d);
    }

    /// <summary>The size and the body (when the record carries one) of a queued delivery; <paramref name="r"/> is left at
    /// the delivery (<see cref="ReadDelivery"/>).</summary>
    public static (bool OwnsBody, int Size, byte[]? Body) ReadQueuedHeader(ref RecordReader r)
    {
        bool ownsBody = r.Bool();
        int size = checked((int)r.UInt32());
        byte[]? body = ownsBody ? r.Bytes().ToArray() : null;
        return (ownsBody, size, body);
    }

    public static byte[] Inflight(RecordWriter w, StoredInflight f)
    {
        w.Int64(f.Order).Byte((byte)f.State);
        return Delivery(w, f.Delivery);
    }

    public static (long MessageId, QualityOfService QoS, bool Retain, List<uint>? SubscriptionIds) ReadDelivery(ref RecordReader r)
    {
        long body = r.Int64();
        var qos = Checked((QualityOfService)r.Byte());
        bool retain = r.Bool();
        uint count = r.UInt32();
        List<uint>? ids = null;
        if (count > 0)
        {
            ids = new List<uint>((int)Math.Min(count, 1024));
            for (uint i = 0; i < count; i++) ids.Add(r.UInt32());
        }
        r.End();
        return (body, qos, retain, ids);
    }

    /// <summary>A stored enum value this version knows, or the record is corrupt.</summary>
    public static T Checked<T>(T value) where T : struct, Enum =>
        Enum.IsDefined(value) ? value : throw new FormatException($"invalid {typeof(T).Name} {value}");

    public static byte[] Will(RecordWriter w, PendingWill will, Clock clock)
    {
        var properties = will.Will.Properties?.Clone();
        // The delay became PublishAt; Will Delay Interval is not a PUBLISH property.
        if (properties is not null) properties.WillDelayInterval = null;
        w.Int64(clock.ToUnix(will.PublishAt)).Raw(AsPublish(will.Will.Topic, will.Will.Payload, will.Will.QoS, will.Will.Retain, properties));
        return w.ToArray();
    }

    public static PendingWill ReadWill(ReadOnlySpan<byte> value, Clock clock)
    {
        var r = new RecordReader(value);
        long publishAt = r.Int64();
        var p = FromPublish(r.Rest());
        var will = new WillMessage { Topic = p.Topic, Payload = p.Payload.ToArray(), QoS = p.QoS, Retain = p.Retain, Properties = p.Properties };
        return new PendingWill(will, clock.ToMonotonic(publishAt));
    }

    private static byte[] AsPublish(string topic, ReadOnlyMemory<byte> payload, QualityOfService qos, bool retain, MqttProperties? properties) =>
        PacketWriter.ToArray(new PublishPacket
        {
            Topic = topic,
            Payload = payload,
            QoS = qos,
            Retain = retain,
            // A packet id is required on the wire for QoS 1/2; it means nothing here.
            PacketId = qos == QualityOfService.AtMostOnce ? (ushort)0 : (ushort)1,
            Properties = properties,
        }, ProtocolVersion.V500);

    private static PublishPacket FromPublish(ReadOnlySpan<byte> bytes)
    {
        try
        {
            return PacketReader.Read(bytes, ProtocolVersion.V500) as PublishPacket ?? throw new FormatException("not a PUBLISH packet");
        }
        catch (MqttProtocolException e)
        {
            throw new FormatException(e.Message, e);
        }
    }
}
