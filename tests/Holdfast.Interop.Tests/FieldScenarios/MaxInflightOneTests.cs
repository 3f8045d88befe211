using System.Diagnostics;
using Holdfast.Interop.Tests.Infrastructure;
using Holdfast.Interop.Tests.MqttNet;
using MQTTnet.Formatter;
using MQTTnet.Protocol;

namespace Holdfast.Interop.Tests.FieldScenarios;

/// <summary>
/// Field scenario 2 (issue 2): with <c>max_inflight_messages 1</c> a second QoS 1 message waits until the first is
/// acknowledged, then arrives; every message arrives, in order, none twice.
/// </summary>
public sealed class MaxInflightOneTests
{
    private const int Count = 20;

    [Theory]
    [InlineData(MqttProtocolVersion.V311)]
    [InlineData(MqttProtocolVersion.V500)]
    public async Task Each_message_waits_for_the_previous_ack_and_all_arrive_in_order(MqttProtocolVersion version)
    {
        await using var broker = await TestBroker.StartAsync("max_inflight_messages 1");
        string topic = $"field/inflight-one/{version}";
        await using var subscriber = await MqttNetPeer.ConnectPersistentAsync(broker.Port, version, $"inflight-one-sub-{version}", manualAck: true);
        await subscriber.SubscribeAsync(topic, MqttQualityOfServiceLevel.AtLeastOnce);
        await using var publisher = await MqttNetPeer.ConnectAsync(broker.Port, version, $"inflight-one-pub-{version}");

        // Every publish is acknowledged by the broker (accepted and queued) before the subscriber acks anything.
        for (int i = 0; i < Count; i++)
            await publisher.PublishAsync(topic, i.ToString());

        var current = await subscriber.ReceiveAsync();
        Assert.Equal("0", current.Text);
        // Message 1 is held by the broker while message 0 is unacknowledged.
        await subscriber.AssertNothingReceivedAsync();

        var packetIds = new List<ushort> { current.PacketId };
        for (int i = 1; i < Count; i++)
        {
            long ackedAt = Stopwatch.GetTimestamp();
            await current.AckAsync();
            var next = await subscriber.ReceiveAsync();
            Assert.Equal(i.ToString(), next.Text);
            Assert.False(next.Dup);
            // It can only have been sent after the broker saw the previous PUBACK.
            Assert.True(next.ArrivedAt >= ackedAt, $"message {i} arrived before message {i - 1} was acknowledged");
            packetIds.Add(next.PacketId);
            current = next;
        }
        await current.AckAsync();
        await broker.Log.WaitForAsync($"Received PUBACK from {subscriber.ClientId} (Mid: {current.PacketId}, RC:");

        await subscriber.AssertNothingReceivedAsync();
        Assert.Equal(Enumerable.Range(0, Count).Select(i => i.ToString()), subscriber.All.Select(m => m.Text));
    }
}
