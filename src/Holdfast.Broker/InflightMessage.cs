using Holdfast.Protocol;

namespace Holdfast.Broker;

/// <summary>Where an outbound QoS 1/2 message stands in its acknowledgement flow.</summary>
public enum InflightState
{
    /// <summary>QoS 1 PUBLISH sent, waiting for PUBACK.</summary>
    AwaitingPubAck,
    /// <summary>QoS 2 PUBLISH sent, waiting for PUBREC.</summary>
    AwaitingPubRec,
    /// <summary>QoS 2 PUBREL sent, waiting for PUBCOMP. Resumes with PUBREL, never the PUBLISH.</summary>
    AwaitingPubComp,
}

/// <summary>An outbound QoS 1/2 message holding a packet id of its session until the flow completes.</summary>
public sealed class InflightMessage(ushort packetId, Message message, QualityOfService qos, bool retain, List<uint>? subscriptionIds)
{
    public ushort PacketId { get; } = packetId;
    public Message Message { get; } = message;
    public QualityOfService QoS { get; } = qos;
    /// <summary>The RETAIN flag as delivered to this subscriber (retain-as-published, or a retained message on subscribe).</summary>
    public bool Retain { get; } = retain;
    public List<uint>? SubscriptionIds { get; } = subscriptionIds;
    public InflightState State { get; set; } = qos == QualityOfService.AtLeastOnce ? InflightState.AwaitingPubAck : InflightState.AwaitingPubRec;
    /// <summary>False after a reconnect until it has been resent on the new connection.</summary>
    public bool Sent { get; set; }
    /// <summary>Sent at least once: any later send carries DUP=1.</summary>
    public bool EverSent { get; set; }
    /// <summary>Monotonic ms when the wait for the current acknowledgement began on this connection (first send of the
    /// PUBLISH, or of the PUBREL), for the ack timeout. A 3.1.1 retry does not move it: the message is still unacknowledged.</summary>
    public long SentAt { get; set; }
    /// <summary>Monotonic ms of the last 3.1.1 retry (0 = none), so the retry interval counts from the latest resend.</summary>
    public long RetriedAt { get; set; }
    /// <summary>The ack timeout has been reported for this message already.</summary>
    public bool AckTimeoutReported { get; set; }
}

/// <summary>A message waiting behind the inflight window (or for an offline session).</summary>
public readonly record struct QueuedMessage(Message Message, QualityOfService QoS, bool Retain, List<uint>? SubscriptionIds);
