using System.Text;
using Holdfast.Interop.Tests.Infrastructure;
using Holdfast.Protocol;
using MQTTnet;
using MQTTnet.Formatter;
using MQTTnet.Protocol;

namespace Holdfast.Interop.Tests.MqttNet;

/// <summary>Receive Maximum both ways (MQTT 5.0 §3.3.4, §4.9): the broker advertises its own and disconnects a client
/// that exceeds it with 0x93 [MQTT-3.3.4-7/9]; the broker never has more unacknowledged QoS 1/2 messages out to a
/// client than the client's Receive Maximum [MQTT-3.3.4-9].</summary>
public sealed class ReceiveMaximumTests
{
    [Fact]
    public async Task Broker_advertises_its_receive_maximum()
    {
        await using var broker = await TestBroker.StartAsync("receive_maximum 7");
        await using var client = await MqttNetPeer.ConnectAsync(broker.Port, MqttProtocolVersion.V500, "rm-advertised");
        Assert.Equal((ushort)7, client.ConnectResult.ReceiveMaximum);
    }

    [Fact]
    public async Task Client_exceeding_the_broker_receive_maximum_is_disconnected_with_0x93()
    {
        await using var broker = await TestBroker.StartAsync("receive_maximum 3");
        var (client, connack) = await RawMqttClient.ConnectAsync(broker.Port, RawMqttClient.Connect(ProtocolVersion.V500, "rm-exceeder", persistent: false));
        await using var _ = client;
        Assert.Equal((ushort)3, connack.Properties?.ReceiveMaximum);

        // Three QoS 2 publishes left unreleased (no PUBREL): exactly the maximum, each accepted.
        for (ushort id = 1; id <= 3; id++)
        {
            await client.SendAsync(Publish(id));
            var pubrec = await client.ReceiveAsync<PubRecPacket>();
            Assert.Equal(id, pubrec.PacketId);
            Assert.True((byte)pubrec.ReasonCode < 0x80, $"PUBREC rc 0x{(byte)pubrec.ReasonCode:X2}");
        }
        Assert.False(client.Closed.IsCompleted);

        // The fourth exceeds it.
        await client.SendAsync(Publish(4));
        var disconnect = Assert.IsType<DisconnectPacket>(await client.ReceiveOrCloseAsync());
        Assert.Equal(ReasonCode.ReceiveMaximumExceeded, disconnect.ReasonCode);
        await client.Closed.Within(what: "the broker to close the connection after DISCONNECT 0x93");
    }

    [Fact]
    public async Task Client_still_releasing_its_publishes_after_DISCONNECT_0x93_is_not_reset()
    {
        // Found by the Eclipse Paho interop suite (client_test5 test_flow_control2): a client sends its PUBRELs for the
        // PUBRECs it has read while the broker's DISCONNECT is already on its way. The broker must keep reading (and
        // discarding) for a moment before closing; a socket closed at once answers those writes with a TCP reset, the
        // client's next write fails (EPIPE) and it never processes the DISCONNECT and its Reason Code.
        await using var broker = await TestBroker.StartAsync("receive_maximum 3");
        var (client, _) = await RawMqttClient.ConnectAsync(broker.Port, RawMqttClient.Connect(ProtocolVersion.V500, "rm-late-pubrel", persistent: false));
        await using var owned = client;
        for (ushort id = 1; id <= 4; id++) await client.SendAsync(Publish(id));
        for (ushort id = 1; id <= 3; id++) Assert.Equal(id, (await client.ReceiveAsync<PubRecPacket>()).PacketId);
        var disconnect = await client.ReceiveAsync<DisconnectPacket>();
        Assert.Equal(ReasonCode.ReceiveMaximumExceeded, disconnect.ReasonCode);

        // Well after the DISCONNECT was sent (the old immediate close had happened by now), the client writes on.
        await Task.Delay(100);
        for (ushort id = 1; id <= 3; id++)
        {
            await client.SendAsync(new PubRelPacket { PacketId = id });
            await Task.Delay(30);
        }
        // The linger is bounded: a client that neither closes nor goes quiet still sees the connection close.
        await client.Closed.Within(what: "the broker to close the connection after its linger");
        // What it read meanwhile was discarded, not processed: nothing follows the DISCONNECT [MQTT-3.14.4-1].
        Assert.IsType<DisconnectPacket>(client.AllReceived[^1]);
    }

    private static PublishPacket Publish(ushort id) => new()
    {
        Topic = "rm/in",
        QoS = QualityOfService.ExactlyOnce,
        PacketId = id,
        Payload = Encoding.UTF8.GetBytes($"m{id}"),
    };

    [Fact]
    public async Task Broker_never_exceeds_the_client_receive_maximum()
    {
        await using var broker = await TestBroker.StartAsync();
        await using var subscriber = await MqttNetPeer.ConnectAsync(broker.Port, MqttProtocolVersion.V500, "rm-small-client",
            b => b.WithReceiveMaximum(2), manualAck: true);
        await subscriber.SubscribeAsync("rm/out");
        await using var publisher = await MqttNetPeer.ConnectAsync(broker.Port, MqttProtocolVersion.V500, "rm-out-pub");
        for (int i = 0; i < 5; i++) await publisher.PublishAsync("rm/out", i.ToString());

        var window = await subscriber.ReceiveAsync(2);
        Assert.Equal(["0", "1"], window.Select(m => m.Text));
        await subscriber.AssertNothingReceivedAsync();

        await window[0].AckAsync();
        var third = await subscriber.ReceiveAsync();
        Assert.Equal("2", third.Text);
        await subscriber.AssertNothingReceivedAsync();

        await window[1].AckAsync();
        await third.AckAsync();
        var rest = await subscriber.ReceiveAsync(2);
        Assert.Equal(["3", "4"], rest.Select(m => m.Text));
        foreach (var m in rest) await m.AckAsync();
        await subscriber.AssertNothingReceivedAsync();
    }

    [Fact]
    public async Task Redelivery_after_reconnect_respects_the_new_receive_maximum()
    {
        // DESIGN.md §2 "the client's Receive Maximum respected while resending".
        await using var broker = await TestBroker.StartAsync();
        await using var publisher = await MqttNetPeer.ConnectAsync(broker.Port, MqttProtocolVersion.V500, "rm-resume-pub");
        await using (var first = await MqttNetPeer.ConnectPersistentAsync(broker.Port, MqttProtocolVersion.V500, "rm-resume", manualAck: true))
        {
            await first.SubscribeAsync("rm/resume");
            for (int i = 0; i < 4; i++) await publisher.PublishAsync("rm/resume", i.ToString());
            Assert.Equal(["0", "1", "2", "3"], (await first.ReceiveAsync(4)).Select(m => m.Text));
            await first.DisconnectAsync(); // none acknowledged: four inflight
        }
        await broker.Log.WaitForAsync("Client rm-resume disconnected.");

        await using var back = await MqttNetPeer.ConnectPersistentAsync(broker.Port, MqttProtocolVersion.V500, "rm-resume", manualAck: true,
            configure: b => b.WithReceiveMaximum(2));
        var resent = await back.ReceiveAsync(2);
        Assert.Equal(["0", "1"], resent.Select(m => m.Text));
        Assert.All(resent, m => Assert.True(m.Dup));
        await back.AssertNothingReceivedAsync();

        await resent[0].AckAsync();
        var third = await back.ReceiveAsync();
        Assert.Equal("2", third.Text);
        Assert.True(third.Dup);
        await back.AssertNothingReceivedAsync();
        await resent[1].AckAsync();
        await third.AckAsync();
        var last = await back.ReceiveAsync();
        Assert.Equal("3", last.Text);
        Assert.True(last.Dup);
        await last.AckAsync();
        await back.AssertNothingReceivedAsync();
    }
}
