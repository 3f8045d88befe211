using Microsoft.Extensions.Time.Testing;
using Holdfast.Protocol;
using Holdfast.Storage.Memory;

namespace Holdfast.Broker.Tests;

/// <summary>
/// <see cref="MqttBroker.Status"/> adds nothing up when asked: it reads totals kept as sessions, queues, inflight windows
/// and retained messages change. These tests check those totals against the sum taken the long way (every session,
/// every inflight and retained message) after each step of long random runs, so a change that moves a message without
/// its bookkeeping fails here.
/// </summary>
public class StatusTotalsTests
{
    private static readonly string[] ClientIds = ["c0", "c1", "c2", "c3", "c4", "c5", "c6", "c7", "c8", "c9"];
    private static readonly string[] Filters = ["t/a", "t/+", "t/#", "r/#", "#"];
    private static readonly string[] Topics = ["t/a", "t/b", "r/x", "r/y"];
    // Zero: every sent inflight message is past it at once; an hour: none is. Both are decided the same way by the walk
    // and the snapshot even though each reads the clock itself.
    private static readonly ListenerPolicy[] Policies =
    [
        ListenerPolicy.Default,
        new() { Name = "zero", AckTimeout = TimeSpan.Zero },
        new() { Name = "hour", AckTimeout = TimeSpan.FromHours(1) },
    ];
    private static readonly uint?[] Expiries = [null, 0, 1, 3600, uint.MaxValue];

    [Fact]
    public void Status_equals_the_full_walk_after_every_step_of_a_random_run()
    {
        var random = new Random(6);
        var store = new MemoryStore();
        var peers = new Dictionary<string, Peer>();
        var packetIds = new Dictionary<string, ushort>();
        long queueFull = 0, expiredMessages = 0, expiredSessions = 0, restarts = 0;
        var policies = new[] { QueueFullPolicy.DropOldest, QueueFullPolicy.DropNew, QueueFullPolicy.Block };
        var time = new FakeTimeProvider();
        MqttBroker Start() => TestBroker.New(new BrokerOptions
        {
            MaxInflightMessages = 2,
            MaxQueuedMessages = 4,
            QueueQos0Messages = true,
            QueueFullPolicy = policies[restarts % policies.Length],
            ConnectionMessages = false,
        }, store: store, listeners: Policies, time: time);
        var broker = Start();
        try
        {
            const int steps = 4000;
            for (int step = 0; step < steps; step++)
            {
                if (step % 500 == 250)
                {
                    // Sessions and messages with a 1 s expiry run out while time passes (a few times a run).
                    broker.TickFor(1100);
                    AssertStatusIsTheWalk(broker, $"step {step}: time passed");
                }
                string id = ClientIds[random.Next(ClientIds.Length)];
                var peer = peers.GetValueOrDefault(id);
                bool live = peer is { ClientOrNull.Closed: false };
                string what;
                switch (random.Next(100))
                {
                    case < 12:
                        var expiry = Expiries[random.Next(Expiries.Length)];
                        peers[id] = broker.Connect(id, cleanStart: random.Next(3) == 0, sessionExpiry: expiry,
                            receiveMaximum: (ushort)random.Next(1, 4), policy: Policies[random.Next(Policies.Length)]);
                        what = $"connect {id} expiry {expiry}";
                        break;
                    case < 22 when live:
                        peer!.Subscribe(Filters[random.Next(Filters.Length)], (QualityOfService)random.Next(3));
                        what = $"subscribe {id}";
                        break;
                    case < 55 when live:
                        var qos = (QualityOfService)random.Next(3);
                        ushort packetId = qos == 0 ? (ushort)0 : packetIds[id] = (ushort)(packetIds.GetValueOrDefault(id) % 60000 + 1);
                        bool retain = random.Next(4) == 0;
                        string payload = retain && random.Next(4) == 0 ? "" : new string('x', random.Next(1, 40));
                        var properties = random.Next(5) == 0 ? new MqttProperties { MessageExpiryInterval = 1 } : null;
                        // A refused or held-back publish (queue full under Block) changes no session: nothing to wait for.
                        _ = peer!.PublishAsync(Topics[random.Next(Topics.Length)], payload, qos, packetId, retain, properties: properties);
                        if (qos == QualityOfService.ExactlyOnce && random.Next(2) == 0) peer.PubRel(packetId);
                        what = $"publish q{(int)qos} by {id}";
                        break;
                    case < 80 when live:
                        what = Acknowledge(peer!, random);
                        break;
                    case < 86 when live:
                        if (random.Next(2) == 0) peer!.Disconnect();
                        else peer!.Lost();
                        what = $"disconnect {id}";
                        break;
                    case < 95:
                        broker.TickFor(100);
                        what = "tick";
                        break;
                    case < 96:
                        CountDrops(broker);
                        broker.Shutdown();
                        broker.Dispose();
                        restarts++;
                        peers.Clear();
                        broker = Start();
                        what = "restart on the store";
                        break;
                    default:
                        what = "nothing";
                        break;
                }
                AssertStatusIsTheWalk(broker, $"step {step}: {what}");
            }
            CountDrops(broker);
        }
        finally
        {
            broker.Dispose();
        }
        // The run went through the paths it is meant to cover.
        Assert.True(queueFull > 0, "no queue-full drop");
        Assert.True(expiredMessages > 0, "no message expired");
        Assert.True(expiredSessions > 0, "no session expired");
        Assert.True(restarts > 0, "no restart");

        void CountDrops(MqttBroker b)
        {
            queueFull += b.Metrics.Dropped(DropCause.QueueFull);
            expiredMessages += b.Metrics.Dropped(DropCause.Expired);
            expiredSessions += b.Metrics.SessionsExpired;
        }
    }

    [Fact]
    public void Status_equals_the_full_walk_with_inflight_queued_and_retained_messages_held()
    {
        using var broker = TestBroker.New(new BrokerOptions { MaxInflightMessages = 1 }, listeners: Policies);
        var stuck = broker.Connect("stuck", policy: Policies[1]);
        stuck.Subscribe("a/#");
        var away = broker.ConnectPersistent("away");
        away.Subscribe("a/#", QualityOfService.ExactlyOnce);
        away.Lost();
        var pub = broker.Connect("pub");
        for (ushort i = 1; i <= 3; i++) pub.Publish("a/b", new string('m', i), QualityOfService.AtLeastOnce, i);
        pub.Publish("a/kept", "kept", QualityOfService.AtMostOnce, retain: true);

        var status = AssertStatusIsTheWalk(broker, "held");
        Assert.Equal(1, status.InflightMessages);
        Assert.Equal(2 + 3, status.QueuedMessages);
        Assert.Equal(1, status.ClientsPastAckTimeout);
        Assert.Equal(4, status.RetainedBytes);

        stuck.PubAck(stuck.Publishes[0].PacketId);
        pub.Publish("a/kept", "", QualityOfService.AtMostOnce, retain: true);
        status = AssertStatusIsTheWalk(broker, "after an ack and a retained clear");
        Assert.Equal(0, status.RetainedMessages);
        Assert.Equal(0, status.RetainedBytes);
    }

    [Fact]
    public void A_session_is_counted_exactly_while_it_is_in_its_shard()
    {
        var table = new SessionShard(0, new MemoryStore());
        var message = new Message("t", new byte[10], QualityOfService.AtLeastOnce, false, null, "pub", 0);
        var queued = new QueuedMessage(message, QualityOfService.AtLeastOnce, false, null);
        var session = new Session("s");
        session.Enqueue(queued);
        session.StartInflight(1, message, QualityOfService.AtLeastOnce, false, null);
        session.Client = new ConnectedClient(session, new FakeConnection(), ProtocolVersion.V500, ListenerPolicy.Default);

        table.Add(session);
        AssertTotals(table, connected: 1, inflight: 1, queued: 1, bytes: 20, withInflight: [session]);

        // Clean start and the end of a session clear its messages; the session stays counted until it leaves the table.
        session.ClearMessages();
        session.Enqueue(queued);
        AssertTotals(table, connected: 1, inflight: 0, queued: 1, bytes: 10, withInflight: []);

        // A session replaced under its client id, or removed, is no longer counted, whatever happens to it afterwards.
        var successor = new Session("s");
        table.Add(successor);
        session.Enqueue(queued);
        session.Client = null;
        AssertTotals(table, connected: 0, inflight: 0, queued: 0, bytes: 0, withInflight: []);
        successor.StartInflight(1, message, QualityOfService.AtLeastOnce, false, null);
        successor.Client = new ConnectedClient(successor, new FakeConnection(), ProtocolVersion.V500, ListenerPolicy.Default);
        AssertTotals(table, connected: 1, inflight: 1, queued: 0, bytes: 10, withInflight: [successor]);
        Assert.False(table.Remove(session));
        Assert.True(table.Remove(successor));
        successor.Enqueue(queued);
        successor.Client = null;
        AssertTotals(table, connected: 0, inflight: 0, queued: 0, bytes: 0, withInflight: []);
    }

    private static void AssertTotals(SessionShard table, int connected, long inflight, long queued, long bytes, Session[] withInflight)
    {
        var t = table.Totals;
        Assert.Equal((connected, inflight, queued, bytes), (t.ClientsConnected, t.InflightMessages, t.QueuedMessages, t.HeldBytes));
        Assert.Equal(withInflight, WithInflight(table));
    }

    /// <summary>The sessions counted as holding inflight messages, following their links both ways.</summary>
    private static List<Session> WithInflight(SessionShard table)
    {
        var sessions = new List<Session>();
        for (var s = table.Totals.FirstWithInflight; s is not null; s = s.NextWithInflight)
        {
            Assert.Same(sessions.LastOrDefault(), s.PreviousWithInflight);
            sessions.Add(s);
        }
        return sessions;
    }

    /// <summary>Acknowledges one of what the peer received: a PUBACK or PUBREC for a PUBLISH, a PUBCOMP for a PUBREL.</summary>
    private static string Acknowledge(Peer peer, Random random)
    {
        var received = peer.Conn.Sent.Where(p => p is PublishPacket { QoS: > 0 } or PubRelPacket).TakeLast(4).ToList();
        if (received.Count == 0) return "nothing to acknowledge";
        switch (received[random.Next(received.Count)])
        {
            case PublishPacket { QoS: QualityOfService.AtLeastOnce } p:
                peer.PubAck(p.PacketId);
                return $"PUBACK {p.PacketId}";
            case PublishPacket p:
                peer.PubRec(p.PacketId);
                return $"PUBREC {p.PacketId}";
            case PubRelPacket r:
                peer.PubComp(r.PacketId);
                return $"PUBCOMP {r.PacketId}";
            default:
                return "nothing to acknowledge";
        }
    }

    /// <summary>Adds up what every session and retained message holds, as Status() once did, and requires the snapshot
    /// to say the same; both with every shard locked, so nothing changes in between.</summary>
    private static BrokerStatus AssertStatusIsTheWalk(MqttBroker broker, string after)
    {
        var (walked, status) = broker.Inspect((shards, retained) =>
        {
            // The sessions looked at for the ack timeout are exactly those holding inflight messages.
            var withInflight = shards.SelectMany(s => s.Values).Where(s => s.InflightCount > 0).ToHashSet();
            var counted = shards.SelectMany(WithInflight).ToList();
            Assert.True(withInflight.SetEquals(counted) && counted.Count == withInflight.Count,
                $"after {after}: sessions with inflight messages {string.Join(",", withInflight)}, counted {string.Join(",", counted)}");
            long now = broker.Clock.Now;
            int total = 0, connected = 0, pastAckTimeout = 0;
            long inflight = 0, queued = 0, bytes = 0, queuedBytes = 0;
            foreach (var session in shards.SelectMany(s => s.Values))
            {
                total++;
                inflight += session.InflightCount;
                queued += session.QueuedCount;
                bytes += session.QueuedBytes;
                queuedBytes += session.QueuedBytes;
                foreach (var m in session.Inflight) bytes += m.Message.Size;
                if (session.Client is not { } client) continue;
                connected++;
                if (client.Policy.AckTimeout is { } timeout && session.OldestInflight is { Sent: true } oldest
                    && now - oldest.SentAt >= (long)timeout.TotalMilliseconds)
                    pastAckTimeout++;
            }
            var snapshot = broker.Status();
            return (new BrokerStatus(connected, total, inflight, queued, bytes, retained.All.Count, retained.All.Sum(m => (long)m.Size),
                snapshot.Subscriptions, pastAckTimeout, queuedBytes, snapshot.SharedSubscriptions), snapshot);
        });
        Assert.True(walked == status, $"after {after}:\n walked   {walked}\n snapshot {status}");
        return status;
    }
}
