namespace Holdfast.Protocol;

internal static class PropertyWriter
{
    /// <summary>Length of the property contents (without the length prefix).</summary>
    public static int ContentSize(MqttProperties? p) => ContentSize(p, p?.MessageExpiryInterval, p?.SubscriptionIdentifiers);

    /// <summary>As <see cref="ContentSize(MqttProperties?)"/>, with <paramref name="messageExpiry"/> and
    /// <paramref name="subscriptionIds"/> in place of those of <paramref name="p"/>: a PUBLISH to one subscriber carries the
    /// shared message's properties with its own remaining expiry and matching subscription identifiers, and
    /// writing them this way needs no per-subscriber copy of the properties.</summary>
    public static int ContentSize(MqttProperties? p, uint? messageExpiry, List<uint>? subscriptionIds)
    {
        int size = 0;
        if (messageExpiry.HasValue) size += 5;
        if (subscriptionIds is not null)
            foreach (var id in subscriptionIds) size += 1 + WireSize.VariableByteInteger(id);
        if (p is null) return size;
        if (p.PayloadFormatIndicator.HasValue) size += 2;
        if (p.ContentType is not null) size += 1 + WireSize.String(p.ContentType);
        if (p.ResponseTopic is not null) size += 1 + WireSize.String(p.ResponseTopic);
        if (p.CorrelationData is not null) size += 1 + WireSize.Binary(p.CorrelationData);
        if (p.SessionExpiryInterval.HasValue) size += 5;
        if (p.AssignedClientIdentifier is not null) size += 1 + WireSize.String(p.AssignedClientIdentifier);
        if (p.ServerKeepAlive.HasValue) size += 3;
        if (p.AuthenticationMethod is not null) size += 1 + WireSize.String(p.AuthenticationMethod);
        if (p.AuthenticationData is not null) size += 1 + WireSize.Binary(p.AuthenticationData);
        if (p.RequestProblemInformation.HasValue) size += 2;
        if (p.WillDelayInterval.HasValue) size += 5;
        if (p.RequestResponseInformation.HasValue) size += 2;
        if (p.ResponseInformation is not null) size += 1 + WireSize.String(p.ResponseInformation);
        if (p.ServerReference is not null) size += 1 + WireSize.String(p.ServerReference);
        if (p.ReasonString is not null) size += 1 + WireSize.String(p.ReasonString);
        if (p.ReceiveMaximum.HasValue) size += 3;
        if (p.TopicAliasMaximum.HasValue) size += 3;
        if (p.TopicAlias.HasValue) size += 3;
        if (p.MaximumQoS.HasValue) size += 2;
        if (p.RetainAvailable.HasValue) size += 2;
        if (p.UserProperties is not null)
            foreach (var (k, v) in p.UserProperties) size += 1 + WireSize.String(k) + WireSize.String(v);
        if (p.MaximumPacketSize.HasValue) size += 5;
        if (p.WildcardSubscriptionAvailable.HasValue) size += 2;
        if (p.SubscriptionIdentifiersAvailable.HasValue) size += 2;
        if (p.SharedSubscriptionAvailable.HasValue) size += 2;
        return size;
    }

    /// <summary>Length prefix plus contents.</summary>
    public static int BlockSize(MqttProperties? p) => BlockSize(p, p?.MessageExpiryInterval, p?.SubscriptionIdentifiers);

    /// <summary>Length prefix plus contents, with the overrides of <see cref="ContentSize(MqttProperties?, uint?, List{uint}?)"/>.</summary>
    public static int BlockSize(MqttProperties? p, uint? messageExpiry, List<uint>? subscriptionIds)
    {
        int content = ContentSize(p, messageExpiry, subscriptionIds);
        return WireSize.VariableByteInteger((uint)content) + content;
    }

    public static void Write(ref MqttSpanWriter w, MqttProperties? p) => Write(ref w, p, p?.MessageExpiryInterval, p?.SubscriptionIdentifiers);

    /// <summary>Writes <paramref name="p"/> with the overrides of <see cref="ContentSize(MqttProperties?, uint?, List{uint}?)"/>,
    /// in the same order as without them.</summary>
    public static void Write(ref MqttSpanWriter w, MqttProperties? p, uint? messageExpiry, List<uint>? subscriptionIds)
    {
        w.WriteVariableByteInteger((uint)ContentSize(p, messageExpiry, subscriptionIds));
        if (p?.PayloadFormatIndicator is { } pfi) { w.WriteByte((byte)PropertyId.PayloadFormatIndicator); w.WriteByte(pfi); }
        if (messageExpiry is { } mei) { w.WriteByte((byte)PropertyId.MessageExpiryInterval); w.WriteUInt32(mei); }
        if (p?.ContentType is { } ct) { w.WriteByte((byte)PropertyId.ContentType); w.WriteString(ct); }
        if (p?.ResponseTopic is { } rt) { w.WriteByte((byte)PropertyId.ResponseTopic); w.WriteString(rt); }
        if (p?.CorrelationData is { } cd) { w.WriteByte((byte)PropertyId.CorrelationData); w.WriteBinary(cd); }
        if (subscriptionIds is { } ids)
            foreach (var id in ids) { w.WriteByte((byte)PropertyId.SubscriptionIdentifier); w.WriteVariableByteInteger(id); }
        if (p is null) return;
        // The spec leaves the order open; this is Mosquitto's for a CONNACK (Topic Alias Maximum, Server Keep Alive,
        // Assigned Client Identifier, ..., Receive Maximum, Maximum QoS), so byte-for-byte tests written against it pass.
        if (p.SessionExpiryInterval is { } sei) { w.WriteByte((byte)PropertyId.SessionExpiryInterval); w.WriteUInt32(sei); }
        if (p.TopicAliasMaximum is { } tam) { w.WriteByte((byte)PropertyId.TopicAliasMaximum); w.WriteUInt16(tam); }
        if (p.ServerKeepAlive is { } ska) { w.WriteByte((byte)PropertyId.ServerKeepAlive); w.WriteUInt16(ska); }
        if (p.AssignedClientIdentifier is { } aci) { w.WriteByte((byte)PropertyId.AssignedClientIdentifier); w.WriteString(aci); }
        if (p.AuthenticationMethod is { } am) { w.WriteByte((byte)PropertyId.AuthenticationMethod); w.WriteString(am); }
        if (p.AuthenticationData is { } ad) { w.WriteByte((byte)PropertyId.AuthenticationData); w.WriteBinary(ad); }
        if (p.RequestProblemInformation is { } rpi) { w.WriteByte((byte)PropertyId.RequestProblemInformation); w.WriteByte(rpi); }
        if (p.WillDelayInterval is { } wdi) { w.WriteByte((byte)PropertyId.WillDelayInterval); w.WriteUInt32(wdi); }
        if (p.RequestResponseInformation is { } rri) { w.WriteByte((byte)PropertyId.RequestResponseInformation); w.WriteByte(rri); }
        if (p.ResponseInformation is { } ri) { w.WriteByte((byte)PropertyId.ResponseInformation); w.WriteString(ri); }
        if (p.ServerReference is { } sr) { w.WriteByte((byte)PropertyId.ServerReference); w.WriteString(sr); }
        if (p.ReasonString is { } rs) { w.WriteByte((byte)PropertyId.ReasonString); w.WriteString(rs); }
        if (p.RetainAvailable is { } ra) { w.WriteByte((byte)PropertyId.RetainAvailable); w.WriteByte(ra); }
        if (p.MaximumPacketSize is { } mps) { w.WriteByte((byte)PropertyId.MaximumPacketSize); w.WriteUInt32(mps); }
        if (p.ReceiveMaximum is { } rm) { w.WriteByte((byte)PropertyId.ReceiveMaximum); w.WriteUInt16(rm); }
        if (p.MaximumQoS is { } mq) { w.WriteByte((byte)PropertyId.MaximumQoS); w.WriteByte(mq); }
        if (p.TopicAlias is { } ta) { w.WriteByte((byte)PropertyId.TopicAlias); w.WriteUInt16(ta); }
        if (p.UserProperties is { } ups)
            foreach (var (k, v) in ups) { w.WriteByte((byte)PropertyId.UserProperty); w.WriteString(k); w.WriteString(v); }
        if (p.WildcardSubscriptionAvailable is { } wsa) { w.WriteByte((byte)PropertyId.WildcardSubscriptionAvailable); w.WriteByte(wsa); }
        if (p.SubscriptionIdentifiersAvailable is { } sia) { w.WriteByte((byte)PropertyId.SubscriptionIdentifiersAvailable); w.WriteByte(sia); }
        if (p.SharedSubscriptionAvailable is { } ssa) { w.WriteByte((byte)PropertyId.SharedSubscriptionAvailable); w.WriteByte(ssa); }
    }
}
