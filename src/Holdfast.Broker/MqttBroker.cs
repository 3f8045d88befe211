using System.Text;
using Holdfast.Broker.Routing;
using Holdfast.Broker.Storage;
using Holdfast.Protocol;

namespace Holdfast.Broker;

/// <summary>
/// The broker engine's front door. It knows nothing of sockets or files: the server hands it decoded packets with the
/// <see cref="ConnectedClient"/> they came from, and it answers through <see cref="IClientConnection"/>. This class only
/// makes the parts and passes each packet to the handler of its type (Handlers/, one per packet, as in Mosquitto's src/);
/// docs/architecture.md draws the parts and a publish's path through them.
///
/// Concurrency: sessions live in shards (<see cref="SessionTable"/>), each with its own lock; an operation takes the
/// locks of the shards it needs, in order (<see cref="OperationScope"/>). The subscription tree and the retained tree
/// have their own locks. Encoding and socket I/O happen on the connections' own loops.
/// </summary>
public sealed class MqttBroker : IDisposable
{
    private readonly BrokerContext _context;
    private readonly IBrokerStore _store;
    private readonly SessionTable _sessions;
    private readonly SubscriptionTree _subscriptions = new();
    private readonly RetainedTree _retained = new();
    private readonly SessionLifecycle _lifecycle;
    private readonly Distributor _distributor;
    private readonly ConnectHandler _connect;
    private readonly PublishHandler _publish;
    private readonly PublishAckHandler _publishAcks;
    private readonly SubscribeHandler _subscribe;
    private readonly UnsubscribeHandler _unsubscribe;
    private readonly DisconnectHandler _disconnect;
    private readonly PingAuthHandler _pingAuth;
    private readonly MalformedPacketHandler _malformed;
    private readonly ITimer _timer;
    private int _ticking;

    /// <param name="store">Where durable state is recorded and recovered from; null records nothing (embedding, unit tests).</param>
    /// <param name="listeners">The policies clients connect with: a session recovered from the store is judged (acl_file) by
    /// the one of its last connection, found by name.</param>
    /// <param name="time">The clock every timer decision reads (tests pass a fake one); the system clock by default.</param>
    public MqttBroker(BrokerOptions? options = null, IBrokerLog? log = null, IBrokerStore? store = null, IEnumerable<ListenerPolicy>? listeners = null,
        TimeProvider? time = null)
    {
        Clock = time is null ? BrokerClock.System : new BrokerClock(time);
        _store = store ?? UnrecordedStore.Instance;
        _context = new BrokerContext(options ?? new BrokerOptions(), Clock, log ?? NullBrokerLog.Instance, Metrics, _store);
        _sessions = new SessionTable(_store);
        var access = new AccessRules(listeners ?? []);
        var room = new RoomSignal();
        var timers = new SessionTimers(_context);
        var ending = new SessionEnding(_context, _subscriptions, room);
        var outbox = new Outbox(_context, _sessions, timers, room, ending);
        _distributor = new Distributor(_context, _sessions, _subscriptions, _retained, outbox);
        _lifecycle = new SessionLifecycle(_context, _sessions, ending, outbox, timers, access, _distributor);
        _connect = new ConnectHandler(_context, _sessions, _lifecycle, outbox);
        _publish = new PublishHandler(_context, _sessions, _distributor, _lifecycle, room);
        _publishAcks = new PublishAckHandler(_context, _sessions, _lifecycle, outbox, timers);
        _subscribe = new SubscribeHandler(_context, _sessions, _subscriptions, _retained, _lifecycle, outbox);
        _unsubscribe = new UnsubscribeHandler(_context, _sessions, _subscriptions, _lifecycle);
        _disconnect = new DisconnectHandler(_context, _sessions, _lifecycle);
        _pingAuth = new PingAuthHandler(_sessions, _lifecycle);
        _malformed = new MalformedPacketHandler(_context, _disconnect);
        new Recovery(_context, _sessions, _subscriptions, _retained, access, outbox, timers, _lifecycle).Recover(_store);
        _timer = Clock.Time.CreateTimer(_ => Tick(), null, TickInterval, TickInterval);
    }

    /// <summary>How often due timer work (will delay, session expiry, ack timeout, 3.1.1 retry) is looked for.</summary>
    public static readonly TimeSpan TickInterval = TimeSpan.FromMilliseconds(100);

    /// <summary>Queued messages a stored session keeps in memory; the rest of its queue is read back from the store.</summary>
    public const int QueueHeadLimit = Outbox.HeadLimit;

    public BrokerClock Clock { get; }
    public BrokerOptions Options => _context.Options;
    public IBrokerLog Log => _context.Log;
    public BrokerMetrics Metrics { get; } = new();

    public int SessionCount => Status().ClientsTotal;
    public int ConnectedCount => Status().ClientsConnected;
    public int RetainedCount => _retained.Count;
    public int SubscriptionCount => _subscriptions.Count;

    /// <summary>The largest packet accepted from clients (0 = protocol maximum).</summary>
    public int EffectiveMaxPacketSize => Options.MaxPacketSize;

    /// <inheritdoc cref="ConnectHandler.Handle"/>
    /// <summary>Handles the first packet of a connection, which must be a CONNECT [MQTT-3.1.0-1]. Sends the CONNACK (and,
    /// on success, resends inflight messages and the queue). Returns the attached client, or null when the connection was
    /// refused (the broker has closed it). <paramref name="identity"/> is what the transport verified (the TLS client
    /// certificate), for use_identity_as_username.</summary>
    public ConnectedClient? HandleConnect(IClientConnection connection, MqttPacket first, ListenerPolicy policy, TransportIdentity? identity = null) =>
        _connect.Handle(connection, first, policy, identity);

    /// <summary>The connection <paramref name="clientId"/> is connected on now, if any: the one a CONNECT with that id
    /// would take over.</summary>
    public IClientConnection? ConnectionOf(string clientId)
    {
        var shard = _sessions.ShardOf(clientId);
        lock (shard.Lock) return shard.GetValueOrDefault(clientId)?.Client is { Closed: false } client ? client.Connection : null;
    }

    /// <summary>Handles a PUBLISH; the receipt says whether the broker keeps the packet object and when the connection may
    /// read again (MQTT 3.1.1 back-pressure, see <see cref="PublishReceipt"/>).</summary>
    public PublishReceipt HandlePublish(ConnectedClient client, PublishPacket packet) => _publish.Handle(client, packet);

    /// <summary>Hands a packet other than CONNECT and PUBLISH from a connected client to its handler. Returns the packet
    /// when the broker keeps nothing of it (an acknowledgement), so the reader may read the next of its type into it;
    /// null otherwise.</summary>
    public MqttPacket? HandlePacket(ConnectedClient client, MqttPacket packet)
    {
        switch (packet)
        {
            case PubAckPacket a: _publishAcks.HandlePubAck(client, a); return a;
            case PubRecPacket a: _publishAcks.HandlePubRec(client, a); return a;
            case PubRelPacket a: _publishAcks.HandlePubRel(client, a); return a;
            case PubCompPacket a: _publishAcks.HandlePubComp(client, a); return a;
            case SubscribePacket s: _subscribe.Handle(client, s); return null;
            case UnsubscribePacket u: _unsubscribe.Handle(client, u); return null;
            case PingReqPacket: _pingAuth.HandlePingReq(client); return null;
            case DisconnectPacket d: _disconnect.Handle(client, d); return null;
            case AuthPacket: _pingAuth.HandleAuth(client); return null;
            default:
                // CONNECT twice [MQTT-3.1.0-2], or a packet only a server sends; a PUBLISH goes to HandlePublish. Closed
                // without a DISCONNECT, as Mosquitto closes it.
                _disconnect.CloseForProtocolError(client, $"unexpected {packet.Type} from a client");
                return null;
        }
    }

    public void HandlePubAck(ConnectedClient client, PubAckPacket packet) => _publishAcks.HandlePubAck(client, packet);
    public void HandlePubRec(ConnectedClient client, PubRecPacket packet) => _publishAcks.HandlePubRec(client, packet);
    public void HandlePubRel(ConnectedClient client, PubRelPacket packet) => _publishAcks.HandlePubRel(client, packet);
    public void HandlePubComp(ConnectedClient client, PubCompPacket packet) => _publishAcks.HandlePubComp(client, packet);
    public void HandleSubscribe(ConnectedClient client, SubscribePacket packet) => _subscribe.Handle(client, packet);
    public void HandleUnsubscribe(ConnectedClient client, UnsubscribePacket packet) => _unsubscribe.Handle(client, packet);
    public void HandleDisconnect(ConnectedClient client, DisconnectPacket packet) => _disconnect.Handle(client, packet);
    public void HandlePingReq(ConnectedClient client) => _pingAuth.HandlePingReq(client);

    /// <inheritdoc cref="MalformedPacketHandler.Handle"/>
    public void HandleMalformedPacket(IClientConnection connection, ConnectedClient? client, MqttProtocolException error) =>
        _malformed.Handle(connection, client, error);

    /// <inheritdoc cref="DisconnectHandler.ConnectionLost"/>
    public void ConnectionLost(ConnectedClient client, string reason) => _disconnect.ConnectionLost(client, reason);

    /// <inheritdoc cref="DisconnectHandler.KeepAliveExpired"/>
    public void KeepAliveExpired(ConnectedClient client) => _disconnect.KeepAliveExpired(client);

    /// <inheritdoc cref="DisconnectHandler.Disconnect"/>
    public void Disconnect(ConnectedClient client, ReasonCode reason, string why) => _disconnect.Disconnect(client, reason, why);

    /// <inheritdoc cref="DisconnectHandler.StoreWriteFailed"/>
    public void StoreWriteFailed(ConnectedClient client) => _disconnect.StoreWriteFailed(client);

    /// <summary>Publishes a message originating in the broker itself. Never blocks: a full queue drops, counted.</summary>
    public void PublishInternal(Message message) => _distributor.Publish(message, _lifecycle);

    /// <summary>Publishes one $SYS topic: retained, QoS 0, from the broker itself. Kept in memory only (never in the
    /// durable store: it describes this run of the broker) and not counted as client traffic.</summary>
    public void PublishBrokerStatus(string topic, string value)
    {
        if (_context.ShuttingDown) return;
        _distributor.Publish(new Message(topic, Encoding.UTF8.GetBytes(value), QualityOfService.AtMostOnce, retain: true, null, null, Clock.Now)
        {
            FromBroker = true,
        }, _lifecycle);
    }

    /// <summary>After the password file was reloaded (SIGHUP): disconnects every connected client for which
    /// <paramref name="stillAuthorized"/> says no, as Mosquitto does (MQTT 5: DISCONNECT 0x87 Not authorized). Their wills
    /// are published, as for any connection the broker ends. Returns how many were disconnected.</summary>
    public int DisconnectUnauthorized(Func<ConnectedClient, bool> stillAuthorized) =>
        DisconnectWhere(client => !stillAuthorized(client), ReasonCode.NotAuthorized, withWill: true, "disconnected, not authorised");

    /// <summary>Disconnects every connected client <paramref name="which"/> picks, as Mosquitto's plugins kick clients
    /// (dynamic security, after a change to their user, group or role): MQTT 5 gets DISCONNECT 0x98 Administrative action;
    /// no will is published (Mosquitto kicks "without will"); <paramref name="why"/> is for the log. Returns how many were
    /// disconnected.</summary>
    public int Kick(Func<ConnectedClient, bool> which, string why) =>
        DisconnectWhere(which, ReasonCode.AdministrativeAction, withWill: false, $"disconnected: {why}");

    private int DisconnectWhere(Func<ConnectedClient, bool> which, ReasonCode reason, bool withWill, string logged)
    {
        int disconnected = 0;
        foreach (var shard in _sessions.Shards)
        {
            using var scope = new OperationScope(_sessions, ShardSet.Of(shard), _lifecycle);
            // Collected first: ending a connection can end its session, which changes the shard.
            var chosen = shard.Values.Select(s => s.Client).OfType<ConnectedClient>().Where(c => !c.Closed && which(c)).ToList();
            foreach (var client in chosen)
            {
                if (Log.IsEnabled(LogType.Notice)) Log.Notice($"Client {client.ClientId} {logged}.");
                if (!withWill) client.WillSuppressed = true;
                SessionLifecycle.CloseConnection(scope.Operation, client, reason);
                _lifecycle.EndConnection(scope.Operation, client);
            }
            disconnected += chosen.Count;
        }
        return disconnected;
    }

    /// <summary>Graceful shutdown: MQTT 5 clients get DISCONNECT 0x8B Server shutting down; sessions are kept.</summary>
    public void Shutdown()
    {
        _context.ShuttingDown = true;
        foreach (var shard in _sessions.Shards)
        {
            using var scope = new OperationScope(_sessions, ShardSet.Of(shard), _lifecycle);
            foreach (var session in shard.Values.ToList())
            {
                if (session.Client is not { } client) continue;
                SessionLifecycle.CloseConnection(scope.Operation, client, ReasonCode.ServerShuttingDown);
                _lifecycle.EndConnection(scope.Operation, client);
            }
        }
    }

    /// <summary>Takes a snapshot: running totals kept per shard as sessions and retained messages change, so idle sessions
    /// and retained messages cost nothing here. Sessions holding inflight messages are looked at, for the ack timeout: when
    /// many subscribers are stuck, that can be most of them. Each shard is read under its own lock, one after another.</summary>
    public BrokerStatus Status()
    {
        int connected = 0, total = 0, pastAckTimeout = 0;
        long inflight = 0, queued = 0, held = 0, queuedBytes = 0;
        long now = Clock.Now;
        for (int i = 0; i < SessionTable.ShardCount; i++)
        {
            var shard = _sessions.Shard(i);
            lock (shard.Lock)
            {
                var totals = shard.Totals;
                connected += totals.ClientsConnected;
                total += shard.Count;
                inflight += totals.InflightMessages;
                queued += totals.QueuedMessages;
                held += totals.HeldBytes;
                queuedBytes += totals.QueuedBytes;
                pastAckTimeout += ClientsPastAckTimeout(totals.FirstWithInflight, now);
            }
        }
        return new BrokerStatus(connected, total, inflight, queued, held, _retained.Count, _retained.Bytes, _subscriptions.Count, pastAckTimeout, queuedBytes,
            _subscriptions.SharedCount);
    }

    /// <summary>The <paramref name="count"/> sessions with the deepest queues and the <paramref name="count"/> waiting longest
    /// for an acknowledgement, for $SYS and /metrics: who holds publishers back, who is stuck. Walks every session, one shard
    /// at a time under its own lock (about a microsecond per thousand idle sessions); called every sys_interval and scrape,
    /// never per message.</summary>
    public SessionRanking TopSessions(int count)
    {
        var byQueued = new TopList(count, s => s.Queued);
        var byUnacknowledged = new TopList(count, s => s.OldestUnacknowledgedMs);
        long now = Clock.Now;
        for (int i = 0; i < SessionTable.ShardCount; i++)
        {
            var shard = _sessions.Shard(i);
            lock (shard.Lock)
            {
                foreach (var session in shard.Values)
                {
                    if (session.QueuedCount == 0 && session.InflightCount == 0) continue;
                    var summary = Summarize(session, now);
                    byQueued.Offer(summary);
                    byUnacknowledged.Offer(summary);
                }
            }
        }
        return new SessionRanking(byQueued.Items, byUnacknowledged.Items);
    }

    private static SessionSummary Summarize(Session s, long now)
    {
        long dropped = 0;
        foreach (var cause in Enum.GetValues<DropCause>()) dropped += s.Dropped(cause);
        long oldest = s.OldestInflight is { Sent: true } m ? Math.Max(1, now - m.SentAt) : 0;
        return new SessionSummary(s.ClientId, s.IsConnected, s.IsConnected ? 0 : now - s.DisconnectedAt, s.QueuedCount, s.QueuedBytes,
            s.InflightCount, oldest, dropped);
    }

    /// <summary>Connected clients whose oldest inflight message has waited longer than their listener's ack_timeout.</summary>
    private static int ClientsPastAckTimeout(Session? firstWithInflight, long now)
    {
        int past = 0;
        for (var session = firstWithInflight; session is not null; session = session.NextWithInflight)
            if (session.Client?.Policy.AckTimeout is { } timeout && session.OldestInflight is { Sent: true } oldest
                && now - oldest.SentAt >= (long)timeout.TotalMilliseconds)
                past++;
        return past;
    }

    /// <summary>For tests: runs <paramref name="inspect"/> with every shard locked, the sessions and retained messages, so
    /// a check can add them up the long way and compare with <see cref="Status"/>.</summary>
    internal T Inspect<T>(Func<IReadOnlyList<SessionShard>, RetainedTree, T> inspect)
    {
        var all = ShardSet.Every;
        all.Enter(_sessions);
        try { return inspect(_sessions.Shards, _retained); }
        finally { all.Exit(_sessions); }
    }

    /// <summary>Entries in the shards' deadline queues, for tests.</summary>
    internal int DeadlineCount => Inspect((shards, _) => shards.Sum(s => s.Deadlines.Count));

    /// <summary>Runs due timer work; every <see cref="TickInterval"/> of the injected clock.</summary>
    internal void Tick()
    {
        if (Interlocked.Exchange(ref _ticking, 1) == 1) return;
        try
        {
            _lifecycle.RunDueTimers();
        }
        catch (Exception e)
        {
            Log.Error($"Timer failed: {e}");
        }
        finally
        {
            Volatile.Write(ref _ticking, 0);
        }
    }

    /// <summary>Whether the store holds every change up to <paramref name="sequence"/> durably (see <see cref="IClientConnection.Send"/>).</summary>
    public bool IsDurable(long sequence) => _store.IsDurable(sequence);

    /// <summary>Completes when <paramref name="sequence"/> is durable; faults with <see cref="StoreWriteException"/> if its write failed.</summary>
    public ValueTask WhenDurable(long sequence) => _store.WhenDurable(sequence);

    public void Dispose() => _timer.Dispose();
}
