using System.Collections.Concurrent;
using Holdfast.Protocol;
using Holdfast.Storage.Memory;

namespace Holdfast.Broker.Tests;

/// <summary>Records log lines so tests can check the broker logged no errors (e.g. "Timer failed").</summary>
public sealed class RecordingLog : IBrokerLog
{
    public ConcurrentQueue<(LogType Type, string Text)> Lines { get; } = new();
    public bool IsEnabled(LogType type) => true;
    public void Write(LogType type, string message) => Lines.Enqueue((type, message));
    public string[] Errors => Lines.Where(l => l.Type == LogType.Error).Select(l => l.Text).ToArray();
}

public class RegressionTests
{
    [Fact]
    public void Inflight_resent_after_reconnect_respects_the_new_maximum_packet_size()
    {
        // [MQTT-3.1.2-24] the server must not send a packet larger than the client's Maximum Packet Size;
        // [MQTT-3.1.2-25] it discards it and behaves as if it had completed sending it.
        var store = new MemoryStore();
        using var broker = TestBroker.New(new BrokerOptions { MaxInflightMessages = 2 }, store: store);
        var sub = broker.ConnectPersistent("sub");
        sub.Subscribe("t");
        var pub = broker.Connect("pub");
        pub.Publish("t", new string('x', 300), packetId: 1);
        pub.Publish("t", "small-1", packetId: 2);
        pub.Publish("t", "small-2", packetId: 3); // queued
        Assert.Equal(2, sub.Publishes.Length);
        sub.Lost();

        var back = broker.Connect("sub", cleanStart: false, sessionExpiry: uint.MaxValue, maximumPacketSize: 64);
        Assert.All(back.Publishes, p => Assert.True(PacketWriter.GetSize(p, ProtocolVersion.V500) <= 64,
            $"sent a {PacketWriter.GetSize(p, ProtocolVersion.V500)}-byte PUBLISH to a client with Maximum Packet Size 64"));
        Assert.Equal(["small-1", "small-2"], back.Publishes.Select(p => p.Text()));
        Assert.Equal(1, broker.Metrics.Dropped(DropCause.PacketTooLarge));
        // The discarded message no longer holds a window slot or a packet id.
        Assert.Equal(2, back.Client.Session.InflightCount);
        Assert.Equal(2, store.InflightCount("sub")); // the durable record forgets it too
        back.AckAllQoS1();
        Assert.Equal(0, back.Client.Session.InflightCount);
        Assert.Equal(0, store.InflightCount("sub"));
    }

    [Fact]
    public void Ack_timeout_still_fires_for_v311_clients_when_the_311_retry_is_on()
    {
        // The retry resends, but the message is still unacknowledged: the stuck subscriber must be detected.
        using var broker = TestBroker.New(new BrokerOptions { RetryIntervalV311 = TimeSpan.FromMilliseconds(100) });
        var policy = new ListenerPolicy { AckTimeout = TimeSpan.FromMilliseconds(400), AckTimeoutDisconnect = true };
        var sub = broker.Connect("sub", ProtocolVersion.V311, cleanStart: false, policy: policy);
        sub.Subscribe("t");
        var pub = broker.Connect("pub");
        pub.Publish("t", "stuck", QualityOfService.AtLeastOnce, 1);
        broker.TickUntil(() => sub.Conn.IsClosed, timeoutMs: 3000, what: "ack-timeout disconnect with the 3.1.1 retry on");
        Assert.True(sub.Publishes.Length >= 2, "the retry should have resent before the timeout");
        Assert.Equal(1, broker.Metrics.AckTimeouts);
    }

    [Fact]
    public void Ack_timeout_counts_once_per_message_when_the_311_retry_is_on()
    {
        using var broker = TestBroker.New(new BrokerOptions { RetryIntervalV311 = TimeSpan.FromMilliseconds(250) });
        var policy = new ListenerPolicy { AckTimeout = TimeSpan.FromMilliseconds(100), AckTimeoutDisconnect = false };
        var sub = broker.Connect("sub", ProtocolVersion.V311, policy: policy);
        sub.Subscribe("t");
        var pub = broker.Connect("pub");
        pub.Publish("t", "stuck", QualityOfService.AtLeastOnce, 1);
        broker.TickUntil(() => sub.Publishes.Length >= 3, what: "two retries");
        broker.TickFor(200);
        Assert.Equal(1, broker.Metrics.AckTimeouts);
    }

    [Fact]
    public void Ack_timeout_disconnect_of_a_clean_session_inside_the_timer_is_safe()
    {
        var log = new RecordingLog();
        using var broker = TestBroker.New(log: log);
        var policy = new ListenerPolicy { AckTimeout = TimeSpan.FromMilliseconds(100), AckTimeoutDisconnect = true };
        var w = broker.Connect("watcher");
        w.Subscribe("will/#", QualityOfService.AtMostOnce);
        var stuck = Enumerable.Range(0, 3).Select(i => broker.Connect("stuck" + i, policy: policy, will: new WillMessage
        {
            Topic = "will/" + i, Payload = "x"u8.ToArray(), QoS = QualityOfService.AtMostOnce,
        })).ToArray();
        foreach (var s in stuck) s.Subscribe("t");
        var pub = broker.Connect("pub");
        pub.Publish("t", "m", QualityOfService.AtLeastOnce, 1);
        broker.TickUntil(() => stuck.All(s => s.Conn.IsClosed), what: "all stuck clients closed");
        Assert.Equal(3, broker.Metrics.AckTimeouts);
        Assert.Equal(3, w.Publishes.Length);
        Assert.Equal(2, broker.SessionCount); // clean sessions ended
        Assert.Empty(log.Errors);
    }

    [Fact]
    public void Resent_qos2_publish_to_sys_topic_does_not_use_up_the_receive_maximum()
    {
        // A QoS 2 PUBLISH resent (DUP) before PUBREL must be answered without counting a second time
        // against the broker's Receive Maximum; that holds for a $SYS topic (acknowledged and dropped for 3.1.1) as for
        // any other.
        using var broker = TestBroker.New(new BrokerOptions { ReceiveMaximum = 2 });
        var pub = broker.Connect("pub", ProtocolVersion.V311);
        pub.Publish("$SYS/x", "a", QualityOfService.ExactlyOnce, 1);
        pub.Publish("$SYS/x", "a", QualityOfService.ExactlyOnce, 1, dup: true);
        pub.Publish("$SYS/x", "a", QualityOfService.ExactlyOnce, 1, dup: true);
        Assert.Equal(3, pub.Conn.SentOf<PubRecPacket>().Length);
        pub.Publish("t", "b", QualityOfService.ExactlyOnce, 2); // 2 ids outstanding: within the quota of 2
        Assert.False(pub.Conn.IsClosed, $"closed with {pub.Conn.CloseReason}");
        pub.PubRel(1);
        pub.PubRel(2);
        Assert.All(pub.Conn.SentOf<PubCompPacket>(), c => Assert.Equal(ReasonCode.Success, c.ReasonCode));
        pub.Publish("t", "c", QualityOfService.ExactlyOnce, 3);
        pub.Publish("t", "d", QualityOfService.ExactlyOnce, 4);
        Assert.False(pub.Conn.IsClosed, $"closed with {pub.Conn.CloseReason}");
    }

    [Fact]
    public async Task Held_back_v311_publish_larger_than_max_queued_bytes_goes_out_when_the_window_opens()
    {
        // Block policy: a 3.1.1 publisher waits while a subscriber cannot take the message. A message alone larger than
        // max_queued_bytes can never be queued, but it can go straight out once the subscriber's window has room.
        using var broker = TestBroker.New(new BrokerOptions { MaxInflightMessages = 1, MaxQueuedMessages = 0, MaxQueuedBytes = 10 });
        var sub = broker.Connect("sub", ProtocolVersion.V311);
        sub.Subscribe("t");
        var pub = broker.Connect("pub", ProtocolVersion.V311);
        pub.Publish("t", "a", packetId: 1);
        var held = pub.PublishAsync("t", new string('x', 20), packetId: 2);
        Assert.False(held.IsCompleted);

        sub.PubAck(sub.Publishes[0].PacketId);
        await held.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.Equal(new string('x', 20), sub.Publishes[^1].Text());
        Assert.Equal(2, pub.Conn.SentOf<PubAckPacket>()[^1].PacketId);
        Assert.Equal(0, broker.Metrics.DroppedTotal);
    }

    [Fact]
    public async Task Held_back_v311_publish_for_an_offline_subscriber_goes_out_when_it_reconnects()
    {
        using var broker = TestBroker.New(new BrokerOptions { MaxQueuedMessages = 0, MaxQueuedBytes = 10, QueueFullPolicy = QueueFullPolicy.Block });
        var sub = broker.ConnectPersistent("sub", ProtocolVersion.V311);
        sub.Subscribe("t");
        sub.Lost();
        var pub = broker.Connect("pub", ProtocolVersion.V311);
        var held = pub.PublishAsync("t", new string('x', 20), packetId: 1);
        Assert.False(held.IsCompleted);

        var back = broker.ConnectPersistent("sub", ProtocolVersion.V311);
        await held.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.Equal(new string('x', 20), Assert.Single(back.Publishes).Text());
    }
}
