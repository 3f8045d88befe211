using Holdfast.Broker.Routing;
using Holdfast.Protocol;
using static Holdfast.Broker.SessionRecording;

namespace Holdfast.Broker;

/// <summary>
/// PUBLISH from a client: topic aliases, limits, QoS 1/2 acknowledgement, retained messages, routing (MQTT 5.0 §3.3,
/// §4.3). Its subscribers are matched first (no session lock); then the packet is checked, routed and acknowledged in
/// one operation under the locks of the publisher's and the subscribers' shards (<see cref="Distributor"/>). A
/// publisher's messages are handled one after another, so they reach each subscriber in the order sent.
/// </summary>
internal sealed class PublishHandler(BrokerContext context, SessionTable sessions, Distributor distributor, SessionLifecycle lifecycle, RoomSignal room)
{
    private BrokerOptions Options => context.Options;
    private BrokerMetrics Metrics => context.Metrics;
    private IBrokerLog Log => context.Log;

    /// <summary>
    /// Handles a PUBLISH. An MQTT 3.1.1 publisher whose message a full queue cannot take (queue_full_policy block) is held
    /// back: its message waits for room, unacknowledged, and its later publishes wait behind it in order; past
    /// <see cref="HeldPublishes.Limit"/> of them the receipt tells the connection to stop reading until they are taken.
    /// </summary>
    public PublishReceipt Handle(ConnectedClient client, PublishPacket packet)
    {
        Message? message;
        Task? wait;
        // Nearly always the topic is the packet's own: matched first, then checked, routed and acknowledged in one
        // operation. A topic alias is resolved under the publisher's lock first (the alias map is the connection's).
        if (packet.Properties?.TopicAlias is null)
        {
            var match = distributor.MatchPublish(client, packet.Topic, packet.Retain, out var shards);
            using var scope = new OperationScope(sessions, shards, lifecycle);
            if (client.Closed) return PublishReceipt.Done;
            if (client.Held is { } held) return Hold(held, packet);
            message = Accept(scope.Operation, client, packet);
            if (message is null) return PublishReceipt.Done;
            wait = TryRoute(scope.Operation, client, packet, message, match, shards);
            if (wait is not null) client.Held = new HeldPublishes();
        }
        else
        {
            using (var scope = new OperationScope(sessions, ShardSet.Of(client.Session.Shard), lifecycle))
            {
                if (client.Closed) return PublishReceipt.Done;
                if (client.Held is { } held) return Hold(held, packet);
                message = Accept(scope.Operation, client, packet);
            }
            if (message is null) return PublishReceipt.Done;
            wait = RouteAndAcknowledge(client, packet, message);
        }
        if (wait is null) return PublishReceipt.Done;
        _ = RouteWhenRoomAsync(client, client.Held!, packet, message, wait);
        return new PublishReceipt(true, Task.CompletedTask);
    }

    /// <summary>A publish behind one held back: it waits its turn, and past the limit the connection stops reading.</summary>
    private static PublishReceipt Hold(HeldPublishes held, PublishPacket packet)
    {
        held.Add(packet);
        return new PublishReceipt(true, held.Count >= HeldPublishes.Limit ? held.Released : Task.CompletedTask);
    }

    /// <summary>Routes an accepted message and acknowledges it, under the shards its routing needs. Returns a task to wait
    /// on when a 3.1.1 publisher must be held back (its <see cref="HeldPublishes"/> made by then).</summary>
    private Task? RouteAndAcknowledge(ConnectedClient client, PublishPacket packet, Message message)
    {
        var match = distributor.MatchPublish(client, message.Topic, message.Retain, out var shards);
        using var scope = new OperationScope(sessions, shards, lifecycle);
        // Gone since it was checked: never acknowledged, so the publisher still owns the message.
        if (client.Closed) return null;
        var wait = TryRoute(scope.Operation, client, packet, message, match, shards);
        if (wait is not null) client.Held ??= new HeldPublishes();
        return wait;
    }

    /// <summary>Routes the held publish once there is room, then those held behind it, in order; each may be held again.</summary>
    private async Task RouteWhenRoomAsync(ConnectedClient client, HeldPublishes held, PublishPacket packet, Message message, Task? wait)
    {
        try
        {
            while (true)
            {
                while (wait is not null)
                {
                    // Also woken when the connection ends: what is held was never acknowledged, so nothing is lost.
                    await Task.WhenAny(wait, held.Released).ConfigureAwait(false);
                    if (client.Closed) return;
                    wait = RouteAndAcknowledge(client, packet, message);
                }
                while (true)
                {
                    Message? next;
                    using (var scope = new OperationScope(sessions, ShardSet.Of(client.Session.Shard), lifecycle))
                    {
                        if (client.Closed) return;
                        if (!held.TryTakeNext(out packet))
                        {
                            client.Held = null;
                            held.Release();
                            return;
                        }
                        next = Accept(scope.Operation, client, packet);
                    }
                    if (next is null) continue;
                    message = next;
                    wait = RouteAndAcknowledge(client, packet, message);
                    if (wait is not null) break;
                }
            }
        }
        catch (Exception e)
        {
            Log.Error($"Client {client.ClientId}: held PUBLISH failed: {e}");
            using var scope = new OperationScope(sessions, ShardSet.Of(client.Session.Shard), lifecycle);
            lifecycle.Disconnect(scope.Operation, client, ReasonCode.UnspecifiedError, "held PUBLISH failed");
        }
    }

    /// <summary>Validates the PUBLISH and resolves its topic alias. Returns null if the packet was answered or the client dropped.</summary>
    private Message? Accept(BrokerOperation op, ConnectedClient client, PublishPacket packet)
    {
        string topic = packet.Topic;
        var properties = packet.Properties;
        if (client.IsV5 && properties is not null)
        {
            if (properties.SubscriptionIdentifiers is not null)
            {
                lifecycle.Disconnect(op, client, ReasonCode.ProtocolError, "PUBLISH from a client must not carry a subscription identifier");
                return null;
            }
            if (properties.ResponseTopic is { } responseTopic && !TopicRules.IsValidTopicName(responseTopic))
            {
                // A Response Topic is a topic name: no wildcards [MQTT-3.3.2-14].
                lifecycle.Disconnect(op, client, ReasonCode.ProtocolError, $"response topic '{responseTopic}' is not a valid topic name");
                return null;
            }
            if (properties.TopicAlias is { } alias)
            {
                if (alias == 0 || alias > Options.TopicAliasMaximum)
                {
                    lifecycle.Disconnect(op, client, ReasonCode.TopicAliasInvalid, $"topic alias {alias} out of range");
                    return null;
                }
                if (topic.Length > 0) client.InboundTopicAliases[alias] = topic;
                else if (!client.InboundTopicAliases.TryGetValue(alias, out topic!))
                {
                    lifecycle.Disconnect(op, client, ReasonCode.ProtocolError, $"unknown topic alias {alias}");
                    return null;
                }
                // The alias is a property of this connection, not of the message: subscribers never see it.
                properties = properties.Clone();
                properties.TopicAlias = null;
            }
        }
        if (packet.QoS == QualityOfService.ExactlyOnce && client.Session.AwaitsPubRel(packet.PacketId))
        {
            // A resent QoS 2 PUBLISH we already accepted: acknowledge again, never deliver twice
            // (checked first, so that no path counts the same packet id twice against our Receive Maximum).
            // Held like the first PUBREC could have been: if the id is not durable yet, neither is this answer.
            Outbox.SendSessionRecorded(op, client, OutboundPacket.Ack(PacketType.PubRec, packet.PacketId));
            return null;
        }
        if (AccessRules.IsClosedToPublishers(topic))
        {
            // As an ACL denial: MQTT 5 is told (0x87); 3.1.1 is acknowledged and the message dropped.
            DenyPublish(op, client, packet, topic);
            return null;
        }
        if (packet.QoS > client.Policy.MaximumQoS)
        {
            // max_qos: "a Protocol Error ... DISCONNECT with Reason Code 0x9B" [MQTT-3.2.2-11]; 3.1.1 is closed, as by Mosquitto.
            lifecycle.Disconnect(op, client, ReasonCode.QoSNotSupported, $"QoS {(int)packet.QoS} is above max_qos {(int)client.Policy.MaximumQoS}");
            return null;
        }
        if (packet.Retain && !Options.RetainAvailable)
        {
            lifecycle.Disconnect(op, client, ReasonCode.RetainNotSupported, "retain not available");
            return null;
        }
        if (packet.QoS > 0 && client.IsV5 && client.InboundUnacknowledged >= Options.EffectiveReceiveMaximum)
        {
            lifecycle.Disconnect(op, client, ReasonCode.ReceiveMaximumExceeded, $"more than {Options.EffectiveReceiveMaximum} QoS 1/2 publishes unacknowledged");
            return null;
        }
        if (Options.MessageSizeLimit > 0 && packet.Payload.Length > Options.MessageSizeLimit)
        {
            Metrics.Drop(DropCause.PacketTooLarge);
            Log.Warning($"Client {client.ClientId} sent a {packet.Payload.Length}-byte message on '{topic}', over message_size_limit {Options.MessageSizeLimit}.");
            // MQTT 5: refuse with a code the client sees. 3.1.1 has none, so close rather than acknowledge and drop.
            if (client.IsV5) Acknowledge(op, client, packet, ReasonCode.QuotaExceeded);
            else if (packet.QoS > 0) lifecycle.Disconnect(op, client, ReasonCode.PacketTooLarge, "message_size_limit");
            return null;
        }
        if (!AccessRules.MayWrite(client, topic))
        {
            DenyPublish(op, client, packet, topic);
            return null;
        }
        if (AccessRules.IsControlTopic(topic))
        {
            // As Mosquitto: $CONTROL/ messages go to the control handler (dynamic security's commands), never to
            // subscribers. Copied: the handler works on them after this operation, off the publisher's lock.
            AcknowledgeUnrouted(op, client, packet);
            client.Policy.HandleControl?.Invoke(client, topic, packet.Payload.ToArray());
            return null;
        }

        Metrics.MessageReceived(client.Session.Shard, packet.QoS, packet.Payload.Length);
        return new Message(topic, packet.Payload, packet.QoS, packet.Retain, client.IsV5 ? properties : null, client.ClientId, context.Now);
    }

    /// <summary>Routes an accepted message and acknowledges it. Returns a task to wait on when a 3.1.1 publisher must be held back.</summary>
    private Task? TryRoute(BrokerOperation op, ConnectedClient client, PublishPacket packet, Message message, MatchResult match, ShardSet shards)
    {
        bool block = packet.QoS > 0 && Options.QueueFullPolicy is QueueFullPolicy.Block or QueueFullPolicy.EndSession;
        var result = distributor.Route(op, message, match, shards, block);
        if (result == RouteResult.QueueFull)
        {
            var full = op.Routing.FullSession!;
            if (client.IsV5)
            {
                // Refused, so never acknowledged: the publisher still owns the message.
                Metrics.PublishRejected();
                if (Log.IsEnabled(LogType.Warning))
                    Log.Warning($"Refused PUBLISH from {client.ClientId} on '{message.Topic}' (m{packet.PacketId}) with 0x97: the queue of client "
                        + $"{full.ClientId} is full ({Outbox.DescribeQueue(full, context.Now)}).");
                Acknowledge(op, client, packet, ReasonCode.QuotaExceeded);
                return null;
            }
            if (!client.HeldBack && Log.IsEnabled(LogType.Notice))
                Log.Notice($"Client {client.ClientId} held back on '{message.Topic}': the queue of client {full.ClientId} is full "
                    + $"({Outbox.DescribeQueue(full, context.Now)}).");
            if (packet.QoS > 0 && !client.HeldBack) client.InboundUnacknowledged++;
            client.HeldBack = true;
            // Under the full queues' locks: room made in them is signalled after this.
            return room.Wait();
        }
        if (client.HeldBack)
        {
            client.HeldBack = false;
            if (packet.QoS > 0) client.InboundUnacknowledged--;
        }

        distributor.KeepIfRetained(op, message);
        // PUBREC says plain Success: Mosquitto routes QoS 2 at PUBREL, so its PUBREC never knows of subscribers, and
        // clients written against it expect that.
        var code = result == RouteResult.NoSubscribers && client.IsV5 && packet.QoS == QualityOfService.AtLeastOnce
            ? ReasonCode.NoMatchingSubscribers : ReasonCode.Success;
        if (packet.QoS == QualityOfService.AtMostOnce) return null;
        AwaitPubRel(op, client, packet);
        // PUBACK/PUBREC mean "kept": held until the store holds what this publish changed (the message in persistent
        // sessions' queues, the retained message, the QoS 2 packet id). A publish that changed nothing stored (only
        // clean subscribers) commits nothing and is acknowledged at once, even while the store is failing.
        Acknowledge(op, client, packet, code, waitsForChanges: true);
        return null;
    }

    /// <summary>A PUBLISH its client may not write: never routed, counted and logged (Mosquitto's words). MQTT 5 QoS 1/2
    /// publishers are told with 0x87 Not authorized; MQTT 3.1.1 has no reason code, so (as Mosquitto 2) the message is
    /// acknowledged normally and dropped, and a QoS 2 flow still completes with PUBREL/PUBCOMP.</summary>
    private void DenyPublish(BrokerOperation op, ConnectedClient client, PublishPacket packet, string topic)
    {
        Metrics.Drop(DropCause.NotAuthorized);
        if (Log.IsEnabled(LogType.Notice))
            Log.Notice($"Denied PUBLISH from {client.ClientId} {PacketSummary.Publish(packet, topic)}");
        if (client.IsV5) Acknowledge(op, client, packet, ReasonCode.NotAuthorized);
        else AcknowledgeUnrouted(op, client, packet);
    }

    /// <summary>Acknowledges a PUBLISH as accepted without routing it (a QoS 2 flow still goes on to PUBREL/PUBCOMP): for
    /// a message the broker discards where the client cannot be told (a denied MQTT 3.1.1 publish).</summary>
    private static void AcknowledgeUnrouted(BrokerOperation op, ConnectedClient client, PublishPacket packet)
    {
        AwaitPubRel(op, client, packet);
        Acknowledge(op, client, packet, ReasonCode.Success, waitsForChanges: true);
    }

    /// <summary>Only an accepted QoS 2 message makes its packet id "awaiting PUBREL" (a refused one ends its flow at
    /// PUBREC). Recorded before the commit, so a resend after a restart is still recognised as a duplicate.</summary>
    private static void AwaitPubRel(BrokerOperation op, ConnectedClient client, PublishPacket packet)
    {
        if (packet.QoS != QualityOfService.ExactlyOnce) return;
        client.Session.InboundQoS2.Add(packet.PacketId);
        RecordInboundQoS2(op, client.Session, packet.PacketId, true);
        client.InboundUnacknowledged++;
    }

    /// <param name="waitsForChanges">Whether the acknowledgement waits for the operation's changes to be durable (a
    /// refusal vouches for nothing).</param>
    private static void Acknowledge(BrokerOperation op, ConnectedClient client, PublishPacket packet, ReasonCode code, bool waitsForChanges = false)
    {
        switch (packet.QoS)
        {
            case QualityOfService.AtLeastOnce:
                op.Send(client.Connection, OutboundPacket.Ack(PacketType.PubAck, packet.PacketId, code), waitsForChanges);
                break;
            case QualityOfService.ExactlyOnce:
                op.Send(client.Connection, OutboundPacket.Ack(PacketType.PubRec, packet.PacketId, code), waitsForChanges);
                break;
        }
    }
}
