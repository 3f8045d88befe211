using Holdfast.Protocol;
using static Holdfast.Broker.SessionRecording;

namespace Holdfast.Broker;

/// <summary>PUBACK, PUBREC, PUBREL, PUBCOMP: the QoS 1 and QoS 2 flows in both directions (MQTT 5.0 §4.3). Each takes
/// only its own session's shard lock, and uses the outbox to move the window on.</summary>
internal sealed class PublishAckHandler(BrokerContext context, SessionTable sessions, SessionLifecycle lifecycle, Outbox outbox, SessionTimers timers)
{
    private IBrokerLog Log => context.Log;

    /// <summary>QoS 1 outbound: the subscriber has the message; the flow ends and the window moves on.</summary>
    public void HandlePubAck(ConnectedClient client, PubAckPacket packet) =>
        EndOutboundFlow(client, packet, InflightState.AwaitingPubAck);

    /// <summary>QoS 2 outbound, step 1: answer with PUBREL. From here a reconnect resumes with PUBREL, not the PUBLISH.</summary>
    public void HandlePubRec(ConnectedClient client, PubRecPacket packet)
    {
        var session = client.Session;
        using var scope = new OperationScope(sessions, ShardSet.Of(session.Shard), lifecycle);
        var op = scope.Operation;
        var m = session.FindInflight(packet.PacketId);
        if (m is null)
        {
            Outbox.SendSessionRecorded(op, client, OutboundPacket.Ack(PacketType.PubRel, packet.PacketId, client.IsV5 ? ReasonCode.PacketIdentifierNotFound : ReasonCode.Success));
            return;
        }
        if (m.QoS != QualityOfService.ExactlyOnce)
        {
            lifecycle.CloseForProtocolError(op, client, $"PUBREC for QoS 1 message m{packet.PacketId}");
            return;
        }
        if ((byte)packet.ReasonCode >= 0x80)
        {
            // MQTT 5: the subscriber refused the message; the flow ends here [MQTT-4.3.3-4].
            Log.Warning($"Client {client.ClientId} refused message m{packet.PacketId} on '{m.Message.Topic}' (PUBREC rc{(byte)packet.ReasonCode}).");
            CompleteInflight(op, session, m);
            outbox.Pump(op, session);
            return;
        }
        m.State = InflightState.AwaitingPubComp;
        RecordInflight(op, session, m, started: false);
        m.SentAt = context.Now;
        m.AckTimeoutReported = false;
        timers.Schedule(session);
        Outbox.SendSessionRecorded(op, client, OutboundPacket.Ack(PacketType.PubRel, packet.PacketId));
    }

    /// <summary>QoS 2 outbound, step 2: the flow is complete.</summary>
    public void HandlePubComp(ConnectedClient client, PubCompPacket packet) =>
        EndOutboundFlow(client, packet, InflightState.AwaitingPubComp);

    /// <summary>The last acknowledgement of an outbound flow: the message leaves the window and the window moves on.
    /// An acknowledgement for a packet id not inflight is ignored (a stale or duplicate ack); one that does not fit its
    /// flow (a PUBCOMP for QoS 1 or before the PUBREC, a PUBACK for QoS 2) is a protocol error, as in Mosquitto.</summary>
    private void EndOutboundFlow(ConnectedClient client, PublishResponsePacket packet, InflightState awaited)
    {
        var session = client.Session;
        using var scope = new OperationScope(sessions, ShardSet.Of(session.Shard), lifecycle);
        if (session.FindInflight(packet.PacketId) is not { } m)
        {
            Log.Write(LogType.Debug, $"Client {client.ClientId} sent {packet.Type.ToString().ToUpperInvariant()} for unknown message m{packet.PacketId}, ignored.");
            return;
        }
        if (m.State != awaited)
        {
            lifecycle.CloseForProtocolError(scope.Operation, client,
                $"{packet.Type.ToString().ToUpperInvariant()} for QoS {(int)m.QoS} message m{packet.PacketId} awaiting {m.AwaitedPacket}");
            return;
        }
        CompleteInflight(scope.Operation, session, m);
        outbox.Pump(scope.Operation, session);
    }

    /// <summary>QoS 2 inbound: the publisher releases the packet id; a PUBLISH with it is new again.</summary>
    public void HandlePubRel(ConnectedClient client, PubRelPacket packet)
    {
        var session = client.Session;
        using var scope = new OperationScope(sessions, ShardSet.Of(session.Shard), lifecycle);
        bool known = session.InboundQoS2.Remove(packet.PacketId);
        if (known) RecordInboundQoS2(scope.Operation, session, packet.PacketId, false);
        if (known && client.InboundUnacknowledged > 0) client.InboundUnacknowledged--;
        Outbox.SendSessionRecorded(scope.Operation, client, OutboundPacket.Ack(PacketType.PubComp, packet.PacketId,
            known || !client.IsV5 ? ReasonCode.Success : ReasonCode.PacketIdentifierNotFound));
    }
}
