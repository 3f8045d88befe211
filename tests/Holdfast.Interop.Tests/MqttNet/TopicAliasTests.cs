using Holdfast.Interop.Tests.Infrastructure;
using MQTTnet;
using MQTTnet.Formatter;
using MQTTnet.Protocol;

namespace Holdfast.Interop.Tests.MqttNet;

/// <summary>Topic aliases from a publisher (MQTT 5.0 §3.3.2.3.4): resolved per connection, never shown to
/// subscribers; an alias above the broker's Topic Alias Maximum gets DISCONNECT 0x94 [MQTT-3.3.2-9].</summary>
public sealed class TopicAliasTests
{
    private const MqttProtocolVersion V5 = MqttProtocolVersion.V500;

    private static MqttApplicationMessage Aliased(string topic, ushort alias, string payload) =>
        new MqttApplicationMessageBuilder().WithTopic(topic).WithTopicAlias(alias).WithPayload(payload)
            .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).Build();

    [Fact]
    public async Task Publisher_topic_alias_is_resolved_for_subscribers()
    {
        await using var broker = await TestBroker.StartAsync("max_topic_alias 5");
        await using var subscriber = await MqttNetPeer.ConnectAsync(broker.Port, V5, "alias-sub");
        await subscriber.SubscribeAsync("alias/a/rather/long/topic/name");
        await using var publisher = await MqttNetPeer.ConnectAsync(broker.Port, V5, "alias-pub");
        Assert.Equal(5, publisher.ConnectResult.TopicAliasMaximum);

        Assert.True((await publisher.PublishAsync(Aliased("alias/a/rather/long/topic/name", 1, "sets alias"))).IsSuccess);
        Assert.True((await publisher.PublishAsync(Aliased("", 1, "uses alias"))).IsSuccess);
        await broker.Log.WaitForAsync("Received PUBLISH from alias-pub (d0, q1, r0, m2, '', ...");

        var received = await subscriber.ReceiveAsync(2);
        Assert.Equal(["sets alias", "uses alias"], received.Select(m => m.Text));
        Assert.All(received, m => Assert.Equal("alias/a/rather/long/topic/name", m.Topic));
        Assert.All(received, m => Assert.Equal(0, m.TopicAlias));
    }

    [Fact]
    public async Task Alias_above_the_topic_alias_maximum_disconnects_with_0x94()
    {
        await using var broker = await TestBroker.StartAsync("max_topic_alias 2");
        await using var subscriber = await MqttNetPeer.ConnectAsync(broker.Port, V5, "alias-max-sub");
        await subscriber.SubscribeAsync("alias/max");
        await using var publisher = await MqttNetPeer.ConnectAsync(broker.Port, V5, "alias-max-pub");

        _ = publisher.PublishAsync(Aliased("alias/max", 3, "too high"));
        var disconnected = await publisher.Disconnected.Within();
        Assert.Equal(MqttClientDisconnectReason.TopicAliasInvalid, disconnected.Reason);
        // Not routed: the positive control from another client arrives first.
        await using var other = await MqttNetPeer.ConnectAsync(broker.Port, V5, "alias-max-other");
        await other.PublishAsync("alias/max", "control");
        Assert.Equal("control", (await subscriber.ReceiveAsync()).Text);
    }
}
