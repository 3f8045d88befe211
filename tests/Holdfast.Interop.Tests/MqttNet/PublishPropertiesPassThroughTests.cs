using System.Text;
using Holdfast.Interop.Tests.Infrastructure;
using MQTTnet;
using MQTTnet.Formatter;
using MQTTnet.Protocol;

namespace Holdfast.Interop.Tests.MqttNet;

/// <summary>PUBLISH properties the broker forwards unaltered (MQTT 5.0 §3.3.2.3): user properties in order with
/// duplicates [MQTT-3.3.2-17/18], response topic, correlation data, payload format indicator, content type.</summary>
public sealed class PublishPropertiesPassThroughTests
{
    private static ReadOnlyMemory<byte> Utf8(string value) => Encoding.UTF8.GetBytes(value);

    [Theory]
    [InlineData(MqttQualityOfServiceLevel.AtMostOnce)]
    [InlineData(MqttQualityOfServiceLevel.AtLeastOnce)]
    [InlineData(MqttQualityOfServiceLevel.ExactlyOnce)]
    public async Task Application_properties_reach_the_subscriber_unchanged(MqttQualityOfServiceLevel qos)
    {
        await using var broker = await TestBroker.StartAsync();
        await using var subscriber = await MqttNetPeer.ConnectAsync(broker.Port, MqttProtocolVersion.V500, $"props-sub-{qos}");
        await subscriber.SubscribeAsync("props/t", MqttQualityOfServiceLevel.ExactlyOnce);
        await using var publisher = await MqttNetPeer.ConnectAsync(broker.Port, MqttProtocolVersion.V500, $"props-pub-{qos}");

        byte[] correlation = [0x00, 0x01, 0xFE, 0xFF];
        await publisher.PublishAsync(new MqttApplicationMessageBuilder()
            .WithTopic("props/t")
            .WithPayload("{\"t\":21.5}")
            .WithQualityOfServiceLevel(qos)
            .WithUserProperty("site", Utf8("plant-7"))
            .WithUserProperty("unit", Utf8("°C"))
            .WithUserProperty("site", Utf8("again"))
            .WithResponseTopic("props/reply")
            .WithCorrelationData(correlation)
            .WithPayloadFormatIndicator(MqttPayloadFormatIndicator.CharacterData)
            .WithContentType("application/json")
            .Build());

        var m = await subscriber.ReceiveAsync();
        Assert.Equal(qos, m.QoS);
        Assert.Equal("{\"t\":21.5}", m.Text);
        Assert.Equal([("site", "plant-7"), ("unit", "°C"), ("site", "again")], m.UserProperties);
        Assert.Equal("props/reply", m.ResponseTopic);
        Assert.Equal(correlation, m.CorrelationData);
        Assert.Equal(MqttPayloadFormatIndicator.CharacterData, m.PayloadFormatIndicator);
        Assert.Equal("application/json", m.ContentType);
    }

    [Fact]
    public async Task A_v311_subscriber_gets_the_payload_of_a_v5_publish_with_properties()
    {
        await using var broker = await TestBroker.StartAsync();
        await using var subscriber = await MqttNetPeer.ConnectAsync(broker.Port, MqttProtocolVersion.V311, "props-v311-sub");
        await subscriber.SubscribeAsync("props/mixed");
        await using var publisher = await MqttNetPeer.ConnectAsync(broker.Port, MqttProtocolVersion.V500, "props-v5-pub");

        await publisher.PublishAsync(new MqttApplicationMessageBuilder().WithTopic("props/mixed").WithPayload(Encoding.UTF8.GetBytes("payload"))
            .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).WithUserProperty("k", Utf8("v")).WithContentType("text/plain").Build());
        var m = await subscriber.ReceiveAsync();
        Assert.Equal("payload", m.Text);
        Assert.Empty(m.UserProperties);
    }
}
