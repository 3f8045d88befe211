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
            store.SaveSession(new StoredSession("anonymous", ProtocolVersion.V311, uint.MaxValue, [], ListenerName: "8883"));
        }

        var state = Reload();
        Assert.Equal(("1883", "alice"), state.Sessions.Where(s => s.ClientId == "alice").Select(s => (s.ListenerName, s.UserName)).Single());
        Assert.Equal(("8883", null), state.Sessions.Where(s => s.ClientId == "anonymous").Select(s => (s.ListenerName, s.UserName)).Single());
    }

    [Fact]
    public void A_session_record_written_before_identities_were_kept_still_reads_with_no_identity()
    {
        // The first format, byte for byte: version, expiry, offline since (long.MinValue = connected), one subscription
        // ('a/#', QoS 1, no local 0, retain as published 1, retain handling 0, no subscription id, no share group, 'a/#').
        byte[] filter = "a/#"u8.ToArray();
        byte[] record =
        [
            (byte)ProtocolVersion.V500, 0, 0, 0x0e, 0x10, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1,
            0, 0, 0, 3, .. filter, 1, 0, 1, 0, 0, 0, 0, 0, 0, 3, .. filter,
        ];
        using (var file = RocksDbFile.Open(_dir.Path))
            file.Write([new StoreOp(StoreKeys.ForName(StoreKeys.Session, "old"), record)], sync: true);

        var old = Assert.Single(Reload().Sessions);
        Assert.Equal(("old", ProtocolVersion.V500, 3600u, null), (old.ClientId, old.Version, old.ExpiryInterval, old.DisconnectedAt));
        Assert.Equal(new Subscription("a/#", QualityOfService.AtLeastOnce, false, true, RetainHandling.SendAtSubscribe, null), Assert.Single(old.Subscriptions));
        Assert.Null(old.ListenerName);
        Assert.Null(old.UserName);
    }

    [Fact]
    public void Queued_deliveries_come_back_in_order_with_qos_retain_and_subscription_ids()
    {
        var messages = Enumerable.Range(0, 20).Select(i => Messages.Create($"t/{i}", $"m{i}", (QualityOfService)(i % 3))).ToList();
        using (var store = Open())
        {
            store.SaveSession(Session("c"));
            for (int i = 0; i < messages.Count; i++)
                store.AddQueued("c", new StoredDelivery(messages[i], (QualityOfService)(i % 3), Retain: i % 2 == 0, i % 4 == 0 ? null : [(uint)i, 1000u + (uint)i]));
            // The oldest three left the queue.
            for (int i = 0; i < 3; i++) store.RemoveOldestQueued("c");
        }

        var queue = Reload().Queues["c"];
        Assert.Equal(17, queue.Count);
        for (int n = 0; n < queue.Count; n++)
        {
            int i = n + 3;
            var d = queue[n];
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
            store.SaveInflight("c", new StoredInflight(300, new StoredDelivery(m1, QualityOfService.ExactlyOnce, false, [5]), InflightState.AwaitingPubRec));
            store.SaveInflight("c", new StoredInflight(2, new StoredDelivery(m2, QualityOfService.AtLeastOnce, true, null), InflightState.AwaitingPubAck));
            store.SaveInflight("c", new StoredInflight(65535, new StoredDelivery(m3, QualityOfService.ExactlyOnce, false, null), InflightState.AwaitingPubRec));
            // PUBREC arrived for the first: a state change must not move it to the back.
            store.SaveInflight("c", new StoredInflight(300, new StoredDelivery(m1, QualityOfService.ExactlyOnce, false, [5]), InflightState.AwaitingPubComp));
        }

        var flows = Reload().Inflight["c"];
        Assert.Equal([(ushort)300, (ushort)2, (ushort)65535], flows.Select(f => f.PacketId));
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
            store.SaveInflight("a", new StoredInflight(9, new StoredDelivery(Messages.Create("t", "a1"), QualityOfService.AtLeastOnce, false, null), InflightState.AwaitingPubAck));
            store.SaveInflight("b", new StoredInflight(1, new StoredDelivery(Messages.Create("t", "b1"), QualityOfService.AtLeastOnce, false, null), InflightState.AwaitingPubAck));
            store.SaveInflight("a", new StoredInflight(1, new StoredDelivery(Messages.Create("t", "a2"), QualityOfService.AtLeastOnce, false, null), InflightState.AwaitingPubAck));
        }
        using (var store = Open())
        {
            store.Load();
            // Sent after the restart: it must come after every flow sent before it.
            store.SaveInflight("a", new StoredInflight(5, new StoredDelivery(Messages.Create("t", "a3"), QualityOfService.AtLeastOnce, false, null), InflightState.AwaitingPubAck));
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
        var back = queue[0].Message;
        Messages.AssertSame(message, back);
        Assert.NotNull(back.ExpiresAt);
        Messages.AssertClose(message.ExpiresAt!.Value, back.ExpiresAt.Value);
        // At least 10 of its 60 seconds were used before the restart: they stay used (the expiry does not restart at 60).
        long now = Environment.TickCount64;
        uint expected = message.RemainingExpirySeconds(now)!.Value;
        Assert.True(expected <= 50);
        Assert.InRange(back.RemainingExpirySeconds(now) ?? 0, expected - 1, expected + 1);

        Messages.AssertSame(plain, queue[1].Message);
        Assert.Null(queue[1].Message.ExpiresAt);
        Assert.Null(queue[1].Message.PublisherClientId);
    }

    [Fact]
    public void Removing_a_session_removes_everything_it_held_and_nothing_of_another()
    {
        var shared = Messages.Create("t/shared", "shared");
        var will = new WillMessage { Topic = "w", Payload = [1] };
        using (var store = Open())
        {
            foreach (string c in new[] { "gone", "stays" })
            {
                store.SaveSession(Session(c));
                store.AddQueued(c, new StoredDelivery(shared, QualityOfService.AtLeastOnce, false, null));
                store.AddQueued(c, new StoredDelivery(Messages.Create("t/own", c), QualityOfService.AtLeastOnce, false, null));
                store.SaveInflight(c, new StoredInflight(1, new StoredDelivery(Messages.Create("t/inflight", c), QualityOfService.AtLeastOnce, false, null), InflightState.AwaitingPubAck));
                store.SetInboundQoS2(c, 10, true);
                store.SetPendingWill(c, new PendingWill(will, Environment.TickCount64 + 60_000));
            }
            store.RemoveSession("gone");
        }

        var state = Reload();
        Assert.Equal(["stays"], state.Sessions.Select(s => s.ClientId));
        Assert.Equal(["stays"], state.Queues.Keys);
        Assert.Equal(["shared", "stays"], state.Queues["stays"].Select(d => d.Message.Text()));
        Assert.Equal(["stays"], state.Inflight.Keys);
        Assert.Equal(["stays"], state.Inflight["stays"].Select(f => f.Delivery.Message.Text()));
        Assert.Equal(["stays"], state.InboundQoS2.Keys);
        Assert.Equal(["stays"], state.PendingWills.Keys);

        // Nothing of "gone" is left on disk, under any prefix.
        using var file = RocksDbFile.Open(_dir.Path);
        var gone = Encoding.UTF8.GetBytes("gone");
        foreach (char prefix in "sqirw")
            Assert.DoesNotContain(file.Scan((byte)prefix), kv => kv.Key.AsSpan(1).StartsWith(gone));
        // The bodies left: "shared" (still queued for "stays"), its own queued message and its inflight message.
        Assert.Equal(3, file.Scan((byte)'m').Count());
    }

    [Fact]
    public void A_reopened_store_goes_on_numbering_after_what_it_loaded()
    {
        using (var store = Open())
        {
            store.SaveSession(Session("c"));
            for (int i = 0; i < 3; i++) store.AddQueued("c", new StoredDelivery(Messages.Create("t", $"first-{i}"), QualityOfService.AtLeastOnce, false, null));
            store.SetRetained(Messages.Create("r", "retained", retain: true));
        }
        using (var store = Open())
        {
            var state = store.Load();
            Assert.Equal(3, state.Queues["c"].Count);
            // New messages must get new body keys and queue positions, not overwrite the loaded ones.
            for (int i = 0; i < 3; i++) store.AddQueued("c", new StoredDelivery(Messages.Create("t", $"second-{i}"), QualityOfService.AtLeastOnce, false, null));
            store.RemoveOldestQueued("c");
        }

        var after = Reload();
        Assert.Equal(["first-1", "first-2", "second-0", "second-1", "second-2"], after.Queues["c"].Select(d => d.Message.Text()));
        Assert.Equal("retained", Assert.Single(after.Retained).Text());
    }
}
