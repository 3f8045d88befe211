using Holdfast.Interop.Tests.Infrastructure;
using MQTTnet;
using MQTTnet.Formatter;
using MQTTnet.Protocol;

namespace Holdfast.Interop.Tests.MqttNet;

/// <summary>max_qos on a listener, seen by the MQTTnet client: the CONNACK's Maximum QoS, a SUBSCRIBE granted at most
/// it.</summary>
public sealed class MaxQoSListenerTests
{
    [Fact]
    public async Task The_client_is_told_the_maximum_and_granted_at_most_it()
    {
        await using var broker = await TestBroker.StartAsync(listenerText: "max_qos 1");
        await using var client = await MqttNetPeer.ConnectAsync(broker.Port, MqttProtocolVersion.V500, "max-qos-client");
        Assert.Equal(MqttQualityOfServiceLevel.AtLeastOnce, client.ConnectResult.MaximumQoS);
        var granted = await client.SubscribeAsync(new MqttClientSubscribeOptionsBuilder()
            .WithTopicFilter("max-qos/t", MqttQualityOfServiceLevel.ExactlyOnce).Build());
        Assert.Equal(MqttClientSubscribeResultCode.GrantedQoS1, Assert.Single(granted.Items).ResultCode);
    }
}
