using Holdfast.Interop.Tests.Infrastructure;
using Holdfast.Interop.Tests.MqttNet;
using MQTTnet.Formatter;
using MQTTnet.Protocol;

namespace Holdfast.Interop.Tests.FieldScenarios;

/// <summary>
/// Field scenario 1 (issue 2, DESIGN.md §1): a subscriber with manual acknowledgement never acks a QoS 1 message.
/// The broker must not resend it on the live connection (MQTT 5 forbids it; for 3.1.1 the opt-in retry is off by
/// default); when the subscriber returns to its persistent session, the unacknowledged message comes again with
/// DUP=1 and its original packet id, before any newer message; what was acknowledged never comes again.
/// </summary>
public sealed class ManualAckSubscriberTests
{
    [Theory]
    [InlineData(MqttProtocolVersion.V311)]
    [InlineData(MqttProtocolVersion.V500)]
    public async Task Unacked_QoS1_message_is_not_resent_live_and_is_redelivered_with_dup_before_newer_messages_after_reconnect(MqttProtocolVersion version)
    {
        await using var broker = await TestBroker.StartAsync();
        string subscriberId = $"manual-ack-sub-{version}";
        string topic = $"field/manual-ack/{version}";
        await using var publisher = await MqttNetPeer.ConnectAsync(broker.Port, version, $"manual-ack-pub-{version}");

        ReceivedMessage first;
        await using (var subscriber = await MqttNetPeer.ConnectPersistentAsync(broker.Port, version, subscriberId, manualAck: true))
        {
            Assert.False(subscriber.ConnectResult.IsSessionPresent);
            await subscriber.SubscribeAsync(topic, MqttQualityOfServiceLevel.AtLeastOnce);

            await publisher.PublishAsync(topic, "m1");
            first = await subscriber.ReceiveAsync();
            Assert.Equal("m1", first.Text);
            Assert.False(first.Dup);
            Assert.Equal(MqttQualityOfServiceLevel.AtLeastOnce, first.QoS);

            // Never acknowledged, and no ack_timeout configured: nothing may come again on this connection.
            await subscriber.AssertNothingReceivedAsync(TimeSpan.FromSeconds(3));

            // The default window (max_inflight_messages 20) has room, so a newer message is delivered meanwhile,
            // after m1 (the order it was published in).
            await publisher.PublishAsync(topic, "m2");
            var second = await subscriber.ReceiveAsync();
            Assert.Equal("m2", second.Text);
            Assert.False(second.Dup);
            Assert.NotEqual(first.PacketId, second.PacketId);
            await second.AckAsync();
            await broker.Log.WaitForAsync($"Received PUBACK from {subscriberId} (Mid: {second.PacketId}, RC:");

            await subscriber.DisconnectAsync();
            await broker.Log.WaitForAsync($"Client {subscriberId} disconnected.");
        }

        // Newer than m1, published while the subscriber is away: it must come after the redelivered m1.
        await publisher.PublishAsync(topic, "m3");

        await using var returning = await MqttNetPeer.ConnectPersistentAsync(broker.Port, version, subscriberId, manualAck: true);
        Assert.True(returning.ConnectResult.IsSessionPresent);

        var redelivered = await returning.ReceiveAsync();
        Assert.Equal("m1", redelivered.Text);
        Assert.True(redelivered.Dup, "a redelivered message carries DUP=1");
        Assert.Equal(first.PacketId, redelivered.PacketId);
        await redelivered.AckAsync();

        var newer = await returning.ReceiveAsync();
        Assert.Equal("m3", newer.Text);
        Assert.False(newer.Dup);
        await newer.AckAsync();

        // m2 was acknowledged: it is never delivered again.
        await returning.AssertNothingReceivedAsync();
        Assert.DoesNotContain(returning.All, m => m.Text == "m2");
    }
}
