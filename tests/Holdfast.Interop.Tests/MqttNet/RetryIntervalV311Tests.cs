using Holdfast.Interop.Tests.Infrastructure;
using MQTTnet.Formatter;
using MQTTnet.Protocol;

namespace Holdfast.Interop.Tests.MqttNet;

/// <summary><c>retry_interval_v311</c> (Holdfast, opt-in, off by default): unacknowledged messages are resent with DUP=1
/// on a live MQTT 3.1.1 connection, as 3.1.1 allowed; never to MQTT 5 clients, which the spec forbids [MQTT-4.4.0-1].</summary>
public sealed class RetryIntervalV311Tests
{
    [Fact]
    public async Task V311_client_gets_an_unacknowledged_message_again_with_dup_on_the_live_connection()
    {
        await using var broker = await TestBroker.StartAsync("retry_interval_v311 1");
        await using var subscriber = await MqttNetPeer.ConnectPersistentAsync(broker.Port, MqttProtocolVersion.V311, "retry-v311", manualAck: true);
        await subscriber.SubscribeAsync("retry/t");
        await using var publisher = await MqttNetPeer.ConnectAsync(broker.Port, MqttProtocolVersion.V311, "retry-v311-pub");
        await publisher.PublishAsync("retry/t", "again");

        var first = await subscriber.ReceiveAsync();
        Assert.False(first.Dup);
        var resent = await subscriber.ReceiveAsync();
        Assert.Equal("again", resent.Text);
        Assert.True(resent.Dup);
        Assert.Equal(first.PacketId, resent.PacketId);
        Assert.False(subscriber.Disconnected.IsCompleted);
        await resent.AckAsync();
    }

    [Fact]
    public async Task V5_client_is_never_resent_on_the_live_connection()
    {
        await using var broker = await TestBroker.StartAsync("retry_interval_v311 1");
        await using var subscriber = await MqttNetPeer.ConnectPersistentAsync(broker.Port, MqttProtocolVersion.V500, "retry-v5", manualAck: true);
        await subscriber.SubscribeAsync("retry/t");
        await using var publisher = await MqttNetPeer.ConnectAsync(broker.Port, MqttProtocolVersion.V500, "retry-v5-pub");
        await publisher.PublishAsync("retry/t", "once");

        Assert.Equal("once", (await subscriber.ReceiveAsync()).Text);
        // Twice the retry interval, and then some.
        await subscriber.AssertNothingReceivedAsync(TimeSpan.FromSeconds(2.5));
    }
}
