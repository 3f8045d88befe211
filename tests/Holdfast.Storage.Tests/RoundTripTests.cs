using System.Text;
using Holdfast.Broker;
using Holdfast.Broker.Storage;
using Holdfast.Protocol;
using Holdfast.Storage.RocksDb;
using Holdfast.Storage.Tests.Support;

namespace Holdfast.Storage.Tests;

/// <summary>Every IBrokerStore change, written, then read back by a new store opened on the same directory.</summary>
public sealed class RoundTripTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    private RocksDbStore Open() => RocksDbStore.Open(_dir.Path, Durability.Sync);

    /// <summary>Closes nothing: opens a second store on the directory, loads it and closes it again.</summary>
    private StoredState Reload()
    {
        using var store = Open();
        return store.Load();
    }

    private static StoredSession Session(string clientId) => new(clientId, ProtocolVersion.V500, 3600, []);

    [Fact]
    public void Sessions_keep_version_expiry_every_subscription_option_and_offline_time()
    {
        long offlineSince = Environment.TickCount64 - 5000;
        var subscriptions = new List<Subscription>
        {
            new("a/+/c", QualityOfService.AtMostOnce, NoLocal: true, RetainAsPublished: false, RetainHandling.SendAtSubscribe, SubscriptionIdentifier: null),
            new("$share/workers/jobs/#", QualityOfService.ExactlyOnce, NoLocal: false, RetainAsPublished: true, RetainHandling.DoNotSend, SubscriptionIdentifier: 268_435_455)
            {
                ShareGroup = "workers",
                MatchFilter = "jobs/#",
            },
            new("x/ü/#", QualityOfService.AtLeastOnce, NoLocal: false, RetainAsPublished: true, RetainHandling.SendAtSubscribeIfNew, SubscriptionIdentifier: 7),
        };
        using (var store = Open())
        {
            store.SaveSession(new StoredSession("offline", ProtocolVersion.V500, 3600, [subscriptions[0]]));
            // Saved again: the later state replaces the earlier one.
            store.SaveSession(new StoredSession("offline", ProtocolVersion.V500, 120, subscriptions, offlineSince));
            store.SaveSession(new StoredSession("connected", ProtocolVersion.V311, uint.MaxValue, []));
        }

        var state = Reload();
        Assert.Equal(2, state.Sessions.Count);
        var offline = state.Sessions.Single(s => s.ClientId == "offline");
        Assert.Equal(ProtocolVersion.V500, offline.Version);
        Assert.Equal(120u, offline.ExpiryInterval);
        // Subscription is a record: equality covers every option, the share group and the match filter.
        Assert.Equal(subscriptions, offline.Subscriptions);
        Assert.NotNull(offline.DisconnectedAt);
        Messages.AssertClose(offlineSince, offline.DisconnectedAt.Value);

        var connected = state.Sessions.Single(s => s.ClientId == "connected");
        Assert.Equal(ProtocolVersion.V311, connected.Version);
        Assert.Equal(uint.MaxValue, connected.ExpiryInterval);
        Assert.Empty(connected.Subscriptions);
        Assert.Null(connected.DisconnectedAt);
    }

    [Fact]
    public void Sessions_keep_the_listener_and_user_name_of_their_latest_connection()
    {
        using (var store = Open())
        {
            store.SaveSession(new StoredSession("alice", ProtocolVersion.V500, 60, [], ListenerName: "1883", UserName: "alice"));
            store.SaveSession(new StoredSession("anonymous", ProtocolVersion.V311, uint.MaxValue, [], ListenerName: "8883", Epoch: 7, Owner: "node-b"));
        }

        var state = Reload();
        Assert.Equal(("1883", "alice"), state.Sessions.Where(s => s.ClientId == "alice").Select(s => (s.ListenerName, s.UserName)).Single());
        Assert.Equal(("8883", null), state.Sessions.Where(s => s.ClientId == "anonymous").Select(s => (s.ListenerName, s.UserName)).Single());
        // The session's epoch and owner, what a save compares in a cluster.
        Assert.Equal((1L, StoredSession.LocalOwner), state.Sessions.Where(s => s.ClientId == "alice").Select(s => (s.Epoch, s.Owner)).Single());
        Assert.Equal((7L, "node-b"), state.Sessions.Where(s => s.ClientId == "anonymous").Select(s => (s.Epoch, s.Owner)).Single());
    }

    [Fact]
    public void Queued_deliveries_come_back_in_order_with_qos_retain_and_subscription_ids()
    {
        var messages = Enumerable.Range(0, 20).Select(i => Messages.Create($"t/{i}", $"m{i}", (QualityOfService)(i % 3))).ToList();
        using (var store = Open())
        {
            store.SaveSession(Session("c"));
            for (int i = 0; i < messages.Count; i++)
                store.AddQueued("c", 100 + i, new StoredDelivery(messages[i], (QualityOfService)(i % 3), Retain: i % 2 == 0, i % 4 == 0 ? null : [(uint)i, 1000u + (uint)i]));
            // The oldest three left the queue.
            for (int i = 0; i < 3; i++) store.RemoveQueued("c", 100 + i, messages[i]);
        }

        var queue = Reload().Queues["c"];
        Assert.Equal(17, queue.Count);
        for (int n = 0; n < queue.Count; n++)
        {
            int i = n + 3;
            Assert.Equal(100 + i, queue[n].Sequence);
            var d = queue[n].Delivery;
            Messages.AssertSame(messages[i], d.Message);
            Assert.Equal((QualityOfService)(i % 3), d.QoS);
            Assert.Equal(i % 2 == 0, d.Retain);
            if (i % 4 == 0) Assert.Null(d.SubscriptionIds);
            else Assert.Equal([(uint)i, 1000u + (uint)i], d.SubscriptionIds);
        }
    }

    [Fact]
    public void Inflight_flows_come_back_in_original_send_order_even_after_a_state_change()
    {
        var m1 = Messages.Create("t/1", "one", QualityOfService.ExactlyOnce);
        var m2 = Messages.Create("t/2", "two");
        var m3 = Messages.Create("t/3", "three", QualityOfService.ExactlyOnce);
        using (var store = Open())
        {
            store.SaveSession(Session("c"));
            // Packet ids deliberately out of numeric order: the send order is what counts.
            store.AddInflight("c", new StoredInflight(300, 1, new StoredDelivery(m1, QualityOfService.ExactlyOnce, false, [5]), InflightState.AwaitingPubRec));
            store.AddInflight("c", new StoredInflight(2, 2, new StoredDelivery(m2, QualityOfService.AtLeastOnce, true, null), InflightState.AwaitingPubAck));
            store.AddInflight("c", new StoredInflight(65535, 3, new StoredDelivery(m3, QualityOfService.ExactlyOnce, false, null), InflightState.AwaitingPubRec));
            // PUBREC arrived for the first: a state change keeps its send order.
            store.Record(c => c.SaveInflight("c", new StoredInflight(300, 1, new StoredDelivery(m1, QualityOfService.ExactlyOnce, false, [5]), InflightState.AwaitingPubComp)));
        }

        var flows = Reload().Inflight["c"];
        Assert.Equal([(ushort)300, (ushort)2, (ushort)65535], flows.Select(f => f.PacketId));
        Assert.Equal([1L, 2, 3], flows.Select(f => f.Order));
        Assert.Equal([InflightState.AwaitingPubComp, InflightState.AwaitingPubAck, InflightState.AwaitingPubRec], flows.Select(f => f.State));
        Messages.AssertSame(m1, flows[0].Delivery.Message);
        Assert.Equal(QualityOfService.ExactlyOnce, flows[0].Delivery.QoS);
        Assert.Equal([5u], flows[0].Delivery.SubscriptionIds);
        Messages.AssertSame(m2, flows[1].Delivery.Message);
        Assert.True(flows[1].Delivery.Retain);
        Assert.Null(flows[1].Delivery.SubscriptionIds);
        Messages.AssertSame(m3, flows[2].Delivery.Message);
    }

    [Fact]
    public void Inflight_send_order_holds_across_sessions_and_after_a_reload()
    {
        using (var store = Open())
        {
            store.SaveSession(Session("a"));
            store.SaveSession(Session("b"));
            store.AddInflight("a", new StoredInflight(9, 1, new StoredDelivery(Messages.Create("t", "a1"), QualityOfService.AtLeastOnce, false, null), InflightState.AwaitingPubAck));
            store.AddInflight("b", new StoredInflight(1, 1, new StoredDelivery(Messages.Create("t", "b1"), QualityOfService.AtLeastOnce, false, null), InflightState.AwaitingPubAck));
            store.AddInflight("a", new StoredInflight(1, 2, new StoredDelivery(Messages.Create("t", "a2"), QualityOfService.AtLeastOnce, false, null), InflightState.AwaitingPubAck));
        }
        using (var store = Open())
        {
            store.Load();
            // Sent after the restart: it must come after every flow sent before it.
            store.AddInflight("a", new StoredInflight(5, 3, new StoredDelivery(Messages.Create("t", "a3"), QualityOfService.AtLeastOnce, false, null), InflightState.AwaitingPubAck));
        }

        var state = Reload();
        Assert.Equal(["a1", "a2", "a3"], state.Inflight["a"].Select(f => f.Delivery.Message.Text()));
        Assert.Equal(["b1"], state.Inflight["b"].Select(f => f.Delivery.Message.Text()));
    }

    [Fact]
    public void Inbound_qos2_ids_are_kept_while_set_and_forgotten_when_cleared()
    {
        using (var store = Open())
        {
            store.SaveSession(Session("c"));
            store.SaveSession(Session("d"));
            store.SetInboundQoS2("c", 1, true);
            store.SetInboundQoS2("c", 65535, true);
            store.SetInboundQoS2("c", 7, true);
            store.SetInboundQoS2("c", 7, false);
            store.SetInboundQoS2("d", 3, true);
            store.SetInboundQoS2("d", 3, false);
            // Clearing an id that was never set changes nothing.
            store.SetInboundQoS2("d", 4, false);
        }

        var state = Reload();
        Assert.Equal([(ushort)1, (ushort)65535], state.InboundQoS2["c"].Order());
        Assert.True(!state.InboundQoS2.TryGetValue("d", out var ids) || ids.Count == 0);
    }

    [Fact]
    public void Retained_messages_are_set_replaced_and_cleared_by_an_empty_payload()
    {
        using (var store = Open())
        {
            store.SetRetained(Messages.Create("r/replaced", "old", retain: true));
            store.SetRetained(Messages.Create("r/replaced", "new", QualityOfService.ExactlyOnce, retain: true));
            store.SetRetained(Messages.Create("r/cleared", "gone", retain: true));
            store.SetRetained(Messages.Create("r/cleared", "", retain: true));
            store.SetRetained(Messages.Create("r/kept", "kept", QualityOfService.AtMostOnce, retain: true));
            // An empty payload on a topic with nothing retained is a no-op.
            store.SetRetained(Messages.Create("r/never", "", retain: true));
        }

        var retained = Reload().Retained.OrderBy(m => m.Topic, StringComparer.Ordinal).ToList();
        Assert.Equal(["r/kept", "r/replaced"], retained.Select(m => m.Topic));
        Assert.Equal("kept", retained[0].Text());
        Assert.Equal(QualityOfService.AtMostOnce, retained[0].QoS);
        Assert.Equal("new", retained[1].Text());
        Assert.Equal(QualityOfService.ExactlyOnce, retained[1].QoS);
        Assert.True(retained[1].Retain);
    }

    [Fact]
    public void Pending_wills_keep_topic_payload_qos_retain_properties_and_publish_time()
    {
        long publishAt = Environment.TickCount64 + 30_000;
        var properties = new MqttProperties
        {
            WillDelayInterval = 30,
            MessageExpiryInterval = 600,
            ContentType = "application/json",
            ResponseTopic = "replies/c",
            CorrelationData = [1, 2, 3, 0, 255],
            PayloadFormatIndicator = 1,
            UserProperties = [new("k", "v1"), new("k", "v2"), new("other", "")],
        };
        var will = new WillMessage { Topic = "wills/c", Payload = Encoding.UTF8.GetBytes("{\"gone\":true}"), QoS = QualityOfService.ExactlyOnce, Retain = true, Properties = properties };
        using (var store = Open())
        {
            store.SaveSession(Session("c"));
            store.SaveSession(Session("d"));
            store.SetPendingWill("c", new PendingWill(will, publishAt));
            store.SetPendingWill("d", new PendingWill(new WillMessage { Topic = "wills/d", Payload = [1] }, publishAt));
            // d reconnected: its will no longer waits.
            store.SetPendingWill("d", null);
        }

        var state = Reload();
        Assert.Equal(["c"], state.PendingWills.Keys);
        var back = state.PendingWills["c"];
        Messages.AssertClose(publishAt, back.PublishAt);
        Assert.Equal("wills/c", back.Will.Topic);
        Assert.Equal(will.Payload, back.Will.Payload);
        Assert.Equal(QualityOfService.ExactlyOnce, back.Will.QoS);
        Assert.True(back.Will.Retain);
        Messages.AssertSameProperties(properties, back.Will.Properties);
        // Saving the will must not have changed the caller's properties.
        Assert.Equal(30u, properties.WillDelayInterval);
    }

    [Fact]
    public void Message_properties_survive_and_the_expiry_keeps_counting_from_the_original_receipt()
    {
        long receivedAt = Environment.TickCount64 - 10_000;
        var properties = new MqttProperties
        {
            MessageExpiryInterval = 60,
            ContentType = "text/plain; charset=utf-8",
            ResponseTopic = "reply/here",
            CorrelationData = [0, 0, 7, 42],
            PayloadFormatIndicator = 1,
            UserProperties = [new("b", "2"), new("a", "1"), new("b", "2")],
        };
        var message = Messages.Create("p/1", "with properties", properties: properties, publisher: "publisher-1", receivedAt: receivedAt);
        var plain = Messages.Create("p/2", "plain", QualityOfService.AtMostOnce, publisher: null);
        using (var store = Open())
        {
            store.SaveSession(Session("c"));
            store.AddQueued("c", new StoredDelivery(message, QualityOfService.AtLeastOnce, false, null));
            store.AddQueued("c", new StoredDelivery(plain, QualityOfService.AtMostOnce, false, null));
        }

        var queue = Reload().Queues["c"];
        var back = queue[0].Delivery.Message;
        Messages.AssertSame(message, back);
        Assert.NotNull(back.ExpiresAt);
        Messages.AssertClose(message.ExpiresAt!.Value, back.ExpiresAt.Value);
        // At least 10 of its 60 seconds were used before the restart: they stay used (the expiry does not restart at 60).
        long now = Environment.TickCount64;
        uint expected = message.RemainingExpirySeconds(now)!.Value;
        Assert.True(expected <= 50);
        Assert.InRange(back.RemainingExpirySeconds(now) ?? 0, expected - 1, expected + 1);

        Messages.AssertSame(plain, queue[1].Delivery.Message);
        Assert.Null(queue[1].Delivery.Message.ExpiresAt);
        Assert.Null(queue[1].Delivery.Message.PublisherClientId);
    }

    [Fact]
    public void Removing_a_session_with_what_the_broker_names_leaves_nothing_of_it_and_nothing_of_another_is_touched()
    {
        var shared = Messages.Create("t/shared", "shared");
        var will = new WillMessage { Topic = "w", Payload = [1] };
        var own = new Dictionary<string, (Message Queued, Message Inflight)>();
        using (var store = Open())
        {
            foreach (string c in new[] { "gone", "stays" })
            {
                own[c] = (Messages.Create("t/own", c), Messages.Create("t/inflight", c));
                store.SaveSession(Session(c));
                store.AddQueued(c, 1, new StoredDelivery(shared, QualityOfService.AtLeastOnce, false, null));
                store.AddQueued(c, 2, new StoredDelivery(own[c].Queued, QualityOfService.AtLeastOnce, false, null));
                store.AddInflight(c, new StoredInflight(1, 1, new StoredDelivery(own[c].Inflight, QualityOfService.AtLeastOnce, false, null), InflightState.AwaitingPubAck));
                store.SetInboundQoS2(c, 10, true);
                store.SetPendingWill(c, new PendingWill(will, Environment.TickCount64 + 60_000));
            }
            // As the broker ends a session: every record it holds, named, in one change set.
            store.Record(c =>
            {
                c.RemoveQueued("gone", 1);
                c.Release(shared.Id);
                c.RemoveQueued("gone", 2);
                c.Release(own["gone"].Queued.Id);
                c.RemoveInflight("gone", 1);
                c.Release(own["gone"].Inflight.Id);
                c.SetInboundQoS2("gone", 10, false);
                c.SetPendingWill("gone", null);
                c.RemoveSession("gone", 1);
            });
        }

        var state = Reload();
        Assert.Equal(["stays"], state.Sessions.Select(s => s.ClientId));
        Assert.Equal(["stays"], state.Queues.Keys);
        Assert.Equal(["shared", "stays"], state.Queues["stays"].Select(d => d.Delivery.Message.Text()));
        Assert.Equal(["stays"], state.Inflight.Keys);
        Assert.Equal(["stays"], state.Inflight["stays"].Select(f => f.Delivery.Message.Text()));
        Assert.Equal(["stays"], state.InboundQoS2.Keys);
        Assert.Equal(["stays"], state.PendingWills.Keys);

        // Nothing of "gone" is left on disk, under any prefix.
        using var file = RocksDbFile.Open(_dir.Path);
        var gone = Encoding.UTF8.GetBytes("gone");
        foreach (char prefix in "sqirw")
            Assert.DoesNotContain(file.Scan((byte)prefix), kv => kv.Key.AsSpan(1).StartsWith(gone));
        // The bodies left, under their message ids: "shared" (still queued for "stays"), its own queued and inflight messages.
        Assert.Equal(new[] { shared.Id, own["stays"].Queued.Id, own["stays"].Inflight.Id }.Order(),
            file.Scan((byte)'m').Select(kv => StoreKeys.MessageId(kv.Key)).Order());
    }

    [Fact]
    public void Bodies_are_keyed_by_message_id_and_the_highest_id_is_reported()
    {
        var messages = Enumerable.Range(0, 3).Select(i => Messages.Create("t", $"m{i}")).ToList();
        var retained = Messages.Create("r", "retained", retain: true);
        using (var store = Open())
        {
            store.SaveSession(Session("c"));
            for (int i = 0; i < 3; i++) store.AddQueued("c", i + 1, new StoredDelivery(messages[i], QualityOfService.AtLeastOnce, false, null));
            store.SetRetained(retained);
        }

        var state = Reload();
        Assert.Equal(messages.Select(m => m.Id), state.Queues["c"].Select(q => q.Delivery.Message.Id));
        Assert.Equal(retained.Id, Assert.Single(state.Retained).Id);
        Assert.Equal(retained.Id, state.LastMessageId);
        using var file = RocksDbFile.Open(_dir.Path);
        Assert.Equal(messages.Select(m => m.Id).Append(retained.Id), file.Scan((byte)'m').Select(kv => StoreKeys.MessageId(kv.Key)));
    }
}
