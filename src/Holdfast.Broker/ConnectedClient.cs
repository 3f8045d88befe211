using Holdfast.Protocol;

namespace Holdfast.Broker;

/// <summary>A live connection attached to a session: the connection-scoped state MQTT defines
/// (topic aliases, the client's limits, the negotiated keep-alive). Guarded by the lock of its session's shard.</summary>
public sealed class ConnectedClient
{
    internal ConnectedClient(Session session, IClientConnection connection, ProtocolVersion version, ListenerPolicy policy)
    {
        Session = session;
        Connection = connection;
        Version = version;
        Policy = policy;
    }

    internal Session Session { get; }
    public IClientConnection Connection { get; }
    public ProtocolVersion Version { get; }
    public ListenerPolicy Policy { get; }
    public string ClientId => Session.ClientId;
    /// <summary>The user name given at CONNECT; null for an anonymous client.</summary>
    public string? UserName { get; internal init; }

    /// <summary>The keep-alive in force (after max_keepalive); 0 = none. The server enforces 1.5 × this.</summary>
    public ushort KeepAlive { get; internal set; }

    /// <summary>The client's Maximum Packet Size (MQTT 5); 0 = protocol maximum.</summary>
    public uint MaximumPacketSize { get; internal set; }

    /// <summary>Topic aliases the client set for its PUBLISHes on this connection (MQTT 5.0 §3.3.2.3.4). Made on the
    /// first alias: most clients never set one.</summary>
    internal Dictionary<ushort, string> InboundTopicAliases => _inboundTopicAliases ??= [];
    private Dictionary<ushort, string>? _inboundTopicAliases;

    /// <summary>Inbound QoS 1/2 publishes not yet acknowledged by the broker, against our Receive Maximum.</summary>
    internal int InboundUnacknowledged { get; set; }

    /// <summary>A 3.1.1 publish is waiting for queue room (counted once in <see cref="InboundUnacknowledged"/>).</summary>
    internal bool HeldBack { get; set; }

    /// <summary>This client's publishes held back by a full queue; null while none is.</summary>
    internal HeldPublishes? Held { get; set; }

    /// <summary>What this client's last PUBLISH matched (see <see cref="Distributor.MatchPublish"/>). Read and replaced
    /// without a lock, since matching comes before the locks: it is replaced whole, and it is used only while no
    /// subscription has changed since it was made. A field, so that the subscription tree can replace it.</summary>
    internal Routing.MatchCache.Entry? LastMatch;

    internal bool WillSuppressed { get; set; }
    internal WillMessage? Will { get; set; }
    internal bool Closed { get; set; }
    /// <summary>The session ends when this connection ends (3.1.1 clean session, or MQTT 5 expiry 0 at disconnect).</summary>
    internal bool IsV5 => Version == ProtocolVersion.V500;

    public override string ToString() => ClientId;
}
