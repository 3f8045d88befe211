using Holdfast.Protocol;

namespace Holdfast.Broker;

/// <summary>The broker's view of a network connection. The server implements it over its transport;
/// tests implement it in memory. Calls never block: Send enqueues, Close signals.</summary>
public interface IClientConnection
{
    /// <summary>"address:port" for log lines.</summary>
    string RemoteAddress { get; }

    /// <summary>Queues a packet for sending (a packet object converts to an <see cref="OutboundPacket"/>; the broker sends
    /// PUBLISH and acknowledgements in their allocation-free forms). Packets go out in the order they were queued. A packet stamped with
    /// <paramref name="durableAt"/> (the sequence of the change set its operation committed, <see cref="Storage.IChangeSet.Commit"/>)
    /// is written only once <see cref="MqttBroker.IsDurable"/> holds for that sequence, and never if the write fails;
    /// the packets behind it wait with it. 0 = no wait of its own.</summary>
    void Send(OutboundPacket packet, long durableAt = 0);

    /// <summary>Sends what is queued, then <paramref name="goodbye"/> when given (the DISCONNECT or refusing CONNACK the broker
    /// built), and closes. The goodbye goes out even when the packets before it are discarded (a failed store write). After
    /// a goodbye the transport keeps reading, and discarding, for a moment before it closes the socket, so the peer reads
    /// the goodbye rather than a reset.</summary>
    void Close(MqttPacket? goodbye = null);

    /// <summary>Bytes queued but not yet written to the socket: how far behind this client is.</summary>
    long PendingBytes { get; }
}

/// <summary>Who the transport found a client to be before any MQTT was read, from the certificate the TLS handshake
/// verified: its CN (null when it has none) and its whole subject in Mosquitto's form (OpenSSL's RFC 2253 text; null when
/// it cannot be read). <see cref="None"/>: no certificate. Passed as an identity, never written into the CONNECT.</summary>
public sealed record TransportIdentity(string? CertificateCommonName, string? CertificateSubject)
{
    public static readonly TransportIdentity None = new(null, null) { HasCertificate = false };

    public bool HasCertificate { get; private init; } = true;
}

/// <summary>Decides whether <paramref name="userName"/> may connect as <paramref name="clientId"/> with
/// <paramref name="password"/> (null: none given): true yes, false no, null not known here.</summary>
public delegate bool? CredentialsCheck(string clientId, string userName, ReadOnlyMemory<byte>? password);

/// <summary>Receives a message a client published on a <c>$CONTROL/</c> topic; <paramref name="payload"/> is a copy the
/// handler may keep.</summary>
public delegate void ControlMessageHandler(ConnectedClient client, string topic, ReadOnlyMemory<byte> payload);

/// <summary>Per-listener behaviour the broker applies to clients of that listener.</summary>
public sealed class ListenerPolicy
{
    public static readonly ListenerPolicy Default = new();

    /// <summary>Name for logs, e.g. the port.</summary>
    public string Name { get; init; } = "default";
    /// <summary>Whether a client without a user name may connect (allow_anonymous).</summary>
    public bool AllowAnonymous { get; init; } = true;
    /// <summary>Checks a user name and password (password_file); null when the listener has no password file. The broker
    /// knows nothing of where the passwords live.</summary>
    public Func<string, ReadOnlyMemory<byte>, bool>? CheckPassword { get; init; }
    /// <summary>Checks a client's credentials before <see cref="CheckPassword"/> (dynamic security): true accepts, false
    /// refuses (CONNACK 0x87, 3.1.1: code 5, as Mosquitto's plugins), null does not know the user and leaves the decision
    /// to the password file; with neither knowing it, a client that gave a user name is refused. Null = no such check.</summary>
    public CredentialsCheck? CheckCredentials { get; init; }
    /// <summary>Takes a PUBLISH on a <c>$CONTROL/</c> topic, which is never routed (as in Mosquitto, where such topics
    /// belong to the broker's control handlers). Called once the publish passed the access check, under the publisher's
    /// lock: it must only queue the work. Null = such publishes are acknowledged and dropped.</summary>
    public ControlMessageHandler? HandleControl { get; init; }
    /// <summary>Decides topic access (acl_file); null when the listener has no ACL, and then everything is allowed.</summary>
    public AccessCheck? CheckAccess { get; init; }
    /// <summary>ack_timeout: how long the oldest inflight message may wait for its acknowledgement. Null = off.</summary>
    public TimeSpan? AckTimeout { get; init; }
    /// <summary>ack_timeout_action disconnect: close the stuck client so that the reconnect-and-redeliver path runs.</summary>
    public bool AckTimeoutDisconnect { get; init; }
    /// <summary>use_identity_as_username: the CN of the client's verified certificate is its user name, whatever CONNECT
    /// says, and the password is not used.</summary>
    public bool UseIdentityAsUsername { get; init; }
    /// <summary>use_subject_as_username: the whole subject of the client's verified certificate is its user name, whatever
    /// CONNECT says, and the password is not used.</summary>
    public bool UseSubjectAsUsername { get; init; }
    /// <summary>max_qos: the highest QoS this listener's clients may publish (MQTT 5 is told in the CONNACK) and are
    /// granted in SUBSCRIBE.</summary>
    public QualityOfService MaximumQoS { get; init; } = QualityOfService.ExactlyOnce;
}
