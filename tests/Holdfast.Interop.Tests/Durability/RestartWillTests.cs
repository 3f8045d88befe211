using System.Diagnostics;
using System.Text;
using Holdfast.Interop.Tests.Infrastructure;
using Holdfast.Interop.Tests.MqttNet;
using Holdfast.Protocol;
using MQTTnet.Formatter;
using MQTTnet.Protocol;

namespace Holdfast.Interop.Tests.Durability;

/// <summary>
/// Restart tests for a delayed will (MQTT 5.0 §3.1.3.2.2): a client with a Will Delay Interval loses its connection,
/// the broker is SIGKILLed before the delay has passed and restarted on the same data directory. The will is still
/// published once the delay has passed, and not at all when the client comes back in time. The watcher is a persistent
/// session made before the kill, so that a will published at any moment after the restart reaches it.
/// </summary>
public sealed class RestartWillTests
{
    private const MqttProtocolVersion V5 = MqttProtocolVersion.V500;

    [Fact]
    public async Task Delayed_will_pending_at_the_kill_is_published_after_its_delay()
    {
        // Longer than a kill and a restart usually take here (2-4 s with tests running in parallel), so that the restarted
        // broker mostly has to wait for it; a will already due at startup must go out at once.
        var delay = TimeSpan.FromSeconds(5);
        using var location = new RestartLocation();
        await using var first = await location.StartAsync();
        await WatchAsync(first, "will-watcher", "restart/will/published");

        var clock = await DropWithDelayedWillAsync(first, "will-client", "restart/will/published", "gone", delay);
        await first.SettleAsync();
        await first.KillAsync();
        Assert.True(clock.Elapsed < delay, $"the test needs the kill before the will delay; it came {clock.Elapsed.TotalSeconds:0.00} s after the cut");
        Assert.DoesNotContain("Publishing will of will-client", first.Runner.Stdout);

        await using var second = await location.StartAsync();
        var running = clock.Elapsed;
        Assert.Equal(1, second.Recovery().DelayedWills);
        await second.Runner.WaitForOutputAsync("Publishing will of will-client on 'restart/will/published'", Waits.Event);
        var published = clock.Elapsed;
        // Not before the delay (counted from the cut, which the clock started just before) ...
        Assert.True(published >= delay - TimeSpan.FromMilliseconds(100), $"will published {published.TotalSeconds:0.00} s after the cut, delay {delay.TotalSeconds} s");
        // ... and promptly once both the delay has passed and the broker is up again.
        var due = running > delay ? running : delay;
        Assert.True(published < due + TimeSpan.FromSeconds(5),
            $"will published {published.TotalSeconds:0.00} s after the cut; delay {delay.TotalSeconds} s, broker running again at {running.TotalSeconds:0.00} s");

        await using var watcher = await MqttNetPeer.ConnectPersistentAsync(second.Port, V5, "will-watcher");
        Assert.True(watcher.ConnectResult.IsSessionPresent);
        var will = await watcher.ReceiveAsync();
        Assert.Equal("restart/will/published", will.Topic);
        Assert.Equal("gone", will.Text);
        Assert.Equal(MqttQualityOfServiceLevel.AtLeastOnce, will.QoS);
        Assert.Equal([("why", "lost")], will.UserProperties);
        await watcher.AssertNothingReceivedAsync();
    }

    [Fact]
    public async Task Delayed_will_is_not_published_when_the_client_returns_to_the_restarted_broker_in_time()
    {
        // Long enough for a kill, a restart and a reconnect on a loaded machine (2-4 s here with tests running in parallel).
        var delay = TimeSpan.FromSeconds(8);
        using var location = new RestartLocation();
        await using var first = await location.StartAsync();
        await WatchAsync(first, "cancel-watcher", "restart/will/cancelled");

        var clock = await DropWithDelayedWillAsync(first, "cancel-client", "restart/will/cancelled", "should not appear", delay);
        await first.SettleAsync();
        await first.KillAsync();

        await using var second = await location.StartAsync();
        Assert.Equal(1, second.Recovery().DelayedWills);
        var (back, connack) = await RawMqttClient.ConnectAsync(second.Port, WillConnect("cancel-client", "restart/will/cancelled", "should not appear", delay));
        await using var _ = back;
        Assert.True(clock.Elapsed < delay, $"the test needs the client back within the will delay; it came {clock.Elapsed.TotalSeconds:0.00} s after the cut");
        Assert.True(connack.SessionPresent);

        await using var watcher = await MqttNetPeer.ConnectPersistentAsync(second.Port, V5, "cancel-watcher");
        Assert.True(watcher.ConnectResult.IsSessionPresent);
        // Watch until well past the moment the will would have been due.
        var rest = delay + TimeSpan.FromSeconds(1.5) - clock.Elapsed;
        await watcher.AssertNothingReceivedAsync(rest > Waits.Quiet ? rest : Waits.Quiet);
        // Positive control on the same topic, through the same subscription.
        await watcher.PublishAsync("restart/will/cancelled", "control");
        Assert.Equal("control", (await watcher.ReceiveAsync()).Text);
        Assert.DoesNotContain("Publishing will of cancel-client", second.Runner.Stdout);

        // The cancellation is recorded too: after another kill, the returned client has no will pending.
        await second.SettleAsync();
        await second.KillAsync();
        await using var third = await location.StartAsync();
        Assert.Equal(0, third.Recovery().DelayedWills);
    }

    /// <summary>A persistent MQTT 5 watcher subscribed to <paramref name="topic"/>, offline when this returns.</summary>
    private static async Task WatchAsync(BrokerProcess broker, string clientId, string topic)
    {
        await using var watcher = await MqttNetPeer.ConnectPersistentAsync(broker.Port, V5, clientId);
        await watcher.SubscribeAsync(topic);
        await watcher.DisconnectAsync();
    }

    /// <summary>MQTT 5, session expiry 60 s, a QoS 1 will delayed by <paramref name="delay"/>.</summary>
    private static ConnectPacket WillConnect(string clientId, string topic, string payload, TimeSpan delay)
    {
        var connect = RawMqttClient.Connect(ProtocolVersion.V500, clientId, persistent: true);
        connect.Properties = new MqttProperties { SessionExpiryInterval = 60 };
        var properties = new MqttProperties { WillDelayInterval = (uint)delay.TotalSeconds };
        properties.AddUserProperty("why", "lost");
        connect.Will = new WillMessage { Topic = topic, Payload = Encoding.UTF8.GetBytes(payload), QoS = QualityOfService.AtLeastOnce, Properties = properties };
        return connect;
    }

    /// <summary>Connects a client with a delayed will and cuts its connection without DISCONNECT; returns once the broker
    /// has seen the connection end, with a stopwatch started just before the cut.</summary>
    private static async Task<Stopwatch> DropWithDelayedWillAsync(BrokerProcess broker, string clientId, string topic, string payload, TimeSpan delay)
    {
        var (client, _) = await RawMqttClient.ConnectAsync(broker.Port, WillConnect(clientId, topic, payload, delay));
        var clock = Stopwatch.StartNew();
        client.Drop();
        await client.DisposeAsync();
        await broker.Runner.WaitForOutputAsync($"Client {clientId} closed its connection", Waits.Event);
        return clock;
    }
}
