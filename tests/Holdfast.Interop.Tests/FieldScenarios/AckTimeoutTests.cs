using Holdfast.Interop.Tests.Infrastructure;
using Holdfast.Interop.Tests.MqttNet;
using MQTTnet;
using MQTTnet.Formatter;
using MQTTnet.Protocol;

namespace Holdfast.Interop.Tests.FieldScenarios;

/// <summary>
/// Field scenario 5 (issue 2, DESIGN.md §1 "a stuck subscriber is silent"): the per-listener ack timeout reports a
/// subscriber whose oldest inflight message stays unacknowledged; with <c>ack_timeout_action disconnect</c> it also
/// disconnects it, so the spec's reconnect-and-redeliver path runs; with <c>log</c> it only logs and counts.
/// </summary>
public sealed class AckTimeoutTests
{
    [Theory]
    [InlineData(MqttProtocolVersion.V311)]
    [InlineData(MqttProtocolVersion.V500)]
    public async Task Stuck_subscriber_is_disconnected_after_ack_timeout_and_gets_the_message_again_with_dup_on_reconnect(MqttProtocolVersion version)
    {
        await using var broker = await TestBroker.StartAsync(listenerText: "ack_timeout 1\nack_timeout_action disconnect");
        string subscriberId = $"stuck-disconnect-{version}";
        string topic = $"field/ack-timeout/disconnect/{version}";
        await using var publisher = await MqttNetPeer.ConnectAsync(broker.Port, version, $"ack-timeout-pub-{version}");

        ReceivedMessage stuck;
        await using (var subscriber = await MqttNetPeer.ConnectPersistentAsync(broker.Port, version, subscriberId, manualAck: true))
        {
            await subscriber.SubscribeAsync(topic, MqttQualityOfServiceLevel.AtLeastOnce);
            await publisher.PublishAsync(topic, "stuck");
            stuck = await subscriber.ReceiveAsync();
            Assert.Equal("stuck", stuck.Text);
            // Never acknowledged.

            var disconnected = await subscriber.Disconnected.Within(what: "the ack timeout to disconnect the stuck subscriber");
            if (version == MqttProtocolVersion.V500)
                Assert.Equal(MqttClientDisconnectReason.ImplementationSpecificError, disconnected.Reason);
            // No resend on the live connection before the disconnect.
            Assert.Single(subscriber.All);
        }

        var warning = await broker.Log.WaitForAsync($"Client {subscriberId} has not acknowledged message m{stuck.PacketId} on '{topic}'");
        Assert.Contains("no PUBACK", warning);
        Assert.True(broker.Metrics.AckTimeouts > 0);
        await broker.Log.WaitForAsync($"Client {subscriberId} disconnected by the broker: ack timeout");

        await using var returning = await MqttNetPeer.ConnectPersistentAsync(broker.Port, version, subscriberId, manualAck: true);
        Assert.True(returning.ConnectResult.IsSessionPresent);
        var again = await returning.ReceiveAsync();
        Assert.Equal("stuck", again.Text);
        Assert.True(again.Dup);
        Assert.Equal(stuck.PacketId, again.PacketId);
        await again.AckAsync();

        // Acknowledged now: the session carries on normally.
        await publisher.PublishAsync(topic, "next");
        var next = await returning.ReceiveAsync();
        Assert.Equal("next", next.Text);
        Assert.False(next.Dup);
        await next.AckAsync();
        await returning.AssertNothingReceivedAsync();
        Assert.False(returning.Disconnected.IsCompleted);
    }

    [Theory]
    [InlineData(MqttProtocolVersion.V311)]
    [InlineData(MqttProtocolVersion.V500)]
    public async Task With_action_log_the_stuck_subscriber_is_logged_and_counted_but_stays_connected(MqttProtocolVersion version)
    {
        await using var broker = await TestBroker.StartAsync(listenerText: "ack_timeout 1\nack_timeout_action log");
        string subscriberId = $"stuck-log-{version}";
        string topic = $"field/ack-timeout/log/{version}";
        await using var publisher = await MqttNetPeer.ConnectAsync(broker.Port, version, $"ack-timeout-log-pub-{version}");
        await using var subscriber = await MqttNetPeer.ConnectPersistentAsync(broker.Port, version, subscriberId, manualAck: true);
        await subscriber.SubscribeAsync(topic, MqttQualityOfServiceLevel.AtLeastOnce);

        await publisher.PublishAsync(topic, "stuck");
        var stuck = await subscriber.ReceiveAsync();

        await broker.Log.WaitForAsync($"Client {subscriberId} has not acknowledged message m{stuck.PacketId} on '{topic}'");
        Assert.Equal(1, broker.Metrics.AckTimeouts);

        // Still connected and served: a ping round-trips, no disconnect happened, nothing was resent live.
        await subscriber.Client.PingAsync(CancellationToken.None);
        await subscriber.AssertNothingReceivedAsync();
        Assert.False(subscriber.Disconnected.IsCompleted);
        Assert.True(subscriber.Client.IsConnected);
        Assert.False(broker.Log.Contains($"Client {subscriberId} disconnected"));
        // Reported once per message, not once per timer tick.
        Assert.Equal(1, broker.Metrics.AckTimeouts);

        await stuck.AckAsync();
        await publisher.PublishAsync(topic, "next");
        Assert.Equal("next", (await subscriber.ReceiveAsync()).Text);
    }
}
