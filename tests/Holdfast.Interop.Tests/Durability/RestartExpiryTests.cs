using System.Diagnostics;
using Holdfast.Interop.Tests.Infrastructure;
using Holdfast.Interop.Tests.MqttNet;
using Holdfast.Protocol;
using MQTTnet;
using MQTTnet.Formatter;
using MQTTnet.Protocol;

namespace Holdfast.Interop.Tests.Durability;

/// <summary>
/// Restart tests for time that passes while the broker is down: a session whose Session Expiry Interval runs out and a
/// queued message whose Message Expiry Interval runs out are purged at startup (and logged), not brought back. Waiting
/// out the interval before the restart is the point of these tests, so each has one bounded wait.
/// </summary>
public sealed class RestartExpiryTests
{
    private const MqttProtocolVersion V5 = MqttProtocolVersion.V500;

    /// <summary>Waits until <paramref name="clock"/> shows <paramref name="atLeast"/>: the restart must come after an expiry.</summary>
    private static async Task WaitOutAsync(Stopwatch clock, TimeSpan atLeast)
    {
        var rest = atLeast - clock.Elapsed;
        if (rest > TimeSpan.Zero) await Task.Delay(rest);
    }

    [Fact]
    public async Task Session_that_expires_while_the_broker_is_down_is_purged_at_startup()
    {
        const string topic = "restart/expiry/session";
        using var location = new RestartLocation();
        await using var first = await location.StartAsync();
        // A long-lived session beside it, to show that only the expired one goes.
        foreach (var (id, expiry) in new[] { ("expiring", 3u), ("lasting", 300u) })
        {
            await using var subscriber = await MqttNetPeer.ConnectPersistentAsync(first.Port, V5, id, sessionExpirySeconds: expiry);
            await subscriber.SubscribeAsync(topic);
            await subscriber.DisconnectAsync();
        }
        var offline = Stopwatch.StartNew();
        await first.Runner.WaitForOutputAsync("Client expiring disconnected.", Waits.Event);
        await using (var publisher = await MqttNetPeer.ConnectAsync(first.Port, V5, "expiry-pub"))
            Assert.Equal(MqttClientPublishReasonCode.Success, (await publisher.PublishAsync(topic, "queued for both")).ReasonCode);
        // The PUBACK above came after the offline record (and the queued message) were on disk.
        await first.KillAsync();
        Assert.False(first.Runner.Stdout.Contains("Expiring client expiring"), $"the test needs the kill before the session expired:\n{first.Runner.Stdout}");

        await WaitOutAsync(offline, TimeSpan.FromSeconds(3.5));
        await using var second = await location.StartAsync();
        var line = second.Recovery();
        Assert.Equal((1, 0), (line.PurgedSessions, line.PurgedMessages));
        // What came back is the lasting session with its one message; the expired session's message went with it.
        Assert.Equal((1, 1), (line.Sessions, line.Queued));
        Assert.Contains("Session of expiring ended (expired while the broker was down) with 1 undelivered message(s)", second.Runner.Stdout);

        await using (var expired = await MqttNetPeer.ConnectPersistentAsync(second.Port, V5, "expiring", sessionExpirySeconds: 3))
        {
            Assert.False(expired.ConnectResult.IsSessionPresent);
            await expired.AssertNothingReceivedAsync();
        }
        await using var lasting = await MqttNetPeer.ConnectPersistentAsync(second.Port, V5, "lasting");
        Assert.True(lasting.ConnectResult.IsSessionPresent);
        Assert.Equal("queued for both", (await lasting.ReceiveAsync()).Text);
    }

    [Fact]
    public async Task Session_connected_at_the_kill_is_not_expired_by_time_it_spent_connected()
    {
        // A session's expiry counts from the end of its connection. Connected when the broker died, it ended then (as far
        // as the restarted broker can tell): the time it spent connected before, longer than its expiry, does not count.
        const string topic = "restart/expiry/connected";
        var expiry = TimeSpan.FromSeconds(3);
        using var location = new RestartLocation();
        await using var first = await location.StartAsync();
        await using (var subscriber = await MqttNetPeer.ConnectPersistentAsync(first.Port, V5, "connected-sub", sessionExpirySeconds: (uint)expiry.TotalSeconds))
        {
            await subscriber.SubscribeAsync(topic);
            await subscriber.DisconnectAsync();
        }
        var (back, connack) = await RawMqttClient.ConnectAsync(first.Port, ConnectWithExpiry("connected-sub", expiry));
        await using (back)
        {
            Assert.True(connack.SessionPresent);
            // Connected for longer than the expiry (the premise of the test), then a message it does not acknowledge.
            await WaitOutAsync(Stopwatch.StartNew(), expiry + TimeSpan.FromSeconds(0.5));
            await using (var publisher = await MqttNetPeer.ConnectAsync(first.Port, V5, "connected-pub"))
                Assert.Equal(MqttClientPublishReasonCode.Success, (await publisher.PublishAsync(topic, "inflight at the kill")).ReasonCode);
            var publish = await back.ReceiveAsync<PublishPacket>();
            await first.KillAsync();

            await using var second = await location.StartAsync();
            var line = second.Recovery();
            Assert.True((line.Sessions, line.PurgedSessions) == (1, 0), $"the connected session did not come back: {line}");
            var (again, reconnack) = await RawMqttClient.ConnectAsync(second.Port, ConnectWithExpiry("connected-sub", expiry));
            await using var _ = again;
            Assert.True(reconnack.SessionPresent);
            var resent = await again.ReceiveAsync<PublishPacket>();
            Assert.Equal((publish.PacketId, true), (resent.PacketId, resent.Dup));
        }

        static ConnectPacket ConnectWithExpiry(string clientId, TimeSpan expiry)
        {
            var connect = RawMqttClient.Connect(ProtocolVersion.V500, clientId, persistent: true);
            connect.Properties = new MqttProperties { SessionExpiryInterval = (uint)expiry.TotalSeconds };
            return connect;
        }
    }

    [Fact]
    public async Task Queued_message_whose_expiry_passes_while_the_broker_is_down_is_not_delivered()
    {
        const string topic = "restart/expiry/message";
        using var location = new RestartLocation();
        await using var first = await location.StartAsync();
        await using (var subscriber = await MqttNetPeer.ConnectPersistentAsync(first.Port, V5, "expiry-sub"))
        {
            await subscriber.SubscribeAsync(topic);
            await subscriber.DisconnectAsync();
        }
        // Queue: short-lived a, lasting b, short-lived c, lasting d. The head (a) is purged at startup, c when it reaches the
        // head. Short-lived is 2 s (not 1 s): enough for the kill to come first on a loaded machine.
        await using (var publisher = await MqttNetPeer.ConnectAsync(first.Port, V5, "expiry-msg-pub"))
        {
            await PublishAsync(publisher, "a", expirySeconds: 2);
            await PublishAsync(publisher, "b", expirySeconds: null);
            await PublishAsync(publisher, "c", expirySeconds: 2);
            await PublishAsync(publisher, "d", expirySeconds: null);
        }
        // The broker received every message before this point: time on this clock is time they have waited, at least.
        var clock = Stopwatch.StartNew();
        await first.KillAsync();

        await WaitOutAsync(clock, TimeSpan.FromSeconds(3));
        await using var second = await location.StartAsync();
        var line = second.Recovery();
        Assert.True((line.PurgedSessions, line.PurgedMessages) == (0, 1), $"{line}; before the kill:\n{first.Runner.Stdout}");
        Assert.Equal((1, 3), (line.Sessions, line.Queued));

        await using var back = await MqttNetPeer.ConnectPersistentAsync(second.Port, V5, "expiry-sub");
        Assert.True(back.ConnectResult.IsSessionPresent);
        Assert.Equal(["b", "d"], (await back.ReceiveAsync(2)).Select(m => m.Text));
        await back.AssertNothingReceivedAsync();

        async Task PublishAsync(MqttNetPeer publisher, string payload, uint? expirySeconds)
        {
            var message = new MqttApplicationMessageBuilder().WithTopic(topic).WithPayload(payload)
                .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce);
            if (expirySeconds is { } seconds) message.WithMessageExpiryInterval(seconds);
            Assert.Equal(MqttClientPublishReasonCode.Success, (await publisher.PublishAsync(message.Build())).ReasonCode);
        }
    }
}
