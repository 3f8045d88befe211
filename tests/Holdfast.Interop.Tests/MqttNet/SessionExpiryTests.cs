using System.Diagnostics;
using Holdfast.Interop.Tests.Infrastructure;
using Holdfast.Protocol;
using MQTTnet;
using MQTTnet.Formatter;

namespace Holdfast.Interop.Tests.MqttNet;

/// <summary>Session Expiry Interval (MQTT 5.0 §3.1.2.11.2, §3.14.2.2.2): the session ends that long after the
/// connection; the value may be changed at DISCONNECT, but not from 0 to non-zero [MQTT-3.14.2-2].</summary>
public sealed class SessionExpiryTests
{
    private const MqttProtocolVersion V5 = MqttProtocolVersion.V500;

    [Fact]
    public async Task Session_ends_after_its_expiry_interval()
    {
        await using var broker = await TestBroker.StartAsync();
        await using (var client = await MqttNetPeer.ConnectPersistentAsync(broker.Port, V5, "expiry-1s", sessionExpirySeconds: 1))
        {
            await client.SubscribeAsync("expiry/session");
            await client.DisconnectAsync();
        }
        var clock = Stopwatch.StartNew();

        await broker.Log.WaitForAsync("Expiring client expiry-1s.");
        Assert.True(clock.Elapsed > TimeSpan.FromSeconds(0.8), $"expired {clock.Elapsed.TotalSeconds:0.00} s after disconnect, interval 1 s");
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(3), $"expired only {clock.Elapsed.TotalSeconds:0.00} s after disconnect, interval 1 s");

        await using var back = await MqttNetPeer.ConnectPersistentAsync(broker.Port, V5, "expiry-1s");
        Assert.False(back.ConnectResult.IsSessionPresent);
        // Its subscription went with it.
        await using var publisher = await MqttNetPeer.ConnectAsync(broker.Port, V5, "expiry-1s-pub");
        var result = await publisher.PublishAsync("expiry/session", "anyone?");
        Assert.Equal(MqttClientPublishReasonCode.NoMatchingSubscribers, result.ReasonCode);
        await back.AssertNothingReceivedAsync();
    }

    [Fact]
    public async Task Expiry_shortened_at_disconnect_takes_effect()
    {
        await using var broker = await TestBroker.StartAsync();
        await using (var client = await MqttNetPeer.ConnectPersistentAsync(broker.Port, V5, "expiry-shortened", sessionExpirySeconds: 3600))
            await client.DisconnectAsync(new MqttClientDisconnectOptionsBuilder().WithSessionExpiryInterval(1).Build());

        await broker.Log.WaitForAsync("Expiring client expiry-shortened.");
        await using var back = await MqttNetPeer.ConnectPersistentAsync(broker.Port, V5, "expiry-shortened");
        Assert.False(back.ConnectResult.IsSessionPresent);
    }

    [Fact]
    public async Task Expiry_lengthened_at_disconnect_keeps_the_session()
    {
        await using var broker = await TestBroker.StartAsync();
        await using (var client = await MqttNetPeer.ConnectPersistentAsync(broker.Port, V5, "expiry-lengthened", sessionExpirySeconds: 1))
            await client.DisconnectAsync(new MqttClientDisconnectOptionsBuilder().WithSessionExpiryInterval(3600).Build());
        await broker.Log.WaitForAsync("Client expiry-lengthened disconnected.");

        // A control session with the original 1 s interval expires meanwhile; the lengthened one must not.
        await using (var control = await MqttNetPeer.ConnectPersistentAsync(broker.Port, V5, "expiry-control", sessionExpirySeconds: 1))
            await control.DisconnectAsync();
        await broker.Log.WaitForAsync("Expiring client expiry-control.");
        // Past the original 1 s of the first session too (it disconnected before the control).
        Assert.False(broker.Log.Contains("Expiring client expiry-lengthened"));

        await using var back = await MqttNetPeer.ConnectPersistentAsync(broker.Port, V5, "expiry-lengthened");
        Assert.True(back.ConnectResult.IsSessionPresent);
    }

    [Fact]
    public async Task Setting_a_nonzero_expiry_at_disconnect_after_zero_at_connect_is_a_protocol_error()
    {
        await using var broker = await TestBroker.StartAsync();
        var (client, _) = await RawMqttClient.ConnectAsync(broker.Port, RawMqttClient.Connect(ProtocolVersion.V500, "expiry-zero", persistent: false));
        await using var __ = client;
        await client.SendAsync(new DisconnectPacket { Properties = new MqttProperties { SessionExpiryInterval = 60 } });

        var disconnect = Assert.IsType<DisconnectPacket>(await client.ReceiveOrCloseAsync());
        Assert.Equal(ReasonCode.ProtocolError, disconnect.ReasonCode);
        await client.Closed.Within();
        // The session was not kept: a new connection finds none.
        var (again, connack) = await RawMqttClient.ConnectAsync(broker.Port, RawMqttClient.Connect(ProtocolVersion.V500, "expiry-zero", persistent: true));
        await using var ___ = again;
        Assert.False(connack.SessionPresent);
    }
}
