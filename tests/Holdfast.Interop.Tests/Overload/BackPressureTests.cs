using Holdfast.Interop.Tests.Infrastructure;
using Holdfast.Interop.Tests.MqttNet;
using MQTTnet.Formatter;
using MQTTnet.Protocol;

namespace Holdfast.Interop.Tests.Overload;

/// <summary>queue_full_policy block with MQTT 3.1.1 publishers: held back, never dropped, never deadlocked.</summary>
public class BackPressureTests
{
    private const string Limits = "max_inflight_messages 2\nmax_queued_messages 5\nqueue_full_policy block\n";

    [Fact]
    public async Task A_311_client_publishing_to_its_own_subscription_is_held_back_without_deadlock_and_loses_nothing()
    {
        await using var broker = await TestBroker.StartAsync(Limits);
        // MQTTnet acknowledges as it receives: its PUBACKs must still be read while its own PUBLISHes are held back.
        await using var self = await MqttNetPeer.ConnectAsync(broker.Port, MqttProtocolVersion.V311, "bp-self");
        await self.SubscribeAsync("bp/self", MqttQualityOfServiceLevel.AtLeastOnce);

        const int count = 60;
        var publishes = Enumerable.Range(0, count).Select(i => self.PublishAsync("bp/self", i.ToString(), MqttQualityOfServiceLevel.AtLeastOnce)).ToList();
        var received = await self.ReceiveAsync(count, TimeSpan.FromSeconds(30));
        await Task.WhenAll(publishes).Within(what: "every PUBACK");

        Assert.Equal(Enumerable.Range(0, count).Select(i => i.ToString()), received.Select(m => m.Text));
        Assert.Equal(0, broker.Metrics.DroppedTotal);
    }

    [Fact]
    public async Task A_held_back_311_publisher_resumes_when_the_stuck_subscriber_returns()
    {
        await using var broker = await TestBroker.StartAsync(Limits);
        var sub = await MqttNetPeer.ConnectPersistentAsync(broker.Port, MqttProtocolVersion.V311, "bp-sub");
        await sub.SubscribeAsync("bp/t", MqttQualityOfServiceLevel.AtLeastOnce);
        await sub.DisconnectAsync();
        await sub.DisposeAsync();

        await using var pub = await MqttNetPeer.ConnectAsync(broker.Port, MqttProtocolVersion.V311, "bp-pub");
        const int count = 12;
        var publishes = Enumerable.Range(0, count).Select(i => pub.PublishAsync("bp/t", i.ToString(), MqttQualityOfServiceLevel.AtLeastOnce)).ToList();
        // The queue holds 5: the 6th is held back (no PUBACK), and nothing is dropped.
        await broker.Log.WaitForAsync("held back");
        await Waits.UntilAsync(() => publishes.Count(p => p.IsCompleted) == 5, "the first five PUBACKs");
        Assert.False(publishes[5].IsCompleted);
        Assert.Equal(0, broker.Metrics.DroppedTotal);

        await using var back = await MqttNetPeer.ConnectPersistentAsync(broker.Port, MqttProtocolVersion.V311, "bp-sub");
        var received = await back.ReceiveAsync(count, TimeSpan.FromSeconds(30));
        await Task.WhenAll(publishes).Within(what: "every PUBACK after the subscriber returned");
        Assert.Equal(Enumerable.Range(0, count).Select(i => i.ToString()), received.Select(m => m.Text));
    }
}
