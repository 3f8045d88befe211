namespace Holdfast.Broker;

/// <summary>What to do with a QoS 1/2 message when a subscriber's queue is full (see docs/configuration.md).</summary>
public enum QueueFullPolicy
{
    /// <summary>Default: a connected subscriber's publishers are held back (<see cref="Block"/>: it is slow, or stuck
    /// until the ack timeout disconnects it); an offline session whose queue is full is ended, as if it had expired, so
    /// its client learns on return (session present 0) that messages were lost. One dead session never stops the others.</summary>
    EndSession,
    /// <summary>Never drop, for connected and offline sessions alike. MQTT 5 publishers get 0x97 Quota exceeded (the
    /// message was never acknowledged, so nothing is lost); MQTT 3.1.1 publishers are back-pressured (their socket is
    /// not read until there is room). An offline session that never returns stops its publishers.</summary>
    Block,
    /// <summary>Opt-in: the new message is dropped for that subscriber, counted and logged.</summary>
    DropNew,
    /// <summary>Opt-in: the oldest queued message is dropped for that subscriber, counted and logged.</summary>
    DropOldest,
}

/// <summary>Broker-wide settings (Mosquitto's names in the comments).</summary>
public sealed class BrokerOptions
{
    /// <summary>max_inflight_messages: unacknowledged QoS 1/2 messages per client (0 = limited only by the client's Receive Maximum).</summary>
    public int MaxInflightMessages { get; set; } = 20;

    /// <summary>max_queued_messages: messages held beyond the inflight window per client (0 = unlimited).</summary>
    public int MaxQueuedMessages { get; set; } = 1000;

    /// <summary>max_queued_bytes: payload bytes held beyond the inflight window per client (0 = unlimited).</summary>
    public long MaxQueuedBytes { get; set; }

    /// <summary>max_queued_bytes_total (Holdfast): payload bytes all sessions' queues may hold together (0 = unlimited).
    /// A message that would pass it is treated as if its session's own queue were full.</summary>
    public long MaxQueuedBytesTotal { get; set; }

    /// <summary>queue_full_policy (Holdfast): what happens when a queue is full.</summary>
    public QueueFullPolicy QueueFullPolicy { get; set; } = QueueFullPolicy.EndSession;

    /// <summary>queue_qos0_messages: queue QoS 0 messages for offline persistent sessions.</summary>
    public bool QueueQos0Messages { get; set; }

    /// <summary>max_keepalive: the largest keep-alive a client may use; larger (or 0, for MQTT 5) is replaced via Server Keep Alive.</summary>
    public ushort MaxKeepAlive { get; set; } = 65535;

    /// <summary>max_packet_size: the largest packet accepted from clients (0 = the protocol maximum).</summary>
    public int MaxPacketSize { get; set; }

    /// <summary>message_size_limit: the largest PUBLISH payload accepted (0 = no limit beyond max_packet_size).</summary>
    public int MessageSizeLimit { get; set; }

    /// <summary>persistent_client_expiration: remove persistent sessions of MQTT 3.1.1 clients (and v5 clients with no expiry) after this long offline. Null = never.</summary>
    public TimeSpan? PersistentClientExpiration { get; set; }

    /// <summary>retain_available: whether retained messages are supported.</summary>
    public bool RetainAvailable { get; set; } = true;

    /// <summary>receive_maximum (Holdfast): the Receive Maximum the broker advertises to MQTT 5 clients (inbound QoS 1/2 in
    /// flight). Null: as Mosquitto, max_inflight_messages (0 there means no limit, 65535).</summary>
    public ushort? ReceiveMaximum { get; set; }

    /// <summary>The Receive Maximum in force: <see cref="ReceiveMaximum"/>, else as Mosquitto derives it.</summary>
    public ushort EffectiveReceiveMaximum =>
        ReceiveMaximum ?? (MaxInflightMessages is > 0 and < ushort.MaxValue ? (ushort)MaxInflightMessages : ushort.MaxValue);

    /// <summary>max_topic_alias (Mosquitto: max_topic_alias): Topic Alias Maximum advertised to MQTT 5 clients.</summary>
    public ushort TopicAliasMaximum { get; set; } = 10;

    /// <summary>retry_interval_v311 (Holdfast): opt-in resend of unacknowledged QoS 1/2 messages to MQTT 3.1.1 clients on a live connection. Null = off (default).</summary>
    public TimeSpan? RetryIntervalV311 { get; set; }

    /// <summary>connection_messages: log clients connecting and disconnecting.</summary>
    public bool ConnectionMessages { get; set; } = true;

    /// <summary>Allow zero-length client ids (server assigns one). Mosquitto: allow_zero_length_clientid.</summary>
    public bool AllowZeroLengthClientId { get; set; } = true;
}
