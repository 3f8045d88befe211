using System.Diagnostics;
using Holdfast.Protocol;

namespace Holdfast.Broker.Tests;

public class AckTimeoutTests
{
    [Fact]
    public void Ack_timeout_with_disconnect_closes_the_stuck_client_and_redelivery_follows()
    {
        using var broker = TestBroker.New();
        var policy = new ListenerPolicy { AckTimeout = TimeSpan.FromMilliseconds(400), AckTimeoutDisconnect = true };
        var sub = broker.ConnectPersistent("sub", policy: policy);
        sub.Subscribe("t");
        var pub = broker.Connect("pub");
        pub.Publish("t", "stuck", QualityOfService.AtLeastOnce, 1);
        var first = Assert.Single(sub.Publishes);

        broker.TickFor(300);
        Assert.False(sub.Conn.IsClosed);
        long waited = 300 + broker.TickUntil(() => sub.Conn.IsClosed, what: "ack-timeout disconnect");
        Assert.InRange(waited, 400, 500);
        Assert.Equal(1, broker.Metrics.AckTimeouts);
        Assert.Equal(ReasonCode.ImplementationSpecificError, sub.Conn.CloseReason);
        Assert.Equal(1, broker.ConnectedCount); // only pub remains

        var back = broker.ConnectPersistent("sub", policy: policy);
        var again = Assert.Single(back.Publishes);
        Assert.Equal(("stuck", first.PacketId, true), (again.Text(), again.PacketId, again.Dup));
        back.PubAck(again.PacketId);
        broker.TickFor(600);
        Assert.False(back.Conn.IsClosed);
        Assert.Equal(1, broker.Metrics.AckTimeouts);
    }

    [Fact]
    public void Ack_timeout_without_disconnect_counts_once_per_message()
    {
        using var broker = TestBroker.New();
        var policy = new ListenerPolicy { AckTimeout = TimeSpan.FromMilliseconds(150), AckTimeoutDisconnect = false };
        var sub = broker.Connect("sub", policy: policy);
        sub.Subscribe("t");
        var pub = broker.Connect("pub");
        pub.Publish("t", "a", QualityOfService.AtLeastOnce, 1);
        pub.Publish("t", "b", QualityOfService.AtLeastOnce, 2);

        broker.TickUntil(() => broker.Metrics.AckTimeouts >= 1, what: "first ack timeout");
        broker.TickFor(450); // three more timeouts' worth
        Assert.Equal(1, broker.Metrics.AckTimeouts);
        Assert.False(sub.Conn.IsClosed);
        // MQTT 5: nothing is resent on the live connection.
        Assert.Equal(2, sub.Publishes.Length);

        // Acknowledging the oldest exposes the next one, which has also waited too long: counted once more.
        sub.PubAck(sub.Publishes[0].PacketId);
        broker.TickUntil(() => broker.Metrics.AckTimeouts >= 2, what: "second ack timeout");
        broker.TickFor(400);
        Assert.Equal(2, broker.Metrics.AckTimeouts);
        sub.PubAck(sub.Publishes[1].PacketId);
        broker.TickFor(300);
        Assert.Equal(2, broker.Metrics.AckTimeouts);
        Assert.False(sub.Conn.IsClosed);
    }

    [Fact]
    public void No_ack_timeout_configured_means_nothing_happens()
    {
        using var broker = TestBroker.New();
        var sub = broker.Connect("sub");
        sub.Subscribe("t");
        var pub = broker.Connect("pub");
        pub.Publish("t", "a", QualityOfService.AtLeastOnce, 1);
        broker.TickFor(300);
        Assert.Equal(0, broker.Metrics.AckTimeouts);
        Assert.False(sub.Conn.IsClosed);
    }

    [Fact]
    public void Ack_timeout_applies_to_a_qos2_flow_waiting_for_pubcomp()
    {
        using var broker = TestBroker.New();
        var policy = new ListenerPolicy { AckTimeout = TimeSpan.FromMilliseconds(150), AckTimeoutDisconnect = true };
        var sub = broker.Connect("sub", policy: policy);
        sub.Subscribe("t", QualityOfService.ExactlyOnce);
        var pub = broker.Connect("pub");
        pub.Publish("t", "a", QualityOfService.ExactlyOnce, 1);
        sub.PubRec(sub.Publishes[0].PacketId);
        broker.TickUntil(() => sub.Conn.IsClosed, what: "ack-timeout disconnect at PUBCOMP");
        Assert.Equal(1, broker.Metrics.AckTimeouts);
    }
}

public class RetryV311Tests
{
    [Fact]
    public void Retry_resends_with_dup_to_v311_clients_only()
    {
        using var broker = TestBroker.New(new BrokerOptions { RetryIntervalV311 = TimeSpan.FromMilliseconds(150) });
        var v3 = broker.Connect("v3", ProtocolVersion.V311);
        v3.Subscribe("t", QualityOfService.ExactlyOnce);
        var v5 = broker.Connect("v5");
        v5.Subscribe("t", QualityOfService.ExactlyOnce);
        var pub = broker.Connect("pub");
        pub.Publish("t", "q1", QualityOfService.AtLeastOnce, 1);
        pub.Publish("t", "q2", QualityOfService.ExactlyOnce, 2);

        var original = v3.Publishes;
        Assert.All(original, p => Assert.False(p.Dup));
        broker.TickUntil(() => v3.Publishes.Length >= 4, what: "3.1.1 retry");
        var resent = v3.Publishes.Skip(2).Take(2).ToArray();
        Assert.Equal(original.Select(p => (p.Text(), p.PacketId, p.QoS)), resent.Select(p => (p.Text(), p.PacketId, p.QoS)));
        Assert.All(resent, p => Assert.True(p.Dup));

        // A QoS 2 flow past PUBREC is retried with PUBREL.
        v3.PubAck(original[0].PacketId);
        v3.PubRec(original[1].PacketId);
        Assert.Single(v3.Conn.SentOf<PubRelPacket>());
        int publishes = v3.Publishes.Length;
        broker.TickUntil(() => v3.Conn.SentOf<PubRelPacket>().Length >= 2, what: "PUBREL retry");
        Assert.Equal(publishes, v3.Publishes.Length);
        Assert.All(v3.Conn.SentOf<PubRelPacket>(), r => Assert.Equal(original[1].PacketId, r.PacketId));
        v3.PubComp(original[1].PacketId);
        int sentNow = v3.Conn.Sent.Length;
        broker.TickFor(350);
        Assert.Equal(sentNow, v3.Conn.Sent.Length);

        // Never for MQTT 5.
        Assert.Equal(2, v5.Publishes.Length);
        Assert.All(v5.Publishes, p => Assert.False(p.Dup));
    }

    [Fact]
    public void Retry_is_off_by_default()
    {
        using var broker = TestBroker.New();
        Assert.Null(broker.Options.RetryIntervalV311);
        var v3 = broker.Connect("v3", ProtocolVersion.V311);
        v3.Subscribe("t");
        var pub = broker.Connect("pub");
        pub.Publish("t", "q1", QualityOfService.AtLeastOnce, 1);
        broker.TickFor(300);
        Assert.Single(v3.Publishes);
    }
}
