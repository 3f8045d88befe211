using Holdfast.Interop.Tests.Infrastructure;
using Holdfast.Protocol;
using MQTTnet;
using MQTTnet.Formatter;
using MQTTnet.Protocol;

namespace Holdfast.Interop.Tests.MqttNet;

/// <summary>Retained messages (MQTT 5.0 §3.3.1.3; 3.1.1 §3.3.1.3): set, replaced, cleared by an empty payload, sent on
/// subscribe with RETAIN=1; and <c>retain_available false</c>.</summary>
public sealed class RetainedMessageTests
{
    [Theory]
    [InlineData(MqttProtocolVersion.V311)]
    [InlineData(MqttProtocolVersion.V500)]
    public async Task Retained_message_is_set_replaced_cleared_and_sent_on_subscribe(MqttProtocolVersion version)
    {
        await using var broker = await TestBroker.StartAsync();
        string topic = $"retained/{version}";
        await using var publisher = await MqttNetPeer.ConnectAsync(broker.Port, version, $"retain-pub-{version}");
        await using var live = await MqttNetPeer.ConnectAsync(broker.Port, version, $"retain-live-{version}");
        await live.SubscribeAsync(topic);

        await publisher.PublishAsync(topic, "v1", retain: true);
        // To a subscription that already existed the message goes out as a normal one, RETAIN=0 [MQTT-3.3.1-9 (3.1.1), MQTT-3.3.1-12].
        Assert.False((await live.ReceiveAsync()).Retain);
        Assert.Equal("v1", await RetainedSeenByNewSubscriber(broker, version, topic, "1"));

        await publisher.PublishAsync(topic, "v2", retain: true);
        Assert.Equal("v2", await RetainedSeenByNewSubscriber(broker, version, topic, "2"));
        Assert.Equal(1, broker.Status().RetainedMessages);

        // An empty retained payload clears the topic [MQTT-3.3.1-6/7 (3.1.1), MQTT-3.3.1-6].
        await publisher.PublishAsync(topic, "", retain: true);
        Assert.Null(await RetainedSeenByNewSubscriber(broker, version, topic, "3"));
        Assert.Equal(0, broker.Status().RetainedMessages);
    }

    /// <summary>Subscribes a fresh client, then publishes a live marker: returns the retained payload that came before
    /// the marker, or null when none did.</summary>
    private static async Task<string?> RetainedSeenByNewSubscriber(TestBroker broker, MqttProtocolVersion version, string topic, string round)
    {
        await using var subscriber = await MqttNetPeer.ConnectAsync(broker.Port, version, $"retain-new-{version}-{round}");
        await subscriber.SubscribeAsync(topic);
        await using var marker = await MqttNetPeer.ConnectAsync(broker.Port, version, $"retain-marker-{version}-{round}");
        await marker.PublishAsync(topic, "marker");

        var first = await subscriber.ReceiveAsync();
        if (first.Text == "marker")
        {
            Assert.False(first.Retain);
            return null;
        }
        Assert.True(first.Retain, "a retained message sent because of a new subscription has RETAIN=1 [MQTT-3.3.1-8]");
        var second = await subscriber.ReceiveAsync();
        Assert.Equal("marker", second.Text);
        return first.Text;
    }

    [Theory]
    [InlineData(MqttProtocolVersion.V311)]
    [InlineData(MqttProtocolVersion.V500)]
    public async Task Retain_unavailable_is_advertised_and_a_retained_publish_disconnects_the_client(MqttProtocolVersion version)
    {
        await using var broker = await TestBroker.StartAsync("retain_available false");
        var options = MqttNetPeer.Options(broker.Port, version, $"retain-off-{version}").Build();
        options.ValidateFeatures = false; // let the retained PUBLISH reach the broker
        await using var client = await MqttNetPeer.ConnectAsync(options);
        if (version == MqttProtocolVersion.V500)
            Assert.False(client.ConnectResult.RetainAvailable);

        // A non-retained publish is fine.
        Assert.True((await client.PublishAsync($"retain-off/{version}", "plain")).IsSuccess);

        _ = client.PublishAsync($"retain-off/{version}", "retained", retain: true);
        var disconnected = await client.Disconnected.Within(what: "the broker to disconnect a client publishing a retained message");
        if (version == MqttProtocolVersion.V500)
            Assert.Equal(MqttClientDisconnectReason.RetainNotSupported, disconnected.Reason);
        Assert.Equal(0, broker.Status().RetainedMessages);
    }

    [Fact]
    public async Task V5_connect_with_a_retained_will_is_refused_with_0x9A_when_retain_is_unavailable()
    {
        // MQTT 5.0 §3.2.2.3.5 [MQTT-3.2.2-13]: a Will Retain the server cannot honour is an error, not a silent downgrade.
        await using var broker = await TestBroker.StartAsync("retain_available false");
        var connect = RawMqttClient.Connect(ProtocolVersion.V500, "retain-off-will", persistent: false);
        connect.Will = new WillMessage { Topic = "retain-off/will", Payload = "w"u8.ToArray(), Retain = true };
        await using var client = await RawMqttClient.OpenAsync(broker.Port, ProtocolVersion.V500);
        await client.SendAsync(connect);

        var connack = await client.ReceiveAsync<ConnAckPacket>();
        Assert.Equal(ReasonCode.RetainNotSupported, connack.ReasonCode);
        await client.Closed.Within(what: "the refused connection to close");

        // The same will without retain is accepted.
        connect.Will.Retain = false;
        var (accepted, ok) = await RawMqttClient.ConnectAsync(broker.Port, connect);
        await using var _ = accepted;
        Assert.Equal(ReasonCode.Success, ok.ReasonCode);
    }
}
