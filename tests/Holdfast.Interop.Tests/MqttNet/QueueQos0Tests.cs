using Holdfast.Broker;
using Holdfast.Interop.Tests.Infrastructure;
using MQTTnet.Formatter;
using MQTTnet.Protocol;

namespace Holdfast.Interop.Tests.MqttNet;

/// <summary><c>queue_qos0_messages</c> (Mosquitto's meaning): QoS 0 messages for an offline persistent session are
/// queued only when it is on.</summary>
public sealed class QueueQos0Tests
{
    [Theory]
    [InlineData(MqttProtocolVersion.V311, true)]
    [InlineData(MqttProtocolVersion.V311, false)]
    [InlineData(MqttProtocolVersion.V500, true)]
    [InlineData(MqttProtocolVersion.V500, false)]
    public async Task Qos0_messages_for_an_offline_session_are_queued_only_when_enabled(MqttProtocolVersion version, bool queueQos0)
    {
        await using var broker = await TestBroker.StartAsync($"queue_qos0_messages {(queueQos0 ? "true" : "false")}");
        string id = $"q0-{version}-{queueQos0}";
        await using (var subscriber = await MqttNetPeer.ConnectPersistentAsync(broker.Port, version, id))
        {
            await subscriber.SubscribeAsync("q0/zero", MqttQualityOfServiceLevel.AtMostOnce);
            await subscriber.SubscribeAsync("q0/control", MqttQualityOfServiceLevel.AtLeastOnce);
            await subscriber.DisconnectAsync();
        }
        await broker.Log.WaitForAsync($"Client {id} disconnected.");

        await using (var publisher = await MqttNetPeer.ConnectAsync(broker.Port, version, $"q0-pub-{version}-{queueQos0}"))
        {
            await publisher.PublishAsync("q0/zero", "zero-a", MqttQualityOfServiceLevel.AtMostOnce);
            // A QoS 1 publish downgraded to the QoS 0 subscription is a QoS 0 delivery too.
            await publisher.PublishAsync("q0/zero", "zero-b", MqttQualityOfServiceLevel.AtLeastOnce);
            await publisher.PublishAsync("q0/control", "control", MqttQualityOfServiceLevel.AtLeastOnce);
        }

        await using var back = await MqttNetPeer.ConnectPersistentAsync(broker.Port, version, id);
        string[] expected = queueQos0 ? ["zero-a", "zero-b", "control"] : ["control"];
        var received = await back.ReceiveAsync(expected.Length);
        Assert.Equal(expected, received.Select(m => m.Text));
        Assert.All(received.Where(m => m.Topic == "q0/zero"), m => Assert.Equal(MqttQualityOfServiceLevel.AtMostOnce, m.QoS));
        await back.AssertNothingReceivedAsync();
        // Not queued is still counted: nothing the broker does not deliver goes unrecorded.
        Assert.Equal(queueQos0 ? 0 : 2, broker.Metrics.Dropped(DropCause.Qos0NotQueued));
    }
}
