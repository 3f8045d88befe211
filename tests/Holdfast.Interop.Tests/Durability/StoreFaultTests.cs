using Holdfast.Interop.Tests.Infrastructure;
using Holdfast.Interop.Tests.MqttNet;
using MQTTnet;
using MQTTnet.Exceptions;
using MQTTnet.Formatter;
using MQTTnet.Protocol;

namespace Holdfast.Interop.Tests.Durability;

/// <summary>
/// Store faults (issue 3, DESIGN.md §6): while writes to the data directory fail, a QoS 1 publish to a topic with a
/// persistent subscriber is never acknowledged (the publisher is disconnected, MQTT 5 with 0x80 Unspecified error) and
/// the broker logs the failure; QoS 0 traffic and clean sessions (which store nothing) go on meanwhile; once writes succeed again the publisher reconnects, its
/// publish is acknowledged, and the subscriber's stored session delivers the messages.
/// </summary>
public sealed class StoreFaultTests
{
    [Theory]
    [InlineData(MqttProtocolVersion.V500)]
    [InlineData(MqttProtocolVersion.V311)]
    public async Task Failed_store_write_is_never_acknowledged_and_the_broker_recovers_when_writes_succeed(MqttProtocolVersion version)
    {
        string dataDirectory = Directory.CreateTempSubdirectory("holdfast-fault-").FullName;
        FaultInjectingStoreFile? file = null;
        try
        {
            await using var broker = await TestBroker.StartAsync($"persistence true\npersistence_location {dataDirectory}\n",
                openStoreFile: path => file = FaultInjectingStoreFile.Open(path));
            Assert.NotNull(file);
            string topic = $"fault/{version}/t", qos0Topic = $"fault/{version}/q0";
            string subscriberId = $"fault-sub-{version}", publisherId = $"fault-pub-{version}";
            var otherVersion = version == MqttProtocolVersion.V500 ? MqttProtocolVersion.V311 : MqttProtocolVersion.V500;

            await using var subscriber = await MqttNetPeer.ConnectPersistentAsync(broker.Port, MqttProtocolVersion.V500, subscriberId);
            await subscriber.SubscribeAsync(topic, MqttQualityOfServiceLevel.AtLeastOnce);
            await using var qos0 = await MqttNetPeer.ConnectAsync(broker.Port, otherVersion, $"fault-q0-{version}");
            await qos0.SubscribeAsync(qos0Topic, MqttQualityOfServiceLevel.AtMostOnce);
            await using var publisher = await MqttNetPeer.ConnectAsync(broker.Port, version, publisherId);

            // Positive control: with a healthy store the publish is acknowledged and delivered.
            Assert.Equal(MqttClientPublishReasonCode.Success, (await publisher.PublishAsync(topic, "before")).ReasonCode);
            Assert.Equal("before", (await subscriber.ReceiveAsync()).Text);

            file.Failing = true;
            var refused = await Record.ExceptionAsync(() => publisher.PublishAsync(topic, "during").Within(what: "the publish during the fault to end"));
            // It must end by the broker's doing (no acknowledgement, connection closed), not hang and not succeed.
            Assert.True(refused is not null, "the QoS 1 publish was acknowledged while the store could not write it");
            Assert.IsNotType<TimeoutException>(refused);
            var cut = await publisher.Disconnected.Within(what: "the publisher to be disconnected");
            if (version == MqttProtocolVersion.V500)
            {
                Assert.Equal(MqttClientDisconnectReason.UnspecifiedError, cut.Reason);
                var disconnect = Assert.IsType<MqttClientUnexpectedDisconnectReceivedException>(refused);
                Assert.Equal(MqttDisconnectReasonCode.UnspecifiedError, disconnect.ReasonCode);
            }
            await broker.Log.WaitForAsync("Store write failed");
            await broker.Log.WaitForAsync($"Client {publisherId}: disconnecting, store write failed");

            // QoS 0 needs nothing from the store: a client that only uses it is served all along.
            await qos0.PublishAsync(qos0Topic, "still served", MqttQualityOfServiceLevel.AtMostOnce);
            Assert.Equal("still served", (await qos0.ReceiveAsync()).Text);
            // The store was failing throughout (the writer retried and failed again meanwhile) and the client kept its connection.
            await Waits.UntilAsync(() => file.FailedWrites >= 2, "the store writer to retry the failed write");
            Assert.True(qos0.Client.IsConnected);
            Assert.False(qos0.Disconnected.IsCompleted);

            // Clean sessions have nothing stored: a new one connects, subscribes and gets a QoS 1 publish acknowledged
            // (it reaches only clean subscribers, so nothing it changed needs the disk).
            string cleanTopic = $"fault/{version}/clean";
            await using var cleanSubscriber = await MqttNetPeer.ConnectAsync(broker.Port, version, $"fault-clean-sub-{version}");
            await cleanSubscriber.SubscribeAsync(cleanTopic, MqttQualityOfServiceLevel.AtLeastOnce);
            await using var cleanPublisher = await MqttNetPeer.ConnectAsync(broker.Port, otherVersion, $"fault-clean-pub-{version}");
            Assert.Equal(MqttClientPublishReasonCode.Success, (await cleanPublisher.PublishAsync(cleanTopic, "clean")).ReasonCode);
            Assert.Equal("clean", (await cleanSubscriber.ReceiveAsync()).Text);

            file.Failing = false;
            await broker.Log.WaitForAsync("Store writes succeed again");

            // The publisher still holds the unacknowledged message: it reconnects and publishes it again, then a new one.
            await using var again = await MqttNetPeer.ConnectAsync(broker.Port, version, publisherId);
            Assert.Equal(MqttClientPublishReasonCode.Success, (await again.PublishAsync(topic, "during")).ReasonCode);
            Assert.Equal(MqttClientPublishReasonCode.Success, (await again.PublishAsync(topic, "after")).ReasonCode);

            // The subscriber's delivery of "during" waited on the failed write and was cut with it; the stored session
            // gives it everything on reconnect. "during" may arrive twice (the broker kept the first copy and wrote it on
            // retry, and the publisher sent it again): QoS 1 allows that. Nothing may come after "after".
            var subscriberCut = await subscriber.Disconnected.Within(what: "the subscriber, whose delivery waited on the failed write, to be disconnected");
            Assert.Equal(MqttClientDisconnectReason.UnspecifiedError, subscriberCut.Reason);
            await using var resumed = await MqttNetPeer.ConnectPersistentAsync(broker.Port, MqttProtocolVersion.V500, subscriberId);
            Assert.True(resumed.ConnectResult.IsSessionPresent);
            var texts = new List<string>();
            while (texts.Count < 5 && (texts.Count == 0 || texts[^1] != "after")) texts.Add((await resumed.ReceiveAsync()).Text);
            Assert.Equal("after", texts[^1]);
            Assert.Contains("during", texts);
            Assert.All(texts[..^1], t => Assert.Equal("during", t));
            await resumed.AssertNothingReceivedAsync();
        }
        finally
        {
            if (file is not null) file.Failing = false;
            Directory.Delete(dataDirectory, recursive: true);
        }
    }
}
