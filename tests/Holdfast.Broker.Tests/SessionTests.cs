using System.Diagnostics;
using Holdfast.Protocol;

namespace Holdfast.Broker.Tests;

public class WillTests
{
    private static WillMessage Will(string payload = "gone", uint? delay = null, bool retain = false) => new()
    {
        Topic = "will/t",
        Payload = System.Text.Encoding.UTF8.GetBytes(payload),
        QoS = QualityOfService.AtLeastOnce,
        Retain = retain,
        Properties = delay is null ? null : new MqttProperties { WillDelayInterval = delay },
    };

    private static Peer Watcher(MqttBroker broker)
    {
        var w = broker.Connect("watcher");
        w.Subscribe("will/#");
        return w;
    }

    [Theory]
    [InlineData(ProtocolVersion.V500)]
    [InlineData(ProtocolVersion.V311)]
    public void Will_is_published_when_the_connection_is_lost(ProtocolVersion version)
    {
        using var broker = TestBroker.New();
        var w = Watcher(broker);
        var c = broker.Connect("c", version, will: Will());
        Assert.Empty(w.Publishes);
        c.Lost();
        var p = Assert.Single(w.Publishes);
        Assert.Equal(("will/t", "gone", QualityOfService.AtLeastOnce), (p.Topic, p.Text(), p.QoS));
        // Idempotent: a second report of the same connection publishes nothing more.
        c.Lost();
        Assert.Single(w.Publishes);
    }

    [Theory]
    [InlineData(ProtocolVersion.V500)]
    [InlineData(ProtocolVersion.V311)]
    public void Will_is_suppressed_by_a_normal_disconnect(ProtocolVersion version)
    {
        using var broker = TestBroker.New();
        var w = Watcher(broker);
        var c = broker.Connect("c", version, will: Will());
        c.Disconnect();
        Assert.True(c.Conn.IsClosed);
        c.Lost(); // the server reports the socket closing afterwards
        Assert.Empty(w.Publishes);
    }

    [Fact]
    public void Will_is_published_on_disconnect_with_will_message()
    {
        using var broker = TestBroker.New();
        var w = Watcher(broker);
        var c = broker.Connect("c", will: Will());
        c.Disconnect(ReasonCode.DisconnectWithWillMessage);
        Assert.Equal(["gone"], w.Publishes.Select(p => p.Text()));
    }

    [Fact]
    public void Will_is_published_on_keep_alive_expiry_and_broker_disconnect()
    {
        using var broker = TestBroker.New();
        var w = Watcher(broker);
        var c = broker.Connect("c", will: Will("ka"));
        broker.KeepAliveExpired(c.Client);
        Assert.Equal(ReasonCode.KeepAliveTimeout, c.Conn.CloseReason);
        var d = broker.Connect("d", will: Will("proto"));
        broker.Disconnect(d.Client, ReasonCode.ProtocolError, "test");
        Assert.Equal(["ka", "proto"], w.Publishes.Select(p => p.Text()));
    }

    [Fact]
    public void Retained_will_is_stored()
    {
        using var broker = TestBroker.New();
        var c = broker.Connect("c", will: Will("last", retain: true));
        c.Lost();
        var late = broker.Connect("late");
        late.Subscribe("will/t");
        var p = Assert.Single(late.Publishes);
        Assert.Equal(("last", true), (p.Text(), p.Retain));
    }

    [Fact]
    public void Will_delay_is_honoured()
    {
        using var broker = TestBroker.New();
        var w = Watcher(broker);
        var c = broker.Connect("c", sessionExpiry: 60, will: Will(delay: 1));
        c.Lost();
        broker.TickFor(900);
        Assert.Empty(w.Publishes);
        long waited = 900 + broker.TickUntil(() => w.Publishes.Length > 0, what: "delayed will");
        Assert.InRange(waited, 1000, 1100);
        var p = Assert.Single(w.Publishes);
        Assert.Equal("gone", p.Text());
        // The Will Delay Interval is not forwarded to subscribers.
        Assert.Null(p.Properties?.WillDelayInterval);
    }

    [Fact]
    public void Will_delay_is_cancelled_by_reconnect()
    {
        using var broker = TestBroker.New();
        var w = Watcher(broker);
        var c = broker.Connect("c", sessionExpiry: 60, will: Will(delay: 1));
        c.Lost();
        var back = broker.Connect("c", cleanStart: false, sessionExpiry: 60);
        Assert.True(back.ConnAck.SessionPresent);
        broker.TickFor(1300);
        Assert.Empty(w.Publishes);
    }

    [Fact]
    public void Will_delay_longer_than_session_expiry_fires_at_session_end()
    {
        using var broker = TestBroker.New();
        var w = Watcher(broker);
        // Session expiry 0: the session ends at once, and the will goes with it.
        var c = broker.Connect("c", sessionExpiry: 0, will: Will(delay: 30));
        c.Lost();
        Assert.Single(w.Publishes);
    }

    [Fact]
    public void Will_is_published_on_takeover()
    {
        using var broker = TestBroker.New();
        var w = Watcher(broker);
        var old = broker.Connect("c", will: Will("old"));
        var fresh = broker.Connect("c");
        Assert.Equal(ReasonCode.SessionTakenOver, old.Conn.CloseReason);
        Assert.Equal(["old"], w.Publishes.Select(p => p.Text()));
        Assert.False(fresh.Conn.IsClosed);
    }

    [Fact]
    public void Delayed_will_is_not_published_on_takeover_that_resumes_the_session()
    {
        using var broker = TestBroker.New();
        var w = Watcher(broker);
        broker.Connect("c", sessionExpiry: 60, will: Will("old", delay: 5));
        var fresh = broker.Connect("c", cleanStart: false, sessionExpiry: 60);
        Assert.True(fresh.ConnAck.SessionPresent);
        broker.TickFor(100);
        Assert.Empty(w.Publishes);
    }
}

public class SessionTests
{
    [Fact]
    public void V5_session_expiry_0_ends_the_session_at_disconnect()
    {
        using var broker = TestBroker.New();
        var c = broker.Connect("c", cleanStart: false, sessionExpiry: 0);
        c.Subscribe("t");
        c.Lost();
        Assert.Equal(0, broker.SessionCount);
        Assert.Equal(0, broker.SubscriptionCount);
        var back = broker.Connect("c", cleanStart: false);
        Assert.False(back.ConnAck.SessionPresent);
    }

    [Fact]
    public void V5_session_expiry_N_ends_the_session_after_N_seconds()
    {
        using var broker = TestBroker.New();
        var c = broker.Connect("c", cleanStart: false, sessionExpiry: 1);
        c.Subscribe("t");
        var pub = broker.Connect("pub");
        c.Lost();
        pub.Publish("t", "held", QualityOfService.AtLeastOnce, 1);
        broker.TickFor(900);
        Assert.Equal(2, broker.SessionCount);
        long waited = 900 + broker.TickUntil(() => broker.SessionCount == 1, what: "session expiry");
        Assert.InRange(waited, 1000, 1100);
        Assert.Equal(0, broker.SubscriptionCount);
        Assert.Equal(1, broker.Metrics.Dropped(DropCause.SessionExpired));
        var back = broker.Connect("c", cleanStart: false);
        Assert.False(back.ConnAck.SessionPresent);
        Assert.Empty(back.Publishes);
    }

    [Fact]
    public void Session_within_its_expiry_is_resumed_with_subscriptions()
    {
        using var broker = TestBroker.New();
        var c = broker.Connect("c", cleanStart: false, sessionExpiry: 60);
        c.Subscribe("t");
        c.Lost();
        var pub = broker.Connect("pub");
        pub.Publish("t", "while-away", QualityOfService.AtLeastOnce, 1);
        broker.TickFor(100);
        var back = broker.Connect("c", cleanStart: false, sessionExpiry: 60);
        Assert.True(back.ConnAck.SessionPresent);
        Assert.Equal(["while-away"], back.Publishes.Select(p => p.Text()));
    }

    [Fact]
    public void Clean_start_discards_the_old_session()
    {
        using var broker = TestBroker.New();
        var c = broker.ConnectPersistent("c");
        c.Subscribe("t");
        c.Lost();
        var pub = broker.Connect("pub");
        pub.Publish("t", "x", QualityOfService.AtLeastOnce, 1);
        var back = broker.Connect("c", cleanStart: true);
        Assert.False(back.ConnAck.SessionPresent);
        Assert.Empty(back.Publishes);
        Assert.Equal(0, broker.SubscriptionCount);
        Assert.Equal(1, broker.Metrics.Dropped(DropCause.SessionExpired));
    }

    [Fact]
    public void Disconnect_raising_expiry_from_0_is_a_protocol_error()
    {
        using var broker = TestBroker.New();
        var c = broker.Connect("c", sessionExpiry: 0);
        c.Disconnect(properties: new MqttProperties { SessionExpiryInterval = 30 });
        Assert.Equal(ReasonCode.ProtocolError, c.Conn.CloseReason);
        Assert.Equal(0, broker.SessionCount);
    }

    [Fact]
    public void Disconnect_may_change_a_non_zero_expiry()
    {
        using var broker = TestBroker.New();
        var c = broker.Connect("c", cleanStart: false, sessionExpiry: 3600);
        c.Disconnect(properties: new MqttProperties { SessionExpiryInterval = 0 });
        Assert.Null(c.Conn.CloseReason);
        Assert.Equal(0, broker.SessionCount); // expiry 0 now: ended at disconnect

        var d = broker.Connect("d", cleanStart: false, sessionExpiry: 10);
        d.Disconnect(properties: new MqttProperties { SessionExpiryInterval = 1 });
        Assert.Equal(1, broker.SessionCount);
        broker.TickUntil(() => broker.SessionCount == 0, what: "lowered expiry");
    }

    [Fact]
    public void V311_clean_session_0_never_expires_by_default()
    {
        using var broker = TestBroker.New();
        var c = broker.Connect("c", ProtocolVersion.V311, cleanStart: false);
        c.Lost();
        broker.TickFor(300);
        Assert.Equal(1, broker.SessionCount);
        var back = broker.Connect("c", ProtocolVersion.V311, cleanStart: false);
        Assert.True(back.ConnAck.SessionPresent);
    }

    [Fact]
    public void V311_clean_session_1_ends_at_disconnect()
    {
        using var broker = TestBroker.New();
        var c = broker.Connect("c", ProtocolVersion.V311, cleanStart: true);
        c.Lost();
        Assert.Equal(0, broker.SessionCount);
    }

    [Fact]
    public void Persistent_client_expiration_removes_v311_sessions()
    {
        using var broker = TestBroker.New(new BrokerOptions { PersistentClientExpiration = TimeSpan.FromSeconds(1) });
        var c = broker.Connect("c", ProtocolVersion.V311, cleanStart: false);
        c.Subscribe("t");
        var connected = broker.Connect("still-here", ProtocolVersion.V311, cleanStart: false);
        c.Lost();
        broker.TickFor(900);
        Assert.Equal(2, broker.SessionCount);
        long waited = 900 + broker.TickUntil(() => broker.SessionCount == 1, what: "persistent_client_expiration");
        Assert.InRange(waited, 1000, 1100);
        Assert.Equal(0, broker.SubscriptionCount);
        // A connected session is never expired.
        Assert.False(connected.Conn.IsClosed);
        var back = broker.Connect("c", ProtocolVersion.V311, cleanStart: false);
        Assert.False(back.ConnAck.SessionPresent);
    }

    [Fact]
    public void Takeover_closes_the_old_connection_and_session_present_with_clean_start_off()
    {
        using var broker = TestBroker.New();
        var old = broker.ConnectPersistent("c");
        old.Subscribe("t");
        var pub = broker.Connect("pub");
        pub.Publish("t", "unacked", QualityOfService.AtLeastOnce, 1);

        var fresh = broker.ConnectPersistent("c");
        Assert.Equal(ReasonCode.SessionTakenOver, old.Conn.CloseReason);
        Assert.True(fresh.ConnAck.SessionPresent);
        Assert.Equal(ReasonCode.Success, fresh.ConnAck.ReasonCode);
        // The inflight message moves to the new connection.
        var p = Assert.Single(fresh.Publishes);
        Assert.Equal(("unacked", true, old.Publishes[0].PacketId), (p.Text(), p.Dup, p.PacketId));
        Assert.Equal(2, broker.SessionCount);
        Assert.Equal(2, broker.ConnectedCount);

        // The old connection's late packets are ignored.
        pub.Publish("t", "next", QualityOfService.AtLeastOnce, 2);
        broker.HandleSubscribe(old.Client, new SubscribePacket { PacketId = 5, Subscriptions = [new TopicSubscription { TopicFilter = "x" }] });
        Assert.DoesNotContain(old.Conn.SentOf<SubAckPacket>(), a => a.PacketId == 5);
        old.Lost();
        Assert.Equal(2, broker.ConnectedCount);
    }

    [Fact]
    public void Takeover_v311_session_present()
    {
        using var broker = TestBroker.New();
        var old = broker.Connect("c", ProtocolVersion.V311, cleanStart: false);
        var fresh = broker.Connect("c", ProtocolVersion.V311, cleanStart: false);
        // MQTT 3.1.1 has no DISCONNECT from the server: the old connection just closes.
        Assert.True(old.Conn.IsClosed);
        Assert.Null(old.Conn.CloseReason);
        Assert.Empty(old.Conn.SentOf<DisconnectPacket>());
        Assert.True(fresh.ConnAck.SessionPresent);
    }

    [Fact]
    public void Takeover_with_clean_start_gives_a_fresh_session()
    {
        using var broker = TestBroker.New();
        var old = broker.ConnectPersistent("c");
        old.Subscribe("t");
        var fresh = broker.Connect("c", cleanStart: true);
        Assert.Equal(ReasonCode.SessionTakenOver, old.Conn.CloseReason);
        Assert.False(fresh.ConnAck.SessionPresent);
        Assert.Equal(0, broker.SubscriptionCount);
    }
}

public class ConnectTests
{
    [Fact]
    public void V5_empty_client_id_gets_an_assigned_identifier()
    {
        using var broker = TestBroker.New();
        var a = broker.Connect("");
        var b = broker.Connect("");
        var idA = a.ConnAck.Properties?.AssignedClientIdentifier;
        var idB = b.ConnAck.Properties?.AssignedClientIdentifier;
        Assert.False(string.IsNullOrEmpty(idA));
        Assert.False(string.IsNullOrEmpty(idB));
        Assert.NotEqual(idA, idB);
        Assert.Matches("^auto-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", idA);
        Assert.Equal(idA, a.Client.ClientId);
        Assert.Equal(ReasonCode.Success, a.ConnAck.ReasonCode);
        Assert.False(a.Conn.IsClosed);
        Assert.Equal(2, broker.ConnectedCount);
    }

    [Fact]
    public void V5_non_empty_client_id_gets_no_assigned_identifier()
    {
        using var broker = TestBroker.New();
        Assert.Null(broker.Connect("named").ConnAck.Properties?.AssignedClientIdentifier);
    }

    [Fact]
    public void V311_empty_client_id_with_clean_session_0_is_refused()
    {
        using var broker = TestBroker.New();
        var c = broker.Connect("", ProtocolVersion.V311, cleanStart: false);
        Assert.Null(c.ClientOrNull);
        Assert.Equal(ReasonCode.ClientIdentifierNotValid, c.ConnAck.ReasonCode);
        Assert.True(c.Conn.IsClosed);
        Assert.Equal(0, broker.SessionCount);
    }

    [Fact]
    public void V311_empty_client_id_with_clean_session_1_is_accepted()
    {
        using var broker = TestBroker.New();
        var c = broker.Connect("", ProtocolVersion.V311, cleanStart: true);
        Assert.NotNull(c.ClientOrNull);
        Assert.Equal(ReasonCode.Success, c.ConnAck.ReasonCode);
        Assert.Null(c.ConnAck.Properties);
    }

    [Fact]
    public void Empty_client_id_refused_when_zero_length_ids_are_not_allowed()
    {
        using var broker = TestBroker.New(new BrokerOptions { AllowZeroLengthClientId = false });
        var c = broker.Connect("");
        Assert.Null(c.ClientOrNull);
        Assert.Equal(ReasonCode.ClientIdentifierNotValid, c.ConnAck.ReasonCode);
    }

    [Theory]
    [InlineData(ProtocolVersion.V500)]
    [InlineData(ProtocolVersion.V311)]
    public void Allow_anonymous_false_refuses_with_not_authorized(ProtocolVersion version)
    {
        using var broker = TestBroker.New();
        var c = broker.Connect("c", version, policy: new ListenerPolicy { AllowAnonymous = false });
        Assert.Null(c.ClientOrNull);
        Assert.Equal(ReasonCode.NotAuthorized, c.ConnAck.ReasonCode);
        Assert.False(c.ConnAck.SessionPresent);
        Assert.True(c.Conn.IsClosed);
        Assert.Equal(0, broker.SessionCount);
    }

    [Fact]
    public void Refused_connect_does_not_take_over_an_existing_session()
    {
        using var broker = TestBroker.New();
        var existing = broker.Connect("c");
        var refused = broker.Connect("c", policy: new ListenerPolicy { AllowAnonymous = false });
        Assert.Null(refused.ClientOrNull);
        Assert.False(existing.Conn.IsClosed);
        Assert.Equal(1, broker.ConnectedCount);
    }

    [Fact]
    public void Max_keepalive_is_imposed_on_v5_via_server_keep_alive()
    {
        using var broker = TestBroker.New(new BrokerOptions { MaxKeepAlive = 30 });
        var conn = new FakeConnection();
        var client = broker.HandleConnect(conn, new ConnectPacket { ProtocolVersion = ProtocolVersion.V500, ClientId = "c", KeepAlive = 120 }, ListenerPolicy.Default);
        Assert.NotNull(client);
        Assert.Equal(30, client.KeepAlive);
        Assert.Equal((ushort)30, conn.SentOf<ConnAckPacket>().Single().Properties!.ServerKeepAlive);
    }

    [Fact]
    public void Connack_advertises_receive_maximum_and_topic_alias_maximum()
    {
        using var broker = TestBroker.New(new BrokerOptions { ReceiveMaximum = 7, TopicAliasMaximum = 4 });
        var p = broker.Connect("c").ConnAck.Properties!;
        Assert.Equal((ushort)7, p.ReceiveMaximum);
        Assert.Equal((ushort)4, p.TopicAliasMaximum);
    }

    /// <summary>Without receive_maximum the Receive Maximum is max_inflight_messages, as in Mosquitto (20 by default);
    /// max_inflight_messages 0 means no limit, 65535, which goes without saying.</summary>
    [Theory]
    [InlineData(20, null, (ushort)20)]
    [InlineData(5, null, (ushort)5)]
    [InlineData(0, null, null)]
    [InlineData(5, (ushort)100, (ushort)100)]
    public void Receive_maximum_follows_max_inflight_messages_unless_set(int maxInflight, ushort? receiveMaximum, ushort? advertised)
    {
        using var broker = TestBroker.New(new BrokerOptions { MaxInflightMessages = maxInflight, ReceiveMaximum = receiveMaximum });
        Assert.Equal(advertised, broker.Connect("c").ConnAck.Properties!.ReceiveMaximum);
    }

    /// <summary>A client whose Maximum Packet Size is smaller than the CONNACK gets none: its connection closes and no
    /// session is made (Mosquitto's 12-prop-maximum-packet-size-connect).</summary>
    [Fact]
    public void A_connack_larger_than_the_clients_maximum_packet_size_is_not_sent()
    {
        using var broker = TestBroker.New(new BrokerOptions { MaxInflightMessages = 20 });
        var tiny = broker.Connect("tiny", maximumPacketSize: 2);
        Assert.Null(tiny.ClientOrNull);
        Assert.Empty(tiny.Conn.SentOf<ConnAckPacket>());
        Assert.Single(tiny.Conn.Closes);
        Assert.Equal(0, broker.Status().ClientsTotal);
        // 11 bytes is this CONNACK's size: it fits.
        Assert.NotNull(broker.Connect("fits", maximumPacketSize: 11).ClientOrNull);
    }

    /// <summary>MQTT 3.1's CONNACK has no session present flag (the byte is reserved); 3.1.1 and 5 report the session.</summary>
    [Theory]
    [InlineData(ProtocolVersion.V310, false)]
    [InlineData(ProtocolVersion.V311, true)]
    [InlineData(ProtocolVersion.V500, true)]
    public void Session_present_is_never_set_for_mqtt_3_1(ProtocolVersion version, bool reported)
    {
        using var broker = TestBroker.New();
        broker.ConnectPersistent("c", version).Lost();
        Assert.Equal(reported, broker.ConnectPersistent("c", version).ConnAck.SessionPresent);
    }

    /// <summary>The CONNACK of Mosquitto's own tests, byte for byte: Topic Alias Maximum 10, then Receive Maximum 20.</summary>
    [Fact]
    public void A_default_connack_is_the_bytes_mosquitto_sends()
    {
        using var broker = TestBroker.New(new BrokerOptions { MaxInflightMessages = 20 });
        var connAck = broker.Connect("c").ConnAck;
        var buffer = new System.Buffers.ArrayBufferWriter<byte>();
        PacketWriter.Write(connAck, ProtocolVersion.V500, buffer);
        Assert.Equal(Convert.FromHexString("200900000622000A210014"), buffer.WrittenSpan.ToArray());
    }
}
