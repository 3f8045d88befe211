using Holdfast.Interop.Tests.Infrastructure;
using MQTTnet;
using MQTTnet.Formatter;
using MQTTnet.Protocol;

namespace Holdfast.Interop.Tests.MqttNet;

/// <summary>Session takeover: a second connection with the same client id replaces the first [MQTT-3.1.4-3]; the old
/// connection gets DISCONNECT 0x8E (MQTT 5) and ends abnormally, so its will is published (MQTT 5.0 §3.1.4).</summary>
public sealed class SessionTakeoverTests
{
    [Theory]
    [InlineData(MqttProtocolVersion.V311)]
    [InlineData(MqttProtocolVersion.V500)]
    public async Task Second_connection_with_the_same_client_id_disconnects_the_first(MqttProtocolVersion version)
    {
        await using var broker = await TestBroker.StartAsync();
        string id = $"takeover-{version}";
        string topic = $"takeover/{version}";
        await using var first = await MqttNetPeer.ConnectPersistentAsync(broker.Port, version, id);
        await first.SubscribeAsync(topic);

        await using var second = await MqttNetPeer.ConnectPersistentAsync(broker.Port, version, id);
        Assert.True(second.ConnectResult.IsSessionPresent, "the takeover resumes the persistent session");

        var disconnected = await first.Disconnected.Within(what: "the first connection to be taken over");
        if (version == MqttProtocolVersion.V500)
            Assert.Equal(MqttClientDisconnectReason.SessionTakenOver, disconnected.Reason);
        await broker.Log.WaitForAsync($"Client {id} already connected, closing old connection.");

        // The session (and its subscription) now serves the second connection only.
        await using var publisher = await MqttNetPeer.ConnectAsync(broker.Port, version, $"takeover-pub-{version}");
        await publisher.PublishAsync(topic, "after takeover");
        Assert.Equal("after takeover", (await second.ReceiveAsync()).Text);
        Assert.Empty(first.All);
        Assert.True(second.Client.IsConnected);
    }

    [Theory]
    [InlineData(MqttProtocolVersion.V311)]
    [InlineData(MqttProtocolVersion.V500)]
    public async Task Will_of_the_taken_over_connection_is_published(MqttProtocolVersion version)
    {
        await using var broker = await TestBroker.StartAsync();
        string id = $"takeover-will-{version}";
        string willTopic = $"takeover-will/{version}";
        await using var watcher = await MqttNetPeer.ConnectAsync(broker.Port, version, $"takeover-watcher-{version}");
        await watcher.SubscribeAsync(willTopic);

        await using var first = await MqttNetPeer.ConnectAsync(broker.Port, version, id,
            b => b.WithWillTopic(willTopic).WithWillPayload("first is gone").WithWillQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce));
        await using var second = await MqttNetPeer.ConnectAsync(broker.Port, version, id);
        await first.Disconnected.Within();

        var will = await watcher.ReceiveAsync();
        Assert.Equal(willTopic, will.Topic);
        Assert.Equal("first is gone", will.Text);
        await watcher.AssertNothingReceivedAsync();
    }

    [Theory]
    [InlineData(MqttProtocolVersion.V311)]
    [InlineData(MqttProtocolVersion.V500)]
    public async Task Takeover_resends_the_unacknowledged_message_with_dup_to_the_new_connection(MqttProtocolVersion version)
    {
        await using var broker = await TestBroker.StartAsync();
        string id = $"takeover-inflight-{version}";
        string topic = $"takeover-inflight/{version}";
        await using var first = await MqttNetPeer.ConnectPersistentAsync(broker.Port, version, id, manualAck: true);
        await first.SubscribeAsync(topic);
        await using var publisher = await MqttNetPeer.ConnectAsync(broker.Port, version, $"takeover-inflight-pub-{version}");
        await publisher.PublishAsync(topic, "inflight");
        var original = await first.ReceiveAsync();

        await using var second = await MqttNetPeer.ConnectPersistentAsync(broker.Port, version, id, manualAck: true);
        var resent = await second.ReceiveAsync();
        Assert.Equal("inflight", resent.Text);
        Assert.True(resent.Dup);
        Assert.Equal(original.PacketId, resent.PacketId);
        await resent.AckAsync();
        await broker.Log.WaitForAsync($"Received PUBACK from {id} (Mid: {resent.PacketId}, RC:");
        await second.AssertNothingReceivedAsync();
        await first.Disconnected.Within();
    }
}
