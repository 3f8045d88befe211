using Holdfast.Protocol;

namespace Holdfast.Broker.Tests;

/// <summary>What a full queue does, decided by the state of the session it belongs to (queue_full_policy).</summary>
public class QueueFullPolicyTests
{
    private static BrokerOptions Options(QueueFullPolicy policy) =>
        new() { MaxInflightMessages = 2, MaxQueuedMessages = 3, QueueFullPolicy = policy };

    /// <summary>A dead persistent session on f/#, a live subscriber and a publisher: the issue's scenario in the engine.</summary>
    private static (Peer Live, Peer Publisher) DeadSessionAndLiveSubscriber(MqttBroker broker, ProtocolVersion version, WillMessage? will = null)
    {
        var dead = broker.Connect("dead1", version, cleanStart: false, sessionExpiry: version == ProtocolVersion.V500 ? uint.MaxValue : null, will: will);
        dead.Subscribe("f/#");
        dead.Lost();
        var live = broker.Connect("live", version);
        live.Subscribe("f/#");
        return (live, broker.Connect("pub", version));
    }

    [Theory]
    [InlineData(ProtocolVersion.V500)]
    [InlineData(ProtocolVersion.V311)]
    public void End_session_ends_a_full_offline_session_and_never_holds_the_publisher(ProtocolVersion version)
    {
        var log = new RecordingLog();
        using var broker = TestBroker.New(Options(QueueFullPolicy.EndSession), log);
        var will = new WillMessage { Topic = "wills/dead1", Payload = "gone"u8.ToArray(), QoS = QualityOfService.AtLeastOnce };
        var watcher = broker.Connect("watcher");
        watcher.Subscribe("wills/#");
        var (live, pub) = DeadSessionAndLiveSubscriber(broker, version, will);

        for (int i = 1; i <= 10; i++)
        {
            pub.Publish("f/x", $"m{i}", packetId: (ushort)i);
            live.AckAllQoS1();
        }

        // Every publish acknowledged at once, and the live subscriber got every message in order.
        Assert.Equal(10, pub.Conn.SentOf<PubAckPacket>().Count(a => a.ReasonCode == ReasonCode.Success));
        Assert.Equal(Enumerable.Range(1, 10).Select(i => $"m{i}"), live.Publishes.Select(p => p.Text()));
        // The fourth message found dead1's queue full (3): the session ended with its 3 messages, counted and named.
        Assert.Equal(1, broker.Metrics.SessionsEndedQueueFull);
        Assert.Equal(3, broker.Metrics.Dropped(DropCause.SessionEndedQueueFull));
        Assert.Contains(log.Lines, l => l.Type == LogType.Warning && l.Text.StartsWith("Ending the session of dead1: its queue is full (offline for ", StringComparison.Ordinal)
            && l.Text.Contains("3 queued", StringComparison.Ordinal));
        Assert.Equal(["gone"], watcher.Publishes.Select(p => p.Text()));

        // The client learns it on return: no session present, nothing from before.
        var back = broker.Connect("dead1", version, cleanStart: false, sessionExpiry: version == ProtocolVersion.V500 ? uint.MaxValue : null);
        Assert.False(back.ConnAck.SessionPresent);
        Assert.Empty(back.Publishes);
    }

    [Fact]
    public void End_session_holds_back_publishers_of_a_connected_subscriber_that_is_slow()
    {
        var log = new RecordingLog();
        using var broker = TestBroker.New(Options(QueueFullPolicy.EndSession), log);
        var slow = broker.Connect("slow");
        slow.Subscribe("t");
        var pub = broker.Connect("pub");
        for (int i = 1; i <= 6; i++) pub.Publish("t", $"m{i}", packetId: (ushort)i);

        // 2 inflight + 3 queued; the sixth is refused with 0x97 and the line names the full session.
        Assert.Equal(ReasonCode.QuotaExceeded, pub.Conn.SentOf<PubAckPacket>().Single(a => a.PacketId == 6).ReasonCode);
        Assert.Contains(log.Lines, l => l.Text.Contains("the queue of client slow is full (connected, 3 queued, 6 B, 2 inflight)", StringComparison.Ordinal));
        Assert.Equal(0, broker.Metrics.SessionsEndedQueueFull);
        Assert.True(slow.Client.Session.IsConnected);
    }

    [Theory]
    [InlineData(ProtocolVersion.V500)]
    [InlineData(ProtocolVersion.V311)]
    public void Block_holds_publishers_back_for_an_offline_session_too(ProtocolVersion version)
    {
        using var broker = TestBroker.New(Options(QueueFullPolicy.Block));
        var (live, pub) = DeadSessionAndLiveSubscriber(broker, version);
        for (int i = 1; i <= 3; i++)
        {
            pub.Publish("f/x", $"m{i}", packetId: (ushort)i);
            live.AckAllQoS1();
        }
        var fourth = pub.PublishAsync("f/x", "m4", packetId: 4);

        if (version == ProtocolVersion.V500)
            Assert.Equal(ReasonCode.QuotaExceeded, pub.Conn.SentOf<PubAckPacket>().Single(a => a.PacketId == 4).ReasonCode);
        else
            Assert.False(fourth.IsCompleted);
        // Delivered everywhere or nowhere: the live subscriber waits too.
        Assert.Equal(["m1", "m2", "m3"], live.Publishes.Select(p => p.Text()));
        Assert.Equal(0, broker.Metrics.DroppedTotal);
    }

    [Theory]
    [InlineData(QueueFullPolicy.DropNew, new[] { "m1", "m2", "m3" }, ProtocolVersion.V500)]
    [InlineData(QueueFullPolicy.DropOldest, new[] { "m3", "m4", "m5" }, ProtocolVersion.V500)]
    [InlineData(QueueFullPolicy.DropNew, new[] { "m1", "m2", "m3" }, ProtocolVersion.V311)]
    [InlineData(QueueFullPolicy.DropOldest, new[] { "m3", "m4", "m5" }, ProtocolVersion.V311)]
    public void Drop_policies_drop_for_the_full_session_only_counted_per_client(QueueFullPolicy policy, string[] kept, ProtocolVersion version)
    {
        using var broker = TestBroker.New(Options(policy));
        var (live, pub) = DeadSessionAndLiveSubscriber(broker, version);
        for (int i = 1; i <= 5; i++)
        {
            pub.Publish("f/x", $"m{i}", packetId: (ushort)i);
            live.AckAllQoS1();
        }

        Assert.Equal(5, live.Publishes.Length);
        Assert.Equal(2, broker.Metrics.Dropped(DropCause.QueueFull));
        var back = broker.Connect("dead1", version, cleanStart: false, sessionExpiry: version == ProtocolVersion.V500 ? uint.MaxValue : null);
        Assert.True(back.ConnAck.SessionPresent);
        Assert.Equal(2, back.Client.Session.Dropped(DropCause.QueueFull));
        back.AckAllQoS1();
        Assert.Equal(kept, back.Publishes.Select(p => p.Text()));
    }

    [Fact]
    public void The_total_queue_quota_counts_as_a_full_queue()
    {
        using var broker = TestBroker.New(new BrokerOptions { MaxQueuedMessages = 0, MaxQueuedBytesTotal = 5 });
        var (live, pub) = DeadSessionAndLiveSubscriber(broker, ProtocolVersion.V500);
        for (int i = 1; i <= 3; i++)
        {
            pub.Publish("f/x", $"m{i}", packetId: (ushort)i);
            live.AckAllQoS1();
        }

        // Two 2-byte messages fit in 5 bytes, the third does not: dead1 is ended (end_session), the publisher is not held.
        Assert.Equal(3, pub.Conn.SentOf<PubAckPacket>().Count(a => a.ReasonCode == ReasonCode.Success));
        Assert.Equal(1, broker.Metrics.SessionsEndedQueueFull);
        Assert.Equal(0, broker.Status().QueuedMessages);
    }
}
