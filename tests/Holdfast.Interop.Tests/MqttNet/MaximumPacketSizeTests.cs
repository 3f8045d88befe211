using Holdfast.Broker;
using Holdfast.Interop.Tests.Infrastructure;
using MQTTnet;
using MQTTnet.Formatter;
using MQTTnet.Protocol;

namespace Holdfast.Interop.Tests.MqttNet;

/// <summary>Maximum Packet Size both ways (MQTT 5.0 §3.1.2.11.4, §3.2.2.3.6): a message larger than the client's
/// maximum is not sent to it (discarded as if delivered [MQTT-3.1.2-25], counted); a packet larger than the broker's
/// max_packet_size gets DISCONNECT 0x95 (3.1.1: the connection is closed).</summary>
public sealed class MaximumPacketSizeTests
{
    [Theory]
    [InlineData(MqttQualityOfServiceLevel.AtMostOnce)]
    [InlineData(MqttQualityOfServiceLevel.AtLeastOnce)]
    public async Task Message_larger_than_the_clients_maximum_packet_size_is_not_sent_to_it(MqttQualityOfServiceLevel qos)
    {
        await using var broker = await TestBroker.StartAsync();
        await using var small = await MqttNetPeer.ConnectAsync(broker.Port, MqttProtocolVersion.V500, $"mps-small-{qos}", b => b.WithMaximumPacketSize(256));
        await small.SubscribeAsync("mps/t", qos);
        await using var large = await MqttNetPeer.ConnectAsync(broker.Port, MqttProtocolVersion.V500, $"mps-large-{qos}");
        await large.SubscribeAsync("mps/t", qos);
        await using var publisher = await MqttNetPeer.ConnectAsync(broker.Port, MqttProtocolVersion.V500, $"mps-pub-{qos}");

        await publisher.PublishAsync("mps/t", new string('x', 1000), qos);
        await publisher.PublishAsync("mps/t", "fits", qos);

        // The client without a limit gets both (the control); the limited one only what fits.
        Assert.Equal([1000, 4], (await large.ReceiveAsync(2)).Select(m => m.Payload.Length));
        Assert.Equal("fits", (await small.ReceiveAsync()).Text);
        await small.AssertNothingReceivedAsync();
        Assert.Equal(1, broker.Metrics.Dropped(DropCause.PacketTooLarge));
        await broker.Log.WaitForAsync($"for client mps-small-{qos}: larger than the client's maximum packet size");
    }

    [Theory]
    [InlineData(MqttProtocolVersion.V311)]
    [InlineData(MqttProtocolVersion.V500)]
    public async Task Publish_larger_than_max_packet_size_disconnects_the_client(MqttProtocolVersion version)
    {
        await using var broker = await TestBroker.StartAsync("max_packet_size 1024");
        await using var subscriber = await MqttNetPeer.ConnectAsync(broker.Port, version, $"mps-in-sub-{version}");
        await subscriber.SubscribeAsync("mps/in");
        await using var publisher = await MqttNetPeer.ConnectAsync(broker.Port, version, $"mps-in-pub-{version}");
        if (version == MqttProtocolVersion.V500)
            Assert.Equal(1024u, publisher.ConnectResult.MaximumPacketSize);

        Assert.True((await publisher.PublishAsync("mps/in", new string('s', 900))).IsSuccess);
        _ = publisher.PublishAsync("mps/in", new string('L', 2000));
        var disconnected = await publisher.Disconnected.Within(what: "the broker to disconnect the oversize publisher");
        if (version == MqttProtocolVersion.V500)
            Assert.Equal(MqttClientDisconnectReason.PacketTooLarge, disconnected.Reason);

        Assert.Equal(900, (await subscriber.ReceiveAsync()).Payload.Length);
        await subscriber.AssertNothingReceivedAsync();
        Assert.True(subscriber.Client.IsConnected, "other clients are unaffected");
    }

    [Theory]
    [InlineData(MqttProtocolVersion.V311)]
    [InlineData(MqttProtocolVersion.V500)]
    public async Task Payload_over_message_size_limit_is_refused_visibly(MqttProtocolVersion version)
    {
        // MQTT 5: PUBACK 0x97 (the publisher still owns it); 3.1.1 has no code, so the broker closes rather than
        // acknowledge a message it drops.
        await using var broker = await TestBroker.StartAsync("message_size_limit 100");
        await using var subscriber = await MqttNetPeer.ConnectAsync(broker.Port, version, $"msl-sub-{version}");
        await subscriber.SubscribeAsync("msl/t");
        await using var publisher = await MqttNetPeer.ConnectAsync(broker.Port, version, $"msl-pub-{version}");

        Assert.True((await publisher.PublishAsync("msl/t", new string('a', 100))).IsSuccess);
        if (version == MqttProtocolVersion.V500)
        {
            var refused = await publisher.PublishAsync("msl/t", new string('b', 101));
            Assert.Equal(MqttClientPublishReasonCode.QuotaExceeded, refused.ReasonCode);
            Assert.True(publisher.Client.IsConnected);
        }
        else
        {
            _ = publisher.PublishAsync("msl/t", new string('b', 101));
            await publisher.Disconnected.Within(what: "the 3.1.1 publisher to be disconnected");
        }
        Assert.Equal(100, (await subscriber.ReceiveAsync()).Payload.Length);
        await subscriber.AssertNothingReceivedAsync();
        Assert.Equal(1, broker.Metrics.Dropped(DropCause.PacketTooLarge));
    }
}
