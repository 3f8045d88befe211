using System.Text;
using Holdfast.Interop.Tests.Infrastructure;
using Holdfast.Interop.Tests.MqttNet;
using Holdfast.Protocol;
using MQTTnet.Formatter;
using MQTTnet.Protocol;

namespace Holdfast.Interop.Tests.Durability;

/// <summary>
/// Restart tests for flows stopped halfway (DESIGN.md §2.3, §2.4): a QoS 2 flow stopped between PUBREC and PUBREL on
/// the inbound side (the publisher's packet id is remembered, so its resent PUBLISH is not delivered twice) and on the
/// outbound side (the broker resumes with PUBREL, or resends the PUBLISH with DUP=1 and the original packet id), across
/// a SIGKILL of the broker. The client stopped halfway is a raw client on Holdfast.Protocol's codec.
/// </summary>
public sealed class RestartQoS2Tests
{
    private static MqttProtocolVersion ToMqttNet(ProtocolVersion v) => v == ProtocolVersion.V500 ? MqttProtocolVersion.V500 : MqttProtocolVersion.V311;

    private static string Text(PublishPacket p) => Encoding.UTF8.GetString(p.Payload.Span);

    private static PublishPacket QoS2Publish(string topic, ushort packetId, string payload) => new()
    {
        Topic = topic,
        QoS = QualityOfService.ExactlyOnce,
        PacketId = packetId,
        Payload = Encoding.UTF8.GetBytes(payload),
    };

    [Theory]
    [InlineData(ProtocolVersion.V311)]
    [InlineData(ProtocolVersion.V500)]
    public async Task Inbound_QoS2_stopped_before_PubRel_is_remembered_so_the_resent_Publish_is_delivered_once(ProtocolVersion version)
    {
        string topic = $"restart/inbound-qos2/{version}";
        string publisherId = $"inbound-pub-{version}", subscriberId = $"inbound-sub-{version}";
        using var location = new RestartLocation();
        await using var first = await location.StartAsync();
        await using (var subscriber = await MqttNetPeer.ConnectPersistentAsync(first.Port, ToMqttNet(version), subscriberId))
        {
            await subscriber.SubscribeAsync(topic, MqttQualityOfServiceLevel.ExactlyOnce);
            await subscriber.DisconnectAsync();
        }

        var (publisher, connack) = await RawMqttClient.ConnectAsync(first.Port, RawMqttClient.Connect(version, publisherId, persistent: true));
        await using (publisher)
        {
            Assert.False(connack.SessionPresent);
            await publisher.SendAsync(QoS2Publish(topic, 7, "once"));
            var pubrec = await publisher.ReceiveAsync<PubRecPacket>();
            Assert.Equal(7, pubrec.PacketId);
            Assert.Equal(ReasonCode.Success, pubrec.ReasonCode);
            // No PUBREL: packet id 7 is awaiting it when the broker dies.
            await first.KillAsync();
        }

        await using var second = await location.StartAsync();
        Assert.Equal(1, second.Recovery().InboundQoS2);
        var (again, reconnack) = await RawMqttClient.ConnectAsync(second.Port, RawMqttClient.Connect(version, publisherId, persistent: true));
        await using var _ = again;
        Assert.True(reconnack.SessionPresent);

        // The publisher does not know whether its PUBLISH arrived, so it sends it again [MQTT-4.3.3]: the broker knows id 7.
        var resent = QoS2Publish(topic, 7, "once");
        resent.Dup = true;
        await again.SendAsync(resent);
        var pubrecAgain = await again.ReceiveAsync<PubRecPacket>();
        Assert.Equal(7, pubrecAgain.PacketId);
        Assert.Equal(ReasonCode.Success, pubrecAgain.ReasonCode);
        await again.SendAsync(new PubRelPacket { PacketId = 7 });
        var pubcomp = await again.ReceiveAsync<PubCompPacket>();
        Assert.Equal(7, pubcomp.PacketId);
        // 0x92 (Packet Identifier not found) would mean the id was forgotten.
        Assert.Equal(ReasonCode.Success, pubcomp.ReasonCode);

        // Control: a new message through the whole flow.
        await again.SendAsync(QoS2Publish(topic, 8, "control"));
        Assert.Equal(8, (await again.ReceiveAsync<PubRecPacket>()).PacketId);
        await again.SendAsync(new PubRelPacket { PacketId = 8 });
        Assert.Equal(8, (await again.ReceiveAsync<PubCompPacket>()).PacketId);

        await using var back = await MqttNetPeer.ConnectPersistentAsync(second.Port, ToMqttNet(version), subscriberId);
        Assert.True(back.ConnectResult.IsSessionPresent);
        Assert.Equal(["once", "control"], (await back.ReceiveAsync(2)).Select(m => m.Text));
        await back.AssertNothingReceivedAsync();
    }

    public enum StopPoint
    {
        /// <summary>QoS 1 PUBLISH received, no PUBACK.</summary>
        QoS1WithoutPubAck,
        /// <summary>QoS 2 PUBLISH received, no PUBREC.</summary>
        QoS2WithoutPubRec,
        /// <summary>QoS 2 PUBLISH received, PUBREC sent, PUBREL received, no PUBCOMP.</summary>
        QoS2WithoutPubComp,
    }

    [Theory]
    [InlineData(ProtocolVersion.V311, StopPoint.QoS1WithoutPubAck)]
    [InlineData(ProtocolVersion.V311, StopPoint.QoS2WithoutPubRec)]
    [InlineData(ProtocolVersion.V311, StopPoint.QoS2WithoutPubComp)]
    [InlineData(ProtocolVersion.V500, StopPoint.QoS1WithoutPubAck)]
    [InlineData(ProtocolVersion.V500, StopPoint.QoS2WithoutPubRec)]
    [InlineData(ProtocolVersion.V500, StopPoint.QoS2WithoutPubComp)]
    public async Task Outbound_flow_stopped_halfway_resumes_after_restart(ProtocolVersion version, StopPoint stop)
    {
        string topic = $"restart/outbound/{version}/{stop}";
        string subscriberId = $"outbound-sub-{version}-{stop}";
        var qos = stop == StopPoint.QoS1WithoutPubAck ? MqttQualityOfServiceLevel.AtLeastOnce : MqttQualityOfServiceLevel.ExactlyOnce;
        using var location = new RestartLocation();
        await using var first = await location.StartAsync();

        var (subscriber, _) = await RawMqttClient.ConnectAsync(first.Port, RawMqttClient.Connect(version, subscriberId, persistent: true));
        PublishPacket original;
        IReadOnlyList<MqttPacket> beforeKill;
        await using (subscriber)
        {
            await subscriber.SubscribeAsync(1, topic, QualityOfService.ExactlyOnce);
            await using (var publisher = await MqttNetPeer.ConnectAsync(first.Port, ToMqttNet(version), $"outbound-pub-{version}-{stop}"))
                Assert.True((await publisher.PublishAsync(topic, "once", qos)).IsSuccess);
            original = await subscriber.ReceiveAsync<PublishPacket>();
            Assert.False(original.Dup);
            Assert.Equal((QualityOfService)qos, original.QoS);
            if (stop == StopPoint.QoS2WithoutPubComp)
            {
                await subscriber.SendAsync(new PubRecPacket { PacketId = original.PacketId });
                // The broker sends PUBREL only once "PUBREC received" is on disk.
                Assert.Equal(original.PacketId, (await subscriber.ReceiveAsync<PubRelPacket>()).PacketId);
            }
            await first.KillAsync();
            beforeKill = subscriber.AllReceived;
        }

        await using var second = await location.StartAsync();
        Assert.Equal(1, second.Recovery().Inflight);
        var (again, connack) = await RawMqttClient.ConnectAsync(second.Port, RawMqttClient.Connect(version, subscriberId, persistent: true));
        await using var _2 = again;
        Assert.True(connack.SessionPresent);

        var resumed = await again.ReceiveAsync();
        if (stop == StopPoint.QoS2WithoutPubComp)
        {
            // Past PUBREC: resume at PUBREL, never the PUBLISH again.
            var pubrel = Assert.IsType<PubRelPacket>(resumed);
            Assert.Equal(original.PacketId, pubrel.PacketId);
        }
        else
        {
            var publish = Assert.IsType<PublishPacket>(resumed);
            Assert.True(publish.Dup, "a resent PUBLISH carries DUP=1");
            Assert.Equal(original.PacketId, publish.PacketId);
            Assert.Equal(original.QoS, publish.QoS);
            Assert.Equal("once", Text(publish));
        }

        // While the resumed flow is still open, a new message must not be given its packet id.
        await using (var publisher = await MqttNetPeer.ConnectAsync(second.Port, ToMqttNet(version), $"outbound-pub2-{version}-{stop}"))
            Assert.True((await publisher.PublishAsync(topic, "control", MqttQualityOfServiceLevel.ExactlyOnce)).IsSuccess);
        var control = await again.ReceiveAsync<PublishPacket>();
        Assert.Equal("control", Text(control));
        Assert.False(control.Dup);
        Assert.NotEqual(original.PacketId, control.PacketId);

        // Finish both flows.
        switch (stop)
        {
            case StopPoint.QoS1WithoutPubAck:
                await again.SendAsync(new PubAckPacket { PacketId = original.PacketId });
                break;
            case StopPoint.QoS2WithoutPubRec:
                await again.SendAsync(new PubRecPacket { PacketId = original.PacketId });
                Assert.Equal(original.PacketId, (await again.ReceiveAsync<PubRelPacket>()).PacketId);
                await again.SendAsync(new PubCompPacket { PacketId = original.PacketId });
                break;
            case StopPoint.QoS2WithoutPubComp:
                await again.SendAsync(new PubCompPacket { PacketId = original.PacketId });
                break;
        }
        await again.SendAsync(new PubRecPacket { PacketId = control.PacketId });
        Assert.Equal(control.PacketId, (await again.ReceiveAsync<PubRelPacket>()).PacketId);
        await again.SendAsync(new PubCompPacket { PacketId = control.PacketId });
        await again.AssertNothingReceivedAsync();

        int expectedDeliveries = stop == StopPoint.QoS2WithoutPubComp ? 1 : 2;
        Assert.Equal(expectedDeliveries, beforeKill.Concat(again.AllReceived).OfType<PublishPacket>().Count(p => Text(p) == "once"));
    }

    [Theory]
    [InlineData(ProtocolVersion.V311)]
    [InlineData(ProtocolVersion.V500)]
    public async Task Several_inflight_flows_resume_in_their_original_order_with_their_packet_ids(ProtocolVersion version)
    {
        string topic = $"restart/order/{version}";
        string subscriberId = $"order-sub-{version}";
        using var location = new RestartLocation();
        await using var first = await location.StartAsync();

        var (subscriber, _) = await RawMqttClient.ConnectAsync(first.Port, RawMqttClient.Connect(version, subscriberId, persistent: true));
        PublishPacket a, b, c;
        await using (subscriber)
        {
            await subscriber.SubscribeAsync(1, topic, QualityOfService.ExactlyOnce);
            await using (var publisher = await MqttNetPeer.ConnectAsync(first.Port, ToMqttNet(version), $"order-pub-{version}"))
            {
                await publisher.PublishAsync(topic, "a", MqttQualityOfServiceLevel.ExactlyOnce);
                await publisher.PublishAsync(topic, "b", MqttQualityOfServiceLevel.AtLeastOnce);
                await publisher.PublishAsync(topic, "c", MqttQualityOfServiceLevel.ExactlyOnce);
            }
            a = await subscriber.ReceiveAsync<PublishPacket>();
            b = await subscriber.ReceiveAsync<PublishPacket>();
            c = await subscriber.ReceiveAsync<PublishPacket>();
            Assert.Equal(["a", "b", "c"], new[] { a, b, c }.Select(Text));
            // a goes past PUBREC; b and c are never answered.
            await subscriber.SendAsync(new PubRecPacket { PacketId = a.PacketId });
            Assert.Equal(a.PacketId, (await subscriber.ReceiveAsync<PubRelPacket>()).PacketId);
            await first.KillAsync();
        }

        await using var second = await location.StartAsync();
        var (again, connack) = await RawMqttClient.ConnectAsync(second.Port, RawMqttClient.Connect(version, subscriberId, persistent: true));
        await using var _2 = again;
        Assert.True(connack.SessionPresent);

        Assert.Equal(a.PacketId, (await again.ReceiveAsync<PubRelPacket>()).PacketId);
        var b2 = await again.ReceiveAsync<PublishPacket>();
        var c2 = await again.ReceiveAsync<PublishPacket>();
        Assert.Equal(("b", b.PacketId, QualityOfService.AtLeastOnce, true), (Text(b2), b2.PacketId, b2.QoS, b2.Dup));
        Assert.Equal(("c", c.PacketId, QualityOfService.ExactlyOnce, true), (Text(c2), c2.PacketId, c2.QoS, c2.Dup));

        await again.SendAsync(new PubCompPacket { PacketId = a.PacketId });
        await again.SendAsync(new PubAckPacket { PacketId = b.PacketId });
        await again.SendAsync(new PubRecPacket { PacketId = c.PacketId });
        Assert.Equal(c.PacketId, (await again.ReceiveAsync<PubRelPacket>()).PacketId);
        await again.SendAsync(new PubCompPacket { PacketId = c.PacketId });
        await again.AssertNothingReceivedAsync();
    }
}
