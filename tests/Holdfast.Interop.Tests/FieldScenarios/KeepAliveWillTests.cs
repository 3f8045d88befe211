using System.Diagnostics;
using System.Text;
using Holdfast.Interop.Tests.Infrastructure;
using Holdfast.Interop.Tests.MqttNet;
using Holdfast.Protocol;
using MQTTnet.Formatter;
using MQTTnet.Protocol;

namespace Holdfast.Interop.Tests.FieldScenarios;

/// <summary>
/// Field scenario 4 (issue 2, DESIGN.md §1): a client that goes silent is disconnected within 1.5 × its keep-alive
/// [MQTT-3.1.2-24 / MQTT 3.1.1 §3.1.2.10] and its will is published. The silent client is a raw client (MQTTnet keeps
/// pinging); the will is observed by an MQTTnet subscriber.
/// </summary>
public sealed class KeepAliveWillTests
{
    private const ushort KeepAliveSeconds = 2;

    [Theory]
    [InlineData(ProtocolVersion.V311)]
    [InlineData(ProtocolVersion.V500)]
    public async Task Silent_client_is_disconnected_within_one_and_a_half_keepalives_and_its_will_is_published(ProtocolVersion version)
    {
        await using var broker = await TestBroker.StartAsync();
        string clientId = $"silent-{version}";
        string willTopic = $"field/keepalive-will/{version}";
        var mqttNetVersion = version == ProtocolVersion.V500 ? MqttProtocolVersion.V500 : MqttProtocolVersion.V311;
        await using var watcher = await MqttNetPeer.ConnectAsync(broker.Port, mqttNetVersion, $"will-watcher-{version}");
        await watcher.SubscribeAsync(willTopic, MqttQualityOfServiceLevel.AtLeastOnce);

        var connect = RawMqttClient.Connect(version, clientId, persistent: false, keepAlive: KeepAliveSeconds);
        connect.Will = new WillMessage { Topic = willTopic, Payload = Encoding.UTF8.GetBytes("gone silent"), QoS = QualityOfService.AtLeastOnce };
        await using var silent = await RawMqttClient.OpenAsync(broker.Port, version);
        var clock = Stopwatch.StartNew();
        await silent.SendAsync(connect);
        Assert.Equal(ReasonCode.Success, (await silent.ReceiveAsync<ConnAckPacket>()).ReasonCode);
        // From here on the client sends nothing at all.

        var will = await watcher.ReceiveAsync();
        var elapsed = clock.Elapsed;
        Assert.Equal("gone silent", will.Text);
        Assert.Equal(willTopic, will.Topic);

        double limit = 1.5 * KeepAliveSeconds;
        // Not before 1.5 × keep-alive (the client is allowed that long), and promptly after it.
        Assert.True(elapsed.TotalSeconds >= limit - 0.1, $"disconnected after {elapsed.TotalSeconds:0.00} s, before 1.5 × keep-alive");
        Assert.True(elapsed.TotalSeconds < limit + 1.0, $"will arrived {elapsed.TotalSeconds:0.00} s after the last packet; limit {limit} s + 1 s");

        if (version == ProtocolVersion.V500)
        {
            var disconnect = Assert.IsType<DisconnectPacket>(await silent.ReceiveOrCloseAsync());
            Assert.Equal(ReasonCode.KeepAliveTimeout, disconnect.ReasonCode);
        }
        await silent.Closed.Within(what: "the broker to close the silent client's connection");
        Assert.True(broker.Log.Contains($"Client {clientId} has exceeded timeout, disconnecting."));
    }

    [Theory]
    [InlineData(ProtocolVersion.V311)]
    [InlineData(ProtocolVersion.V500)]
    public async Task Client_that_pings_within_its_keepalive_stays_connected_and_its_will_is_not_published(ProtocolVersion version)
    {
        await using var broker = await TestBroker.StartAsync();
        string clientId = $"pinging-{version}";
        string willTopic = $"field/keepalive-alive/{version}";
        var mqttNetVersion = version == ProtocolVersion.V500 ? MqttProtocolVersion.V500 : MqttProtocolVersion.V311;
        await using var watcher = await MqttNetPeer.ConnectAsync(broker.Port, mqttNetVersion, $"alive-watcher-{version}");
        await watcher.SubscribeAsync(willTopic, MqttQualityOfServiceLevel.AtLeastOnce);

        var connect = RawMqttClient.Connect(version, clientId, persistent: false, keepAlive: 1);
        connect.Will = new WillMessage { Topic = willTopic, Payload = Encoding.UTF8.GetBytes("will"), QoS = QualityOfService.AtLeastOnce };
        var (client, _) = await RawMqttClient.ConnectAsync(broker.Port, connect);
        await using var __ = client;

        // Three keep-alive periods, pinging every half period: the timer must restart on every packet.
        for (int i = 0; i < 6; i++)
        {
            await Task.Delay(500); // pacing of the client's own pings, not a wait for an event
            await client.SendAsync(PingReqPacket.Instance);
            await client.ReceiveAsync<PingRespPacket>(TimeSpan.FromSeconds(5));
        }
        Assert.False(client.Closed.IsCompleted, "a client that pings within its keep-alive must stay connected");

        await client.SendAsync(new DisconnectPacket());
        await client.Closed.Within();
        await watcher.PublishAsync(willTopic, "control");
        Assert.Equal("control", (await watcher.ReceiveAsync()).Text);
        await watcher.AssertNothingReceivedAsync();
        Assert.False(broker.Log.Contains($"Client {clientId} has exceeded timeout"));
    }

    [Fact]
    public async Task V5_server_keep_alive_imposed_by_max_keepalive_is_the_one_enforced()
    {
        // The client asks for 60 s; max_keepalive 1 makes the CONNACK's Server Keep Alive 1 s, and 1.5 × that applies.
        await using var broker = await TestBroker.StartAsync("max_keepalive 1");
        await using var silent = await RawMqttClient.OpenAsync(broker.Port, ProtocolVersion.V500);
        var clock = Stopwatch.StartNew();
        await silent.SendAsync(RawMqttClient.Connect(ProtocolVersion.V500, "silent-server-ka", persistent: false, keepAlive: 60));
        var connack = await silent.ReceiveAsync<ConnAckPacket>();
        Assert.Equal((ushort)1, connack.Properties?.ServerKeepAlive);

        var disconnect = Assert.IsType<DisconnectPacket>(await silent.ReceiveOrCloseAsync());
        var elapsed = clock.Elapsed;
        Assert.Equal(ReasonCode.KeepAliveTimeout, disconnect.ReasonCode);
        Assert.True(elapsed.TotalSeconds >= 1.4, $"disconnected after {elapsed.TotalSeconds:0.00} s, before 1.5 × 1 s");
        Assert.True(elapsed.TotalSeconds < 2.5, $"disconnected after {elapsed.TotalSeconds:0.00} s; limit 1.5 s + 1 s");
    }
}
