using Holdfast.Protocol;
using static Holdfast.Broker.SessionRecording;

namespace Holdfast.Broker;

/// <summary>CONNECT: authentication, client ids, clean start, takeover, session resume (MQTT 5.0 §3.1, §3.2). Uses the
/// session table (its client id's shard), the lifecycle (takeover, clean start) and the outbox (resume).</summary>
internal sealed class ConnectHandler(BrokerContext context, SessionTable sessions, SessionLifecycle lifecycle, Outbox outbox)
{
    private BrokerOptions Options => context.Options;
    private IBrokerLog Log => context.Log;

    public ConnectedClient? Handle(IClientConnection connection, MqttPacket first, ListenerPolicy policy, TransportIdentity? identity)
    {
        if (first is not ConnectPacket connect)
        {
            if (Log.IsEnabled(LogType.Notice)) Log.Notice($"Client {connection.RemoteAddress} sent {first.Type} before CONNECT, closing.");
            connection.Close();
            return null;
        }
        var version = connect.ProtocolVersion;
        bool v5 = version == ProtocolVersion.V500;
        string clientId = connect.ClientId;
        string? assignedId = null;
        // 3.1.1 allows an empty id only with a clean session [MQTT-3.1.3-8]; 3.1 not at all.
        bool mayAssign = Options.AllowZeroLengthClientId && version != ProtocolVersion.V310 && (v5 || connect.CleanStart);
        // Mosquitto's form: auto- and a lower-case UUID with dashes (41 characters), so scripts and tests that expect it match.
        if (clientId.Length == 0 && mayAssign) clientId = assignedId = "auto-" + Guid.NewGuid().ToString("D");

        // Everything about this client id happens under its shard's lock: a second CONNECT with the same id waits here.
        using var scope = new OperationScope(sessions, ShardSet.Of(sessions.ShardOf(clientId)), lifecycle);
        var op = scope.Operation;
        if (context.ShuttingDown) return Refuse(op, connection, ReasonCode.ServerUnavailable, "server shutting down");
        if (clientId.Length == 0) return Refuse(op, connection, ReasonCode.ClientIdentifierNotValid, "empty client id");
        if (v5 && connect.Properties?.AuthenticationMethod is { } method)
            return Refuse(op, connection, ReasonCode.BadAuthenticationMethod, $"authentication method '{method}' not supported");
        // $SYS belongs to the broker: a will may not publish (or retain) there.
        if (connect.Will is { } will && AccessRules.IsBrokerTopic(will.Topic))
            return Refuse(op, connection, ReasonCode.NotAuthorized, $"will topic '{will.Topic}' is reserved");
        // The will is a message like any other: message_size_limit holds for it (3.1.1 has no code for it; Mosquitto's 5).
        if (connect.Will is { } large && Options.MessageSizeLimit > 0 && large.Payload.Length > Options.MessageSizeLimit)
            return Refuse(op, connection, v5 ? ReasonCode.PacketTooLarge : ReasonCode.NotAuthorized,
                $"its {large.Payload.Length}-byte will is over message_size_limit {Options.MessageSizeLimit}");
        // max_qos: a will above it is refused, as Mosquitto refuses it (MQTT 5: 0x9B [MQTT-3.2.2-12]; 3.1.1: closed).
        if (connect.Will is { } strong && strong.QoS > policy.MaximumQoS)
            return Refuse(op, connection, v5 ? ReasonCode.QoSNotSupported : null,
                $"will QoS {(int)strong.QoS} is above max_qos {(int)policy.MaximumQoS}");
        string? userName = connect.UserName;
        if (policy.UseIdentityAsUsername || policy.UseSubjectAsUsername)
        {
            // As Mosquitto: the verified certificate's CN (or whole subject) is the user name and the password is not used;
            // no certificate, or one without a CN, is refused as a bad user name (3.1.1: code 4).
            var certificate = identity ?? TransportIdentity.None;
            string setting = policy.UseSubjectAsUsername ? "use_subject_as_username" : "use_identity_as_username";
            if (!certificate.HasCertificate)
                return Refuse(op, connection, ReasonCode.BadUserNameOrPassword, $"no client certificate to take the user name from ({setting})");
            if ((policy.UseSubjectAsUsername ? certificate.CertificateSubject : certificate.CertificateCommonName) is not { } fromCertificate)
                return Refuse(op, connection, ReasonCode.BadUserNameOrPassword,
                    policy.UseSubjectAsUsername ? $"its certificate's subject cannot be read ({setting})" : $"its certificate has no CN to use as user name ({setting})");
            userName = fromCertificate;
        }
        // As Mosquitto 2: a client with a user name must match dynamic security or the password file (without either,
        // nobody can); a client without one is anonymous, and allow_anonymous decides. Every refusal is Mosquitto's
        // "not authorised" (0x87, 3.1.1: code 5), which clients and tests written against it expect.
        else if (userName is { } user)
        {
            // An empty password is none, as Mosquitto reads it: it never matches, not even a hash of "".
            byte[]? given = connect.Password is { Length: > 0 } ? connect.Password : null;
            // Spelled out: a null byte[] would convert to an empty ReadOnlyMemory, not to no password.
            ReadOnlyMemory<byte>? password = given is null ? default(ReadOnlyMemory<byte>?) : given;
            bool? known = policy.CheckCredentials?.Invoke(clientId, user, password);
            // Mosquitto refuses what its plugins refuse, or what none of them knows.
            if (known == false || (known is null && policy.CheckCredentials is not null && policy.CheckPassword is null))
                return RefuseNotAuthorised(op, connection, clientId, $"not authorised as '{user}'");
            if (known is null && (policy.CheckPassword is not { } check ? !policy.AllowAnonymous
                    : given is null || !check(user, given)))
                return RefuseNotAuthorised(op, connection, clientId, $"bad user name or password for '{user}'");
        }
        else if (!policy.AllowAnonymous)
            return RefuseNotAuthorised(op, connection, clientId, "anonymous clients are not allowed");
        // A retained will cannot be honoured without retained messages: an error, not a silent downgrade [MQTT-3.2.2-13].
        if (v5 && connect.Will is { Retain: true } && !Options.RetainAvailable)
            return Refuse(op, connection, ReasonCode.RetainNotSupported, "will retain requested but retain_available is false");

        ushort keepAlive = connect.KeepAlive;
        ushort? serverKeepAlive = null;
        // max_keepalive 0 means no limit, as in Mosquitto.
        if (Options.MaxKeepAlive is > 0 and < 65535 && (keepAlive > Options.MaxKeepAlive || keepAlive == 0))
        {
            // MQTT 5 lets the server impose its keep-alive; 3.1.1 has no way to say so, so (like Mosquitto)
            // a 3.1.1 client asking for more than max_keepalive is refused.
            if (v5) serverKeepAlive = keepAlive = Options.MaxKeepAlive;
            else if (keepAlive > Options.MaxKeepAlive)
                return Refuse(op, connection, ReasonCode.ClientIdentifierNotValid, $"keepalive {keepAlive} exceeds max_keepalive {Options.MaxKeepAlive}");
        }

        var connAckProperties = v5 ? ConnAckProperties(assignedId, serverKeepAlive, policy.MaximumQoS) : null;
        // A CONNACK the client says it cannot take: nothing can be sent, so the connection closes before anything of
        // the session changes [MQTT-3.1.2-24], as in Mosquitto. Session present only flips a bit, never the size.
        if (v5 && connect.Properties?.MaximumPacketSize is { } maximum
            && PacketWriter.GetSize(new ConnAckPacket { Properties = connAckProperties }, version) > maximum)
            return Refuse(op, connection, null, $"its maximum packet size {maximum} is smaller than the CONNACK");

        var shard = sessions.ShardOf(clientId);
        // Session takeover: the old connection is closed with 0x8E and ends as an abnormal disconnect (its will applies).
        var session = shard.GetValueOrDefault(clientId);
        if (session?.Client is { } old)
        {
            Log.Notice($"Client {clientId} already connected, closing old connection.");
            SessionLifecycle.CloseConnection(op, old, ReasonCode.SessionTakenOver);
            lifecycle.EndConnection(op, old);
            // A session with expiry 0 ended with its connection; otherwise it continues (or clean start ends it below).
            session = shard.GetValueOrDefault(clientId);
        }

        bool sessionPresent = false;
        if (session is not null && connect.CleanStart)
        {
            lifecycle.EndSession(op, session, "clean start");
            session = null;
        }
        if (session is null)
        {
            session = new Session(clientId);
            shard.Add(session);
        }
        else
        {
            sessionPresent = true;
            // A new connection before the will delay has passed cancels the will [MQTT-3.1.3-9]; one already due is
            // about to be published.
            if (session.PendingWill is { } pending && pending.PublishAt > context.Now) SetPendingWill(op, session, null);
        }

        session.Version = version;
        session.ExpiryInterval = v5 ? connect.Properties?.SessionExpiryInterval ?? 0 : connect.CleanStart ? 0 : uint.MaxValue;
        int clientReceiveMaximum = (v5 ? connect.Properties?.ReceiveMaximum : null) ?? 65535;
        session.InflightWindow = Options.MaxInflightMessages > 0 ? Math.Min(Options.MaxInflightMessages, clientReceiveMaximum) : clientReceiveMaximum;

        var client = new ConnectedClient(session, connection, version, policy)
        {
            KeepAlive = keepAlive,
            MaximumPacketSize = (v5 ? connect.Properties?.MaximumPacketSize : null) ?? 0,
            Will = connect.Will,
            UserName = userName,
        };
        session.Client = client;
        session.Identity = new SessionIdentity(policy.Name, userName, policy);
        // Recorded as connected, with who connected (a takeover by another user changes it): if the broker dies now, the
        // session's offline time starts at the restart, not at its previous disconnection (which could make it look
        // expired), and the ACL judges it as this user until it reconnects. A new connection takes the session: the
        // next epoch.
        RecordSession(op, session, claim: true);

        // MQTT 3.1 has no session present flag: its acknowledge-flags byte is reserved, 0.
        var connack = new ConnAckPacket
        {
            SessionPresent = sessionPresent && version != ProtocolVersion.V310,
            ReasonCode = ReasonCode.Success,
            Properties = connAckProperties,
        };
        // Not held for the store: "session present" is the protocol's own report of what survived, and a CONNACK
        // that waited on a failing store would leave even clients needing nothing stored unable to connect (and a
        // DISCONNECT must never come before the CONNACK [MQTT-3.14.0-1]).
        op.Send(connection, connack);
        context.Metrics.ClientConnected();

        if (Options.ConnectionMessages && Log.IsEnabled(LogType.Notice))
            Log.Notice($"New client connected from {connection.RemoteAddress} as {clientId} (p{MosquittoProtocolNumber(version)}, c{(connect.CleanStart ? 1 : 0)}, k{keepAlive}{(userName is null ? "" : $", u'{userName}'")}).");

        // Resume: inflight first, in original order with DUP=1 (PUBREL past PUBREC), then the queue.
        outbox.Pump(op, session);
        return client;
    }

    /// <summary>Mosquitto's log names protocol versions p1 (3.1), p2 (3.1.1) and p5 (5.0).</summary>
    private static int MosquittoProtocolNumber(ProtocolVersion version) => version switch
    {
        ProtocolVersion.V310 => 1,
        ProtocolVersion.V311 => 2,
        _ => 5,
    };

    private MqttProperties ConnAckProperties(string? assignedId, ushort? serverKeepAlive, QualityOfService maximumQoS)
    {
        var p = new MqttProperties
        {
            // 65535 is what a client assumes without the property, so it is left out (as Mosquitto does).
            ReceiveMaximum = Options.EffectiveReceiveMaximum < ushort.MaxValue ? Options.EffectiveReceiveMaximum : null,
            TopicAliasMaximum = Options.TopicAliasMaximum > 0 ? Options.TopicAliasMaximum : null,
            AssignedClientIdentifier = assignedId,
            ServerKeepAlive = serverKeepAlive,
            RetainAvailable = Options.RetainAvailable ? null : (byte)0,
            // Left out at 2, the QoS a client assumes without it.
            MaximumQoS = maximumQoS < QualityOfService.ExactlyOnce ? (byte)maximumQoS : null,
        };
        if (Options.MaxPacketSize > 0) p.MaximumPacketSize = (uint)Options.MaxPacketSize;
        return p;
    }

    /// <summary>A failed login: our line with the reason, then Mosquitto's own line, which log watchers such as
    /// fail2ban filters match.</summary>
    private ConnectedClient? RefuseNotAuthorised(BrokerOperation op, IClientConnection connection, string clientId, string why)
    {
        var refused = Refuse(op, connection, ReasonCode.NotAuthorized, why);
        if (Log.IsEnabled(LogType.Notice)) Log.Notice($"Client {clientId} disconnected, not authorised.");
        return refused;
    }

    /// <summary>Refuses the CONNECT with a CONNACK carrying <paramref name="code"/>, or, without one, just closes (no
    /// CONNACK the client could take, or none Mosquitto would send).</summary>
    private ConnectedClient? Refuse(BrokerOperation op, IClientConnection connection, ReasonCode? code, string why)
    {
        if (Log.IsEnabled(LogType.Notice))
            Log.Notice($"Client connection from {connection.RemoteAddress} refused: {why}.");
        op.Close(connection, goodbye: code is { } c ? new ConnAckPacket { ReasonCode = c } : null);
        return null;
    }
}
