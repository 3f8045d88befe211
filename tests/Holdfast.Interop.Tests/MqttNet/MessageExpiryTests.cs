using Holdfast.Broker;
using Holdfast.Interop.Tests.Infrastructure;
using MQTTnet;
using MQTTnet.Formatter;
using MQTTnet.Protocol;

namespace Holdfast.Interop.Tests.MqttNet;

/// <summary>Message Expiry Interval (MQTT 5.0 §3.3.2.3.3): the remaining interval is forwarded [MQTT-3.3.2-6]; a
/// message whose interval has passed is not delivered [MQTT-3.3.2-5], and the drop is counted.</summary>
public sealed class MessageExpiryTests
{
    private const MqttProtocolVersion V5 = MqttProtocolVersion.V500;

    private static MqttApplicationMessage Message(string topic, string payload, uint? expiry) =>
        expiry is { } seconds
            ? new MqttApplicationMessageBuilder().WithTopic(topic).WithPayload(payload).WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).WithMessageExpiryInterval(seconds).Build()
            : new MqttApplicationMessageBuilder().WithTopic(topic).WithPayload(payload).WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).Build();

    [Fact]
    public async Task Remaining_expiry_interval_is_forwarded_and_counts_down_while_queued()
    {
        await using var broker = await TestBroker.StartAsync();
        await using var live = await MqttNetPeer.ConnectAsync(broker.Port, V5, "expiry-live");
        await live.SubscribeAsync("expiry/forward");
        await using (var offline = await MqttNetPeer.ConnectPersistentAsync(broker.Port, V5, "expiry-offline"))
        {
            await offline.SubscribeAsync("expiry/forward");
            await offline.DisconnectAsync();
        }
        await broker.Log.WaitForAsync("Client expiry-offline disconnected.");

        await using var publisher = await MqttNetPeer.ConnectAsync(broker.Port, V5, "expiry-pub");
        await publisher.PublishAsync(Message("expiry/forward", "expires", 30));
        var now = await live.ReceiveAsync();
        Assert.InRange(now.MessageExpiryInterval, 29u, 30u);

        // Let time pass while it waits in the offline session's queue: the forwarded interval is what is left.
        await Task.Delay(TimeSpan.FromSeconds(2.2));
        await using var back = await MqttNetPeer.ConnectPersistentAsync(broker.Port, V5, "expiry-offline");
        var later = await back.ReceiveAsync();
        Assert.Equal("expires", later.Text);
        Assert.InRange(later.MessageExpiryInterval, 1u, 28u);

        // A message without an expiry carries none.
        await publisher.PublishAsync(Message("expiry/forward", "forever", null));
        Assert.Equal(0u, (await back.ReceiveAsync()).MessageExpiryInterval);
    }

    [Fact]
    public async Task Expired_message_is_not_delivered_to_a_returning_subscriber_and_is_counted()
    {
        await using var broker = await TestBroker.StartAsync();
        await using (var offline = await MqttNetPeer.ConnectPersistentAsync(broker.Port, V5, "expired-sub"))
        {
            await offline.SubscribeAsync("expiry/drop");
            await offline.DisconnectAsync();
        }
        await broker.Log.WaitForAsync("Client expired-sub disconnected.");

        await using var publisher = await MqttNetPeer.ConnectAsync(broker.Port, V5, "expired-pub");
        await publisher.PublishAsync(Message("expiry/drop", "short-lived", 1));
        await publisher.PublishAsync(Message("expiry/drop", "lasting", null));
        var retained = new MqttApplicationMessageBuilder().WithTopic("expiry/retained").WithPayload("short-lived retained")
            .WithRetainFlag().WithMessageExpiryInterval(1).WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).Build();
        await publisher.PublishAsync(retained);
        Assert.Equal(1, broker.Status().RetainedMessages);
        // Time must pass for the one-second intervals to run out.
        await Task.Delay(TimeSpan.FromSeconds(1.5));

        await using var back = await MqttNetPeer.ConnectPersistentAsync(broker.Port, V5, "expired-sub");
        Assert.Equal("lasting", (await back.ReceiveAsync()).Text);
        await back.AssertNothingReceivedAsync();
        Assert.Equal(1, broker.Metrics.Dropped(DropCause.Expired));
        await broker.Log.WaitForAsync("for client expired-sub: message expired");

        // An expired retained message is not sent on subscribe either: the live marker is the first thing to arrive.
        await using var late = await MqttNetPeer.ConnectAsync(broker.Port, V5, "expired-retained-sub");
        await late.SubscribeAsync("expiry/retained");
        await publisher.PublishAsync(Message("expiry/retained", "marker", null));
        Assert.Equal("marker", (await late.ReceiveAsync()).Text);
        await late.AssertNothingReceivedAsync();
    }
}
