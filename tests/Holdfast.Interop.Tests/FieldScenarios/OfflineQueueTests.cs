using Holdfast.Interop.Tests.Infrastructure;
using Holdfast.Interop.Tests.MqttNet;
using MQTTnet.Formatter;
using MQTTnet.Protocol;

namespace Holdfast.Interop.Tests.FieldScenarios;

/// <summary>
/// Field scenario 6 (issue 2, DESIGN.md §2.1-2): messages published while a persistent subscriber is offline are all
/// delivered when it returns, in the order they were published, none twice.
/// </summary>
public sealed class OfflineQueueTests
{
    private const int Count = 100;

    [Theory]
    [InlineData(MqttProtocolVersion.V311, MqttQualityOfServiceLevel.AtLeastOnce)]
    [InlineData(MqttProtocolVersion.V311, MqttQualityOfServiceLevel.ExactlyOnce)]
    [InlineData(MqttProtocolVersion.V500, MqttQualityOfServiceLevel.AtLeastOnce)]
    [InlineData(MqttProtocolVersion.V500, MqttQualityOfServiceLevel.ExactlyOnce)]
    public async Task All_messages_published_while_offline_arrive_in_order_without_duplicates(MqttProtocolVersion version, MqttQualityOfServiceLevel qos)
    {
        await using var broker = await TestBroker.StartAsync();
        string subscriberId = $"offline-sub-{version}-{qos}";
        string topic = $"field/offline/{version}/{qos}";

        await using (var subscriber = await MqttNetPeer.ConnectPersistentAsync(broker.Port, version, subscriberId))
        {
            await subscriber.SubscribeAsync(topic, qos);
            await subscriber.DisconnectAsync();
        }
        await broker.Log.WaitForAsync($"Client {subscriberId} disconnected.");

        await using (var publisher = await MqttNetPeer.ConnectAsync(broker.Port, version, $"offline-pub-{version}-{qos}"))
        {
            for (int i = 0; i < Count; i++)
            {
                var result = await publisher.PublishAsync(topic, i.ToString(), qos);
                Assert.True(result.IsSuccess, $"publish {i}: {result.ReasonCode}");
            }
        }

        await using var returning = await MqttNetPeer.ConnectPersistentAsync(broker.Port, version, subscriberId);
        Assert.True(returning.ConnectResult.IsSessionPresent);
        var received = await returning.ReceiveAsync(Count);
        Assert.Equal(Enumerable.Range(0, Count).Select(i => i.ToString()), received.Select(m => m.Text));
        Assert.All(received, m => Assert.Equal(qos, m.QoS));
        Assert.All(received, m => Assert.False(m.Dup));
        await returning.AssertNothingReceivedAsync();
        Assert.Equal(0, broker.Metrics.DroppedTotal);
    }
}
