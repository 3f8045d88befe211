using System.Text;
using Holdfast.Interop.Tests.Infrastructure;
using Holdfast.Interop.Tests.MqttNet;
using Holdfast.Protocol;
using MQTTnet.Formatter;
using MQTTnet.Protocol;

namespace Holdfast.Interop.Tests.FieldScenarios;

/// <summary>
/// Field scenario 3 (issue 2, DESIGN.md §2.3): a QoS 2 message published once is delivered exactly once even when the
/// subscriber's connection is cut between PUBREC and PUBREL. On reconnect the broker resumes the flow with PUBREL
/// (same packet id), never the PUBLISH again. The subscriber is a raw client on Holdfast.Protocol's codec because no
/// client library can be stopped at that point; the publisher is MQTTnet.
/// </summary>
public sealed class QoS2ResumeAtPubRelTests
{
    public enum CutPoint
    {
        /// <summary>PUBREC sent, then the connection ends before the subscriber reads the PUBREL.</summary>
        AfterPubRecBeforePubRel,
        /// <summary>PUBREL received, then the connection ends without PUBCOMP.</summary>
        AfterPubRelWithoutPubComp,
    }

    [Theory]
    [InlineData(ProtocolVersion.V311, CutPoint.AfterPubRecBeforePubRel)]
    [InlineData(ProtocolVersion.V311, CutPoint.AfterPubRelWithoutPubComp)]
    [InlineData(ProtocolVersion.V500, CutPoint.AfterPubRecBeforePubRel)]
    [InlineData(ProtocolVersion.V500, CutPoint.AfterPubRelWithoutPubComp)]
    public async Task Connection_cut_between_PubRec_and_PubComp_resumes_with_PubRel_and_delivers_exactly_once(ProtocolVersion version, CutPoint cut)
    {
        await using var broker = await TestBroker.StartAsync();
        string subscriberId = $"qos2-resume-sub-{version}-{cut}";
        string topic = $"field/qos2-resume/{version}/{cut}";
        var mqttNetVersion = version == ProtocolVersion.V500 ? MqttProtocolVersion.V500 : MqttProtocolVersion.V311;

        var (first, connack) = await RawMqttClient.ConnectAsync(broker.Port, RawMqttClient.Connect(version, subscriberId, persistent: true));
        Assert.False(connack.SessionPresent);
        await first.SubscribeAsync(1, topic, QualityOfService.ExactlyOnce);

        await using var publisher = await MqttNetPeer.ConnectAsync(broker.Port, mqttNetVersion, $"qos2-resume-pub-{version}-{cut}");
        var published = await publisher.PublishAsync(topic, "once", MqttQualityOfServiceLevel.ExactlyOnce);
        Assert.True(published.IsSuccess);

        var publish = await first.ReceiveAsync<PublishPacket>();
        Assert.Equal(QualityOfService.ExactlyOnce, publish.QoS);
        Assert.False(publish.Dup);
        Assert.Equal("once", Encoding.UTF8.GetString(publish.Payload.Span));
        ushort packetId = publish.PacketId;

        await first.SendAsync(new PubRecPacket { PacketId = packetId });
        if (cut == CutPoint.AfterPubRelWithoutPubComp)
            Assert.Equal(packetId, (await first.ReceiveAsync<PubRelPacket>()).PacketId);
        first.Drop();
        await first.Closed.Within(what: "the broker to close the cut connection");
        await broker.Log.WaitForAsync($"Client {subscriberId} closed its connection");
        // The broker had the PUBREC before the connection ended (it precedes the FIN on the wire).
        Assert.True(broker.Log.Contains($"Received PUBREC from {subscriberId} (Mid: {packetId})"));
        var firstPackets = first.AllReceived;
        await first.DisposeAsync();

        var (second, reconnack) = await RawMqttClient.ConnectAsync(broker.Port, RawMqttClient.Connect(version, subscriberId, persistent: true));
        await using var _ = second;
        Assert.True(reconnack.SessionPresent);

        var resumed = await second.ReceiveAsync();
        var pubrel = Assert.IsType<PubRelPacket>(resumed);
        Assert.Equal(packetId, pubrel.PacketId);
        await second.SendAsync(new PubCompPacket { PacketId = packetId });
        await broker.Log.WaitForAsync($"Received PUBCOMP from {subscriberId} (Mid: {packetId}, RC:");

        // Newer messages flow on the resumed session, through the whole QoS 2 exchange.
        await publisher.PublishAsync(topic, "after", MqttQualityOfServiceLevel.ExactlyOnce);
        var next = await second.ReceiveAsync<PublishPacket>();
        Assert.Equal("after", Encoding.UTF8.GetString(next.Payload.Span));
        Assert.False(next.Dup);
        await second.SendAsync(new PubRecPacket { PacketId = next.PacketId });
        Assert.Equal(next.PacketId, (await second.ReceiveAsync<PubRelPacket>()).PacketId);
        await second.SendAsync(new PubCompPacket { PacketId = next.PacketId });

        await second.AssertNothingReceivedAsync();
        var deliveries = firstPackets.Concat(second.AllReceived).OfType<PublishPacket>()
            .Count(p => Encoding.UTF8.GetString(p.Payload.Span) == "once");
        Assert.Equal(1, deliveries);
    }

    [Theory]
    [InlineData(ProtocolVersion.V311)]
    [InlineData(ProtocolVersion.V500)]
    public async Task Connection_cut_before_PubRec_resends_the_Publish_with_dup_and_the_same_packet_id(ProtocolVersion version)
    {
        // The other half of resume (DESIGN.md §2.3): without a PUBREC the flow restarts at PUBLISH, DUP=1, same id.
        await using var broker = await TestBroker.StartAsync();
        string subscriberId = $"qos2-nopubrec-sub-{version}";
        string topic = $"field/qos2-nopubrec/{version}";
        var mqttNetVersion = version == ProtocolVersion.V500 ? MqttProtocolVersion.V500 : MqttProtocolVersion.V311;

        var (first, _) = await RawMqttClient.ConnectAsync(broker.Port, RawMqttClient.Connect(version, subscriberId, persistent: true));
        await first.SubscribeAsync(1, topic, QualityOfService.ExactlyOnce);
        await using var publisher = await MqttNetPeer.ConnectAsync(broker.Port, mqttNetVersion, $"qos2-nopubrec-pub-{version}");
        await publisher.PublishAsync(topic, "unanswered", MqttQualityOfServiceLevel.ExactlyOnce);
        var publish = await first.ReceiveAsync<PublishPacket>();
        first.Drop();
        await first.Closed.Within();
        await broker.Log.WaitForAsync($"Client {subscriberId} closed its connection");
        await first.DisposeAsync();

        var (second, connack) = await RawMqttClient.ConnectAsync(broker.Port, RawMqttClient.Connect(version, subscriberId, persistent: true));
        await using var _ = second;
        Assert.True(connack.SessionPresent);
        var again = await second.ReceiveAsync<PublishPacket>();
        Assert.True(again.Dup);
        Assert.Equal(publish.PacketId, again.PacketId);
        Assert.Equal(QualityOfService.ExactlyOnce, again.QoS);
        Assert.Equal("unanswered", Encoding.UTF8.GetString(again.Payload.Span));

        await second.SendAsync(new PubRecPacket { PacketId = again.PacketId });
        Assert.Equal(again.PacketId, (await second.ReceiveAsync<PubRelPacket>()).PacketId);
        await second.SendAsync(new PubCompPacket { PacketId = again.PacketId });
        await second.AssertNothingReceivedAsync();
    }
}
