using Holdfast.Broker;
using Holdfast.Interop.Tests.Infrastructure;
using MQTTnet;
using MQTTnet.Formatter;
using MQTTnet.Protocol;

namespace Holdfast.Interop.Tests.MqttNet;

/// <summary>
/// A full subscriber queue (DESIGN.md §2.5 "overload never turns into silent loss"): with the default
/// <c>queue_full_policy block</c> an MQTT 5 publisher gets 0x97 Quota exceeded and an MQTT 3.1.1 publisher is held back
/// until there is room; the opt-in drop policies drop, count and log.
/// </summary>
public sealed class QueueFullTests
{
    private const int QueueLimit = 5;

    /// <summary>Creates a persistent QoS 1 subscriber and leaves it offline.</summary>
    private static async Task OfflineSubscriber(TestBroker broker, MqttProtocolVersion version, string id, string topic)
    {
        await using var subscriber = await MqttNetPeer.ConnectPersistentAsync(broker.Port, version, id);
        await subscriber.SubscribeAsync(topic);
        await subscriber.DisconnectAsync();
        await broker.Log.WaitForAsync($"Client {id} disconnected.");
    }

    [Fact]
    public async Task V5_publisher_gets_quota_exceeded_when_a_subscriber_queue_is_full()
    {
        await using var broker = await TestBroker.StartAsync($"max_queued_messages {QueueLimit}\nqueue_full_policy block");
        await OfflineSubscriber(broker, MqttProtocolVersion.V500, "qfull-v5-sub", "qfull/v5");
        await using var publisher = await MqttNetPeer.ConnectAsync(broker.Port, MqttProtocolVersion.V500, "qfull-v5-pub");

        for (int i = 1; i <= QueueLimit; i++)
            Assert.Equal(MqttClientPublishReasonCode.Success, (await publisher.PublishAsync("qfull/v5", i.ToString())).ReasonCode);
        var refused = await publisher.PublishAsync("qfull/v5", "6");
        Assert.Equal(MqttClientPublishReasonCode.QuotaExceeded, refused.ReasonCode);
        Assert.Equal(1, broker.Metrics.PublishesRejected);
        await broker.Log.WaitForAsync("Refused PUBLISH from qfull-v5-pub on 'qfull/v5'");
        Assert.True(publisher.Client.IsConnected);

        // Nothing accepted was lost, and the refused message was not delivered (the publisher still owns it).
        await using var back = await MqttNetPeer.ConnectPersistentAsync(broker.Port, MqttProtocolVersion.V500, "qfull-v5-sub");
        Assert.Equal(["1", "2", "3", "4", "5"], (await back.ReceiveAsync(QueueLimit)).Select(m => m.Text));
        await back.AssertNothingReceivedAsync();
        Assert.Equal(0, broker.Metrics.DroppedTotal);
    }

    [Fact]
    public async Task V311_publisher_is_held_back_until_the_queue_has_room()
    {
        await using var broker = await TestBroker.StartAsync($"max_queued_messages {QueueLimit}\nqueue_full_policy block");
        await OfflineSubscriber(broker, MqttProtocolVersion.V311, "qfull-v311-sub", "qfull/v311");
        await using var publisher = await MqttNetPeer.ConnectAsync(broker.Port, MqttProtocolVersion.V311, "qfull-v311-pub");

        for (int i = 1; i <= QueueLimit; i++)
            Assert.True((await publisher.PublishAsync("qfull/v311", i.ToString())).IsSuccess);
        // 3.1.1 has no way to refuse visibly: the PUBACK is withheld until the message can be taken.
        var held = publisher.PublishAsync("qfull/v311", "6");
        await broker.Log.WaitForAsync("Client qfull-v311-pub held back");
        await Task.WhenAny(held, Task.Delay(Waits.Quiet));
        Assert.False(held.IsCompleted, "the sixth PUBACK must wait for queue room");

        await using var back = await MqttNetPeer.ConnectPersistentAsync(broker.Port, MqttProtocolVersion.V311, "qfull-v311-sub");
        Assert.True((await held.Within(what: "the held-back publish to be accepted")).IsSuccess);
        Assert.Equal(["1", "2", "3", "4", "5", "6"], (await back.ReceiveAsync(QueueLimit + 1)).Select(m => m.Text));
        await back.AssertNothingReceivedAsync();
        Assert.Equal(0, broker.Metrics.DroppedTotal);
    }

    [Theory]
    [InlineData("drop_oldest", new[] { "3", "4", "5", "6", "7" })]
    [InlineData("drop_new", new[] { "1", "2", "3", "4", "5" })]
    public async Task Drop_policies_drop_count_and_log(string policy, string[] expected)
    {
        await using var broker = await TestBroker.StartAsync($"max_queued_messages {QueueLimit}\nqueue_full_policy {policy}");
        string id = $"qdrop-{policy}-sub";
        await OfflineSubscriber(broker, MqttProtocolVersion.V500, id, "qdrop/t");
        await using var publisher = await MqttNetPeer.ConnectAsync(broker.Port, MqttProtocolVersion.V500, $"qdrop-{policy}-pub");

        // The opt-in policies accept every publish.
        for (int i = 1; i <= QueueLimit + 2; i++)
            Assert.Equal(MqttClientPublishReasonCode.Success, (await publisher.PublishAsync("qdrop/t", i.ToString())).ReasonCode);
        Assert.Equal(2, broker.Metrics.Dropped(DropCause.QueueFull));
        Assert.Equal(0, broker.Metrics.PublishesRejected);
        await broker.Log.WaitForCountAsync($"for client {id}: queue full", 2);

        await using var back = await MqttNetPeer.ConnectPersistentAsync(broker.Port, MqttProtocolVersion.V500, id);
        Assert.Equal(expected, (await back.ReceiveAsync(QueueLimit)).Select(m => m.Text));
        await back.AssertNothingReceivedAsync();
    }

    [Fact]
    public async Task Max_queued_bytes_bounds_the_queue_by_payload_size()
    {
        await using var broker = await TestBroker.StartAsync("max_queued_bytes 10\nqueue_full_policy block");
        await OfflineSubscriber(broker, MqttProtocolVersion.V500, "qbytes-sub", "qbytes/t");
        await using var publisher = await MqttNetPeer.ConnectAsync(broker.Port, MqttProtocolVersion.V500, "qbytes-pub");

        Assert.Equal(MqttClientPublishReasonCode.Success, (await publisher.PublishAsync("qbytes/t", "aaaa")).ReasonCode);
        Assert.Equal(MqttClientPublishReasonCode.Success, (await publisher.PublishAsync("qbytes/t", "bbbb")).ReasonCode);
        // 8 bytes queued; 4 more would make 12 > 10.
        Assert.Equal(MqttClientPublishReasonCode.QuotaExceeded, (await publisher.PublishAsync("qbytes/t", "cccc")).ReasonCode);
        Assert.Equal(MqttClientPublishReasonCode.Success, (await publisher.PublishAsync("qbytes/t", "dd")).ReasonCode);

        await using var back = await MqttNetPeer.ConnectPersistentAsync(broker.Port, MqttProtocolVersion.V500, "qbytes-sub");
        Assert.Equal(["aaaa", "bbbb", "dd"], (await back.ReceiveAsync(3)).Select(m => m.Text));
        await back.AssertNothingReceivedAsync();
    }
}
