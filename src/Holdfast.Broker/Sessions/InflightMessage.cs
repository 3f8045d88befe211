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

/// <summary>An outbound QoS 1/2 message holding a packet id of its session until the flow completes. It is its own node
/// in the session's inflight order, and the session reuses it for a later message once its flow has completed (see
/// <see cref="Session.StartInflight"/>): nothing outside the session keeps a reference to it, since queued packets and
/// the store take copies of its fields.</summary>
internal sealed class InflightMessage
{
    public InflightMessage(ushort packetId, Message message, QualityOfService qos, bool retain, List<uint>? subscriptionIds) =>
        Start(packetId, message, qos, retain, subscriptionIds);

    public ushort PacketId { get; private set; }
    /// <summary>Its place in the session's send order (given by <see cref="Session.StartInflight"/>): the resend order,
    /// kept in the store so that it holds after a restart.</summary>
    public long Order { get; internal set; }
    public Message Message { get; private set; } = null!;
    public QualityOfService QoS { get; private set; }
    /// <summary>The RETAIN flag as delivered to this subscriber (retain-as-published, or a retained message on subscribe).</summary>
    public bool Retain { get; private set; }
    /// <summary>Never changed once made (queued packets may share it), only replaced.</summary>
    public List<uint>? SubscriptionIds { get; private set; }
    public InflightState State { get; set; }
    /// <summary>The packet the flow waits for, as the log names it.</summary>
    public string AwaitedPacket => State switch
    {
        InflightState.AwaitingPubAck => "PUBACK",
        InflightState.AwaitingPubRec => "PUBREC",
        _ => "PUBCOMP",
    };
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

    /// <summary>The neighbours in the session's inflight order (oldest first); on the session's spare list, Next links the spares.</summary>
    internal InflightMessage? Previous { get; set; }
    internal InflightMessage? Next { get; set; }

    /// <summary>Sets every field for a new flow, as the constructor does.</summary>
    internal void Start(ushort packetId, Message message, QualityOfService qos, bool retain, List<uint>? subscriptionIds)
    {
        PacketId = packetId;
        Message = message;
        QoS = qos;
        Retain = retain;
        SubscriptionIds = subscriptionIds;
        State = qos == QualityOfService.AtLeastOnce ? InflightState.AwaitingPubAck : InflightState.AwaitingPubRec;
        Sent = EverSent = AckTimeoutReported = false;
        SentAt = RetriedAt = 0;
        Previous = Next = null;
    }

    /// <summary>Lets go of the message when the flow completes, so a spare record does not keep a payload alive.</summary>
    internal void Forget()
    {
        Message = null!;
        SubscriptionIds = null;
        Previous = Next = null;
    }
}

/// <summary>A message waiting behind the inflight window (or for an offline session). <paramref name="Sequence"/> is its
/// place in the session's queue, given by <see cref="Session.Enqueue"/>: its key in the store.</summary>
internal readonly record struct QueuedMessage(Message Message, QualityOfService QoS, bool Retain, List<uint>? SubscriptionIds, long Sequence = 0,
    bool OwnsBody = false);
