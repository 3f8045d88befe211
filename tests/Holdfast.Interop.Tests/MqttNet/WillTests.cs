using System.Diagnostics;
using System.Text;
using Holdfast.Interop.Tests.Infrastructure;
using Holdfast.Protocol;
using MQTTnet;
using MQTTnet.Formatter;
using MQTTnet.Protocol;

namespace Holdfast.Interop.Tests.MqttNet;

/// <summary>Will messages (MQTT 5.0 §3.1.2.5, §3.14; MQTT 3.1.1 §3.1.2.5): discarded by a normal DISCONNECT,
/// published on an abnormal end or a DISCONNECT with another reason code, delayed by the Will Delay Interval and
/// cancelled when the client returns before it has passed.</summary>
public sealed class WillTests
{
    private static MqttProtocolVersion ToMqttNet(ProtocolVersion v) => v == ProtocolVersion.V500 ? MqttProtocolVersion.V500 : MqttProtocolVersion.V311;

    [Theory]
    [InlineData(MqttProtocolVersion.V311)]
    [InlineData(MqttProtocolVersion.V500)]
    public async Task Normal_disconnect_discards_the_will(MqttProtocolVersion version)
    {
        await using var broker = await TestBroker.StartAsync();
        string willTopic = $"will/normal/{version}";
        await using var watcher = await MqttNetPeer.ConnectAsync(broker.Port, version, $"will-normal-watcher-{version}");
        await watcher.SubscribeAsync(willTopic);

        string id = $"will-normal-{version}";
        await using (var client = await MqttNetPeer.ConnectAsync(broker.Port, version, id, b => b.WithWillTopic(willTopic).WithWillPayload("will")))
            await client.DisconnectAsync();
        await broker.Log.WaitForAsync($"Client {id} disconnected.");

        // Positive control on the same topic: had the will been published, it would have come first.
        await watcher.PublishAsync(willTopic, "control");
        Assert.Equal("control", (await watcher.ReceiveAsync()).Text);
        await watcher.AssertNothingReceivedAsync();
    }

    [Theory]
    [InlineData(ProtocolVersion.V311)]
    [InlineData(ProtocolVersion.V500)]
    public async Task Connection_closed_without_disconnect_publishes_the_will(ProtocolVersion version)
    {
        await using var broker = await TestBroker.StartAsync();
        string willTopic = $"will/abrupt/{version}";
        await using var watcher = await MqttNetPeer.ConnectAsync(broker.Port, ToMqttNet(version), $"will-abrupt-watcher-{version}");
        await watcher.SubscribeAsync(willTopic);

        var connect = RawMqttClient.Connect(version, $"will-abrupt-{version}", persistent: false);
        connect.Will = new WillMessage { Topic = willTopic, Payload = Encoding.UTF8.GetBytes("abrupt"), QoS = QualityOfService.AtLeastOnce, Retain = false };
        var (client, _) = await RawMqttClient.ConnectAsync(broker.Port, connect);
        client.Drop();
        await client.DisposeAsync();

        var will = await watcher.ReceiveAsync();
        Assert.Equal("abrupt", will.Text);
        Assert.Equal(MqttQualityOfServiceLevel.AtLeastOnce, will.QoS);
    }

    /// <summary>Only a DISCONNECT with 0x00 deletes the will [MQTT-3.1.2-8, MQTT-3.14.4-3]: 0x04 asks for it, and a
    /// client reporting an error did not end normally either.</summary>
    [Theory]
    [InlineData(MqttClientDisconnectOptionsReason.DisconnectWithWillMessage, "0x04")]
    [InlineData(MqttClientDisconnectOptionsReason.UnspecifiedError, "0x80")]
    public async Task V5_disconnect_with_a_reason_other_than_normal_publishes_the_will(MqttClientDisconnectOptionsReason reason, string name)
    {
        await using var broker = await TestBroker.StartAsync();
        await using var watcher = await MqttNetPeer.ConnectAsync(broker.Port, MqttProtocolVersion.V500, $"will-{name}-watcher");
        await watcher.SubscribeAsync($"will/{name}");

        await using var client = await MqttNetPeer.ConnectAsync(broker.Port, MqttProtocolVersion.V500, $"will-{name}",
            b => b.WithWillTopic($"will/{name}").WithWillPayload($"will after {name}"));
        await client.DisconnectAsync(new MqttClientDisconnectOptionsBuilder().WithReason(reason).Build());

        Assert.Equal($"will after {name}", (await watcher.ReceiveAsync()).Text);
    }

    [Fact]
    public async Task V5_will_delay_publishes_the_will_after_the_delay()
    {
        await using var broker = await TestBroker.StartAsync();
        await using var watcher = await MqttNetPeer.ConnectAsync(broker.Port, MqttProtocolVersion.V500, "will-delay-watcher");
        await watcher.SubscribeAsync("will/delay");

        var clock = await DropWithDelayedWillAsync(broker.Port, "will-delay", "will/delay", "delayed");

        var will = await watcher.ReceiveAsync();
        var elapsed = clock.Elapsed;
        Assert.Equal("delayed", will.Text);
        Assert.True(elapsed >= TimeSpan.FromSeconds(1.9), $"will published after {elapsed.TotalSeconds:0.00} s, before its 2 s delay");
        Assert.True(elapsed < TimeSpan.FromSeconds(3.5), $"will published {elapsed.TotalSeconds:0.00} s after the connection ended, delay 2 s");
    }

    [Fact]
    public async Task V5_will_is_not_published_when_the_client_reconnects_before_the_delay()
    {
        await using var broker = await TestBroker.StartAsync();
        await using var watcher = await MqttNetPeer.ConnectAsync(broker.Port, MqttProtocolVersion.V500, "will-cancel-watcher");
        await watcher.SubscribeAsync("will/cancel");

        var clock = await DropWithDelayedWillAsync(broker.Port, "will-cancel", "will/cancel", "should not appear");
        await broker.Log.WaitForAsync("Client will-cancel closed its connection");

        // Back within the delay [MQTT-3.1.3-9]: the pending will is cancelled.
        var (back, connack) = await RawMqttClient.ConnectAsync(broker.Port, RawMqttClient.Connect(ProtocolVersion.V500, "will-cancel", persistent: true));
        await using var _ = back;
        Assert.True(connack.SessionPresent);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(2), "the test needs to reconnect within the will delay");

        await watcher.PublishAsync("will/cancel", "control");
        Assert.Equal("control", (await watcher.ReceiveAsync()).Text);
        // Watch until well past the moment the will would have been due.
        var rest = TimeSpan.FromSeconds(3.5) - clock.Elapsed;
        await watcher.AssertNothingReceivedAsync(rest > Waits.Quiet ? rest : Waits.Quiet);
        Assert.False(broker.Log.Contains("Publishing will of will-cancel"));
    }

    [Fact]
    public async Task V5_will_delay_longer_than_the_session_expiry_publishes_when_the_session_ends()
    {
        // The will goes out when the delay passes or the session ends, whichever is first [MQTT-3.1.2-8].
        await using var broker = await TestBroker.StartAsync();
        await using var watcher = await MqttNetPeer.ConnectAsync(broker.Port, MqttProtocolVersion.V500, "will-session-end-watcher");
        await watcher.SubscribeAsync("will/session-end");

        var connect = RawMqttClient.Connect(ProtocolVersion.V500, "will-session-end", persistent: true);
        connect.Properties = new MqttProperties { SessionExpiryInterval = 1 };
        connect.Will = new WillMessage
        {
            Topic = "will/session-end",
            Payload = Encoding.UTF8.GetBytes("session over"),
            QoS = QualityOfService.AtLeastOnce,
            Properties = new MqttProperties { WillDelayInterval = 60 },
        };
        var (client, _) = await RawMqttClient.ConnectAsync(broker.Port, connect);
        var clock = Stopwatch.StartNew();
        client.Drop();
        await client.DisposeAsync();

        Assert.Equal("session over", (await watcher.ReceiveAsync()).Text);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(3), $"will after {clock.Elapsed.TotalSeconds:0.00} s; session expiry 1 s");
        Assert.True(clock.Elapsed >= TimeSpan.FromSeconds(0.9), $"will after {clock.Elapsed.TotalSeconds:0.00} s, before the session ended");
    }

    /// <summary>Connects a persistent MQTT 5 client with a QoS 1 will delayed 2 s, then cuts its connection without
    /// DISCONNECT. Returns a stopwatch started at the cut.</summary>
    private static async Task<Stopwatch> DropWithDelayedWillAsync(int port, string clientId, string topic, string payload)
    {
        var connect = RawMqttClient.Connect(ProtocolVersion.V500, clientId, persistent: true);
        connect.Will = new WillMessage
        {
            Topic = topic,
            Payload = Encoding.UTF8.GetBytes(payload),
            QoS = QualityOfService.AtLeastOnce,
            Properties = new MqttProperties { WillDelayInterval = 2 },
        };
        var (client, _) = await RawMqttClient.ConnectAsync(port, connect);
        var clock = Stopwatch.StartNew();
        client.Drop();
        await client.DisposeAsync();
        return clock;
    }
}
