using Holdfast.Protocol;

namespace Holdfast.Broker;

/// <summary>
/// The server side of an MQTT session (MQTT 5.0 §4.1): subscriptions, outbound messages inflight and
/// queued, inbound QoS 2 packet ids awaiting PUBREL. Outlives its connections when persistent.
/// All state is guarded by the broker's lock.
/// </summary>
public sealed class Session(string clientId)
{
    private readonly LinkedList<InflightMessage> _inflightOrder = new();
    private readonly Dictionary<ushort, LinkedListNode<InflightMessage>> _inflightById = [];
    private ushort _lastPacketId;

    public string ClientId { get; } = clientId;
    public ProtocolVersion Version { get; set; }

    /// <summary>Seconds the session outlives its connection; uint.MaxValue = never expires.</summary>
    public uint ExpiryInterval { get; set; }

    public Dictionary<string, Subscription> Subscriptions { get; } = new(StringComparer.Ordinal);

    /// <summary>Inbound QoS 2 packet ids whose PUBLISH was accepted and PUBREL is awaited (exactly-once on the receiving side).</summary>
    public HashSet<ushort> InboundQoS2 { get; } = [];

    public Queue<QueuedMessage> Queue { get; } = new();
    public long QueuedBytes { get; set; }
    /// <summary>QoS 0 messages in the queue: while there are any, new QoS 0 messages queue behind them.</summary>
    public int QueuedQoS0 { get; set; }

    /// <summary>The connected client, or null while the session is offline.</summary>
    public ConnectedClient? Client { get; set; }
    public bool IsConnected => Client is not null;

    /// <summary>Who the latest connection was, kept while the session is offline (not the connection itself) and with the
    /// session record: it decides what the session may read and whether its will may be published. Null only for a session
    /// recovered from a record written before identities were kept, until it reconnects.</summary>
    internal SessionIdentity? Identity { get; set; }

    /// <summary>Monotonic ms when the last connection ended (for expiry).</summary>
    public long DisconnectedAt { get; set; }

    /// <summary>A will waiting for its delay (or for the session to end).</summary>
    public PendingWill? PendingWill { get; set; }

    /// <summary>The current connection's send window: min(max_inflight_messages, the client's Receive Maximum).</summary>
    public int InflightWindow { get; set; } = 65535;

    public int InflightCount => _inflightById.Count;
    /// <summary>Inflight messages not yet resent on the current connection (after a reconnect).</summary>
    public int UnsentInflight { get; set; }
    public bool HasInflightRoom => _inflightById.Count < InflightWindow;
    public IEnumerable<InflightMessage> Inflight => _inflightOrder;
    public InflightMessage? OldestInflight => _inflightOrder.First?.Value;

    public InflightMessage? FindInflight(ushort packetId) => _inflightById.TryGetValue(packetId, out var node) ? node.Value : null;

    /// <summary>Gives the next packet id not held by an unfinished flow [MQTT-2.2.1-3]. Call only with room in the window.</summary>
    public ushort NextPacketId()
    {
        for (int i = 0; i < 65535; i++)
        {
            _lastPacketId = (ushort)(_lastPacketId == 65535 ? 1 : _lastPacketId + 1);
            if (!_inflightById.ContainsKey(_lastPacketId)) return _lastPacketId;
        }
        throw new InvalidOperationException("no free packet id");
    }

    /// <summary>After recovery: continue numbering after the highest id in use, so no id a client may still hold is reused soon.</summary>
    public void SkipPacketIdsInUse()
    {
        if (_inflightById.Count > 0) _lastPacketId = _inflightById.Keys.Max();
    }

    public void AddInflight(InflightMessage message) =>
        _inflightById.Add(message.PacketId, _inflightOrder.AddLast(message));

    public bool RemoveInflight(ushort packetId)
    {
        if (!_inflightById.Remove(packetId, out var node)) return false;
        _inflightOrder.Remove(node);
        if (!node.Value.Sent) UnsentInflight--;
        return true;
    }

    public void ClearMessages()
    {
        _inflightOrder.Clear();
        _inflightById.Clear();
        UnsentInflight = 0;
        Queue.Clear();
        QueuedBytes = 0;
        QueuedQoS0 = 0;
        InboundQoS2.Clear();
    }

    public override string ToString() => ClientId;
}

/// <summary>The listener and user name of a session's latest connection. <paramref name="Policy"/> is that listener's
/// policy, or null when a session recovered from the store names a listener the config no longer has (renamed, removed).</summary>
internal sealed record SessionIdentity(string ListenerName, string? UserName, ListenerPolicy? Policy);

/// <summary>A will held back by its Will Delay Interval (monotonic ms). It becomes a message only when published, so
/// its Message Expiry Interval counts from then [MQTT 5.0 §3.1.3.2.4].</summary>
public sealed record PendingWill(WillMessage Will, long PublishAt);
