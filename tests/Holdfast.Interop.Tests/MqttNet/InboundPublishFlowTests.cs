using System.Text;
using Holdfast.Interop.Tests.Infrastructure;
using Holdfast.Protocol;
using MQTTnet.Formatter;
using MQTTnet.Protocol;

namespace Holdfast.Interop.Tests.MqttNet;

/// <summary>The publisher side of QoS 1/2 (MQTT 5.0 §4.3, §4.4), driven by a raw client so the test controls DUP and
/// resends, observed by an MQTTnet subscriber: a resent QoS 2 PUBLISH is not delivered twice, and an inbound DUP flag
/// is never passed on to subscribers [MQTT-3.3.1-3].</summary>
public sealed class InboundPublishFlowTests
{
    private static MqttProtocolVersion ToMqttNet(ProtocolVersion v) => v == ProtocolVersion.V500 ? MqttProtocolVersion.V500 : MqttProtocolVersion.V311;

    private static PublishPacket Publish(string topic, string payload, QualityOfService qos, ushort id, bool dup = false) => new()
    {
        Topic = topic,
        Payload = Encoding.UTF8.GetBytes(payload),
        QoS = qos,
        PacketId = id,
        Dup = dup,
    };

    [Theory]
    [InlineData(ProtocolVersion.V311)]
    [InlineData(ProtocolVersion.V500)]
    public async Task Resent_QoS2_publish_before_PubRel_is_delivered_once(ProtocolVersion version)
    {
        await using var broker = await TestBroker.StartAsync();
        string topic = $"inbound/qos2/{version}";
        await using var subscriber = await MqttNetPeer.ConnectAsync(broker.Port, ToMqttNet(version), $"inbound-qos2-sub-{version}");
        await subscriber.SubscribeAsync(topic, MqttQualityOfServiceLevel.ExactlyOnce);
        var (publisher, _) = await RawMqttClient.ConnectAsync(broker.Port, RawMqttClient.Connect(version, $"inbound-qos2-pub-{version}", persistent: false));
        await using var __ = publisher;

        await publisher.SendAsync(Publish(topic, "exactly once", QualityOfService.ExactlyOnce, 7));
        Assert.Equal(7, (await publisher.ReceiveAsync<PubRecPacket>()).PacketId);
        // The publisher did not see the PUBREC (as far as it knows) and resends with DUP=1.
        await publisher.SendAsync(Publish(topic, "exactly once", QualityOfService.ExactlyOnce, 7, dup: true));
        Assert.Equal(7, (await publisher.ReceiveAsync<PubRecPacket>()).PacketId);
        await publisher.SendAsync(new PubRelPacket { PacketId = 7 });
        var pubcomp = await publisher.ReceiveAsync<PubCompPacket>();
        Assert.Equal(7, pubcomp.PacketId);
        Assert.Equal(ReasonCode.Success, pubcomp.ReasonCode);

        // After PUBREL the packet id is free again: the same id now carries a new message.
        await publisher.SendAsync(Publish(topic, "next", QualityOfService.ExactlyOnce, 7));
        Assert.Equal(7, (await publisher.ReceiveAsync<PubRecPacket>()).PacketId);
        await publisher.SendAsync(new PubRelPacket { PacketId = 7 });
        await publisher.ReceiveAsync<PubCompPacket>();

        Assert.Equal(["exactly once", "next"], (await subscriber.ReceiveAsync(2)).Select(m => m.Text));
        await subscriber.AssertNothingReceivedAsync();
    }

    [Theory]
    [InlineData(ProtocolVersion.V311)]
    [InlineData(ProtocolVersion.V500)]
    public async Task Inbound_dup_flag_is_not_passed_on_to_subscribers(ProtocolVersion version)
    {
        await using var broker = await TestBroker.StartAsync();
        string topic = $"inbound/dup/{version}";
        await using var subscriber = await MqttNetPeer.ConnectAsync(broker.Port, ToMqttNet(version), $"inbound-dup-sub-{version}");
        await subscriber.SubscribeAsync(topic, MqttQualityOfServiceLevel.AtLeastOnce);
        var (publisher, _) = await RawMqttClient.ConnectAsync(broker.Port, RawMqttClient.Connect(version, $"inbound-dup-pub-{version}", persistent: false));
        await using var __ = publisher;

        await publisher.SendAsync(Publish(topic, "resent by its publisher", QualityOfService.AtLeastOnce, 3, dup: true));
        Assert.Equal(3, (await publisher.ReceiveAsync<PubAckPacket>()).PacketId);

        var m = await subscriber.ReceiveAsync();
        Assert.Equal("resent by its publisher", m.Text);
        Assert.False(m.Dup, "the subscriber gets its first delivery: DUP=0");
        Assert.True(broker.Log.Contains($"Received PUBLISH from inbound-dup-pub-{version} (d1, q1"));
    }

    [Theory]
    [InlineData(ProtocolVersion.V311)]
    [InlineData(ProtocolVersion.V500)]
    public async Task QoS2_publish_resent_after_the_publisher_reconnects_is_delivered_once(ProtocolVersion version)
    {
        // The receiving half of exactly-once (DESIGN.md §2.4): the packet id awaiting PUBREL belongs to the publisher's
        // session, so a PUBLISH resent on a new connection is recognised and not delivered again.
        await using var broker = await TestBroker.StartAsync();
        string topic = $"inbound/qos2-reconnect/{version}";
        string publisherId = $"inbound-qos2-reconnect-pub-{version}";
        await using var subscriber = await MqttNetPeer.ConnectAsync(broker.Port, ToMqttNet(version), $"inbound-qos2-reconnect-sub-{version}");
        await subscriber.SubscribeAsync(topic, MqttQualityOfServiceLevel.ExactlyOnce);

        var (first, _) = await RawMqttClient.ConnectAsync(broker.Port, RawMqttClient.Connect(version, publisherId, persistent: true));
        await first.SendAsync(Publish(topic, "exactly once", QualityOfService.ExactlyOnce, 11));
        Assert.Equal(11, (await first.ReceiveAsync<PubRecPacket>()).PacketId);
        Assert.Equal("exactly once", (await subscriber.ReceiveAsync()).Text);
        first.Drop();
        await first.Closed.Within();
        await first.DisposeAsync();
        await broker.Log.WaitForAsync($"Client {publisherId} closed its connection");

        var (second, connack) = await RawMqttClient.ConnectAsync(broker.Port, RawMqttClient.Connect(version, publisherId, persistent: true));
        await using var _ = second;
        Assert.True(connack.SessionPresent);
        await second.SendAsync(Publish(topic, "exactly once", QualityOfService.ExactlyOnce, 11, dup: true));
        Assert.Equal(11, (await second.ReceiveAsync<PubRecPacket>()).PacketId);
        await second.SendAsync(new PubRelPacket { PacketId = 11 });
        var pubcomp = await second.ReceiveAsync<PubCompPacket>();
        Assert.Equal(ReasonCode.Success, pubcomp.ReasonCode);

        // A new message on the same connection still flows (the positive control), and the resend never arrived.
        await second.SendAsync(Publish(topic, "next", QualityOfService.AtLeastOnce, 12));
        await second.ReceiveAsync<PubAckPacket>();
        Assert.Equal("next", (await subscriber.ReceiveAsync()).Text);
        await subscriber.AssertNothingReceivedAsync();
    }
}
