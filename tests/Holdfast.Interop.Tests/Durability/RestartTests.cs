using System.Text;
using Holdfast.Interop.Tests.Infrastructure;
using Holdfast.Interop.Tests.MqttNet;
using Holdfast.Protocol;
using MQTTnet;
using MQTTnet.Formatter;
using MQTTnet.Protocol;

namespace Holdfast.Interop.Tests.Durability;

/// <summary>
/// Restart tests (issue 3): each stored item survives a SIGKILL of `holdfast serve` and comes back when a new broker
/// process starts on the same data directory. Here: retained messages, sessions with subscriptions and no connection,
/// queued messages of offline sessions, and the recovery log line. QoS 2 flows, delayed wills, expiry and corrupt data
/// directories have files of their own (RestartQoS2Tests, RestartWillTests, RestartExpiryTests, RestartCorruptionTests).
/// </summary>
public sealed class RestartTests
{
    private const MqttProtocolVersion V5 = MqttProtocolVersion.V500;

    private static ReadOnlyMemory<byte> Utf8(string value) => Encoding.UTF8.GetBytes(value);

    private static void AssertAccepted(MqttClientPublishResult result) =>
        Assert.True((int)result.ReasonCode < 0x80, $"publish refused: {result.ReasonCode}");

    [Fact]
    public async Task Retained_message_comes_back_with_its_properties_and_a_cleared_one_stays_cleared()
    {
        using var location = new RestartLocation();
        byte[] correlation = [0x00, 0x07, 0xFF];
        await using var first = await location.StartAsync();
        await using (var publisher = await MqttNetPeer.ConnectAsync(first.Port, V5, "retained-pub"))
        {
            // Replaced once: only the second value may come back.
            AssertAccepted(await publisher.PublishAsync("restart/retained/kept", "old value", retain: true));
            AssertAccepted(await publisher.PublishAsync(new MqttApplicationMessageBuilder()
                .WithTopic("restart/retained/kept")
                .WithPayload("{\"t\":21.5}")
                .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce)
                .WithRetainFlag()
                .WithContentType("application/json")
                .WithPayloadFormatIndicator(MqttPayloadFormatIndicator.CharacterData)
                .WithUserProperty("site", Utf8("plant-7"))
                .WithUserProperty("unit", Utf8("°C"))
                .WithResponseTopic("restart/retained/reply")
                .WithCorrelationData(correlation)
                .Build()));
            // Set, then cleared by an empty retained payload [MQTT-3.3.1-10].
            AssertAccepted(await publisher.PublishAsync("restart/retained/cleared", "soon gone", retain: true));
            AssertAccepted(await publisher.PublishAsync("restart/retained/cleared", "", retain: true));
        }
        await first.KillAsync();

        await using var second = await location.StartAsync();
        Assert.Equal(1, second.Recovery().Retained);
        await using var subscriber = await MqttNetPeer.ConnectAsync(second.Port, V5, "retained-sub");
        await subscriber.SubscribeAsync("restart/retained/#");

        var kept = await subscriber.ReceiveAsync();
        Assert.Equal("restart/retained/kept", kept.Topic);
        Assert.Equal("{\"t\":21.5}", kept.Text);
        Assert.True(kept.Retain);
        Assert.Equal(MqttQualityOfServiceLevel.AtLeastOnce, kept.QoS);
        Assert.Equal("application/json", kept.ContentType);
        Assert.Equal(MqttPayloadFormatIndicator.CharacterData, kept.PayloadFormatIndicator);
        Assert.Equal([("site", "plant-7"), ("unit", "°C")], kept.UserProperties);
        Assert.Equal("restart/retained/reply", kept.ResponseTopic);
        Assert.Equal(correlation, kept.CorrelationData);
        // The subscription's retained messages all come at once: the cleared topic would have come with the kept one.
        await subscriber.AssertNothingReceivedAsync();
    }

    [Theory]
    [InlineData(MqttProtocolVersion.V500)]
    [InlineData(MqttProtocolVersion.V311)]
    public async Task Session_with_subscriptions_and_no_connection_comes_back(MqttProtocolVersion version)
    {
        bool v5 = version == V5;
        string id = $"session-sub-{version}", topic = $"restart/session/{version}";
        using var location = new RestartLocation();
        await using var first = await location.StartAsync();
        await using (var subscriber = await MqttNetPeer.ConnectPersistentAsync(first.Port, version, id, sessionExpirySeconds: 300))
        {
            Assert.False(subscriber.ConnectResult.IsSessionPresent);
            var filter = new MqttTopicFilterBuilder().WithTopic(topic).WithAtLeastOnceQoS();
            var options = new MqttClientSubscribeOptionsBuilder();
            if (v5)
            {
                filter.WithNoLocal(true);
                options.WithSubscriptionIdentifier(42);
            }
            var granted = await subscriber.SubscribeAsync(options.WithTopicFilter(filter.Build()).Build());
            Assert.Equal(MqttClientSubscribeResultCode.GrantedQoS1, Assert.Single(granted.Items).ResultCode);
            await subscriber.DisconnectAsync();
        }
        await first.Runner.WaitForOutputAsync($"Client {id} disconnected.", Waits.Event);
        await first.KillAsync();

        await using var second = await location.StartAsync();
        await using var publisher = await MqttNetPeer.ConnectAsync(second.Port, version, $"session-pub-{version}");
        var published = await publisher.PublishAsync(topic, "after restart");
        // MQTT 5 says whether anyone matched: the offline session's subscription is back in the routing.
        if (v5) Assert.Equal(MqttClientPublishReasonCode.Success, published.ReasonCode);

        // Back without subscribing again.
        await using var back = await MqttNetPeer.ConnectPersistentAsync(second.Port, version, id, sessionExpirySeconds: 300);
        Assert.True(back.ConnectResult.IsSessionPresent);
        var message = await back.ReceiveAsync();
        Assert.Equal(topic, message.Topic);
        Assert.Equal("after restart", message.Text);
        Assert.Equal(MqttQualityOfServiceLevel.AtLeastOnce, message.QoS);
        if (v5)
        {
            Assert.Equal([42u], message.SubscriptionIdentifiers);
            // No Local came back too: its own message is not delivered to it. Had it been, it would arrive before the
            // publisher's control message (routed when the broker reads the PUBLISH, which precedes the PUBACK awaited here).
            AssertAccepted(await back.PublishAsync(topic, "own message"));
            AssertAccepted(await publisher.PublishAsync(topic, "control"));
            var control = await back.ReceiveAsync();
            Assert.Equal("control", control.Text);
            Assert.Equal([42u], control.SubscriptionIdentifiers);
        }
        await back.AssertNothingReceivedAsync();
    }

    [Fact]
    public async Task Queued_messages_of_offline_sessions_are_all_delivered_in_order_after_restarts()
    {
        // Two offline sessions share the stored message bodies: the first one's acknowledgements after one restart must
        // not take the bodies the second one still needs at the next.
        const string topic = "restart/queued";
        const int count = 10;
        using var location = new RestartLocation();
        await using var first = await location.StartAsync();
        foreach (var (version, id) in new[] { (V5, "queued-v5"), (MqttProtocolVersion.V311, "queued-v311") })
        {
            await using var subscriber = await MqttNetPeer.ConnectPersistentAsync(first.Port, version, id);
            await subscriber.SubscribeAsync(topic, MqttQualityOfServiceLevel.ExactlyOnce);
            await subscriber.DisconnectAsync();
        }
        await using (var publisher = await MqttNetPeer.ConnectAsync(first.Port, V5, "queued-pub"))
            for (int i = 0; i < count; i++)
                AssertAccepted(await publisher.PublishAsync(topic, $"m{i}", QoSOf(i)));
        await first.KillAsync();

        await using var second = await location.StartAsync();
        Assert.Equal((2, 2 * count), (second.Recovery().Sessions, second.Recovery().Queued));
        await using (var v5 = await MqttNetPeer.ConnectPersistentAsync(second.Port, V5, "queued-v5"))
        {
            Assert.True(v5.ConnectResult.IsSessionPresent);
            AssertInOrder(await v5.ReceiveAsync(count));
            await v5.AssertNothingReceivedAsync();
            await v5.DisconnectAsync();
        }
        // Its acknowledgements (and the DISCONNECT after them) were read before the broker logged the disconnect.
        await second.Runner.WaitForOutputAsync("Client queued-v5 disconnected.", Waits.Event);
        await second.SettleAsync();
        await second.KillAsync();

        await using var third = await location.StartAsync();
        Assert.Equal((2, count), (third.Recovery().Sessions, third.Recovery().Queued));
        await using var v311 = await MqttNetPeer.ConnectPersistentAsync(third.Port, MqttProtocolVersion.V311, "queued-v311");
        Assert.True(v311.ConnectResult.IsSessionPresent);
        AssertInOrder(await v311.ReceiveAsync(count));
        await v311.AssertNothingReceivedAsync();

        static MqttQualityOfServiceLevel QoSOf(int i) => i % 2 == 0 ? MqttQualityOfServiceLevel.AtLeastOnce : MqttQualityOfServiceLevel.ExactlyOnce;

        static void AssertInOrder(List<ReceivedMessage> received)
        {
            Assert.Equal(Enumerable.Range(0, count).Select(i => $"m{i}"), received.Select(m => m.Text));
            Assert.Equal(Enumerable.Range(0, count).Select(QoSOf), received.Select(m => m.QoS));
            // Queued, never sent before: not a resend.
            Assert.All(received, m => Assert.False(m.Dup, $"{m} was sent with DUP=1"));
        }
    }

    [Fact]
    public async Task Recovery_log_line_counts_what_came_back()
    {
        using var location = new RestartLocation();
        await using var first = await location.StartAsync();
        Assert.DoesNotContain("Recovered", first.Runner.Stdout);

        // Session 1: offline, two queued messages.
        await using (var queued = await MqttNetPeer.ConnectPersistentAsync(first.Port, V5, "count-queued"))
        {
            await queued.SubscribeAsync("count/queued");
            await queued.DisconnectAsync();
        }
        // Session 2: connected (3.1.1), one message inflight, never acknowledged.
        var (inflight, _) = await RawMqttClient.ConnectAsync(first.Port, RawMqttClient.Connect(ProtocolVersion.V311, "count-inflight", persistent: true));
        await using var _1 = inflight;
        await inflight.SubscribeAsync(1, "count/inflight", QualityOfService.AtLeastOnce);
        await using (var publisher = await MqttNetPeer.ConnectAsync(first.Port, V5, "count-pub"))
        {
            AssertAccepted(await publisher.PublishAsync("count/queued", "q1"));
            AssertAccepted(await publisher.PublishAsync("count/queued", "q2"));
            AssertAccepted(await publisher.PublishAsync("count/inflight", "i1"));
            AssertAccepted(await publisher.PublishAsync("count/retained", "r1", retain: true));
        }
        Assert.Equal("i1", Encoding.UTF8.GetString((await inflight.ReceiveAsync<PublishPacket>()).Payload.Span));
        // Session 3: a QoS 2 PUBLISH answered with PUBREC, no PUBREL yet.
        var (qos2, _) = await RawMqttClient.ConnectAsync(first.Port, RawMqttClient.Connect(ProtocolVersion.V500, "count-qos2", persistent: true));
        await using var _2 = qos2;
        await qos2.SendAsync(new PublishPacket { Topic = "count/nobody", QoS = QualityOfService.ExactlyOnce, PacketId = 3, Payload = Encoding.UTF8.GetBytes("x") });
        var pubrec = await qos2.ReceiveAsync<PubRecPacket>();
        Assert.True((byte)pubrec.ReasonCode < 0x80, $"PUBREC rc 0x{(byte)pubrec.ReasonCode:X2}");
        // Session 4: gone without DISCONNECT, its will delayed by 10 minutes.
        var willConnect = RawMqttClient.Connect(ProtocolVersion.V500, "count-will", persistent: true);
        willConnect.Will = new WillMessage
        {
            Topic = "count/will",
            Payload = Encoding.UTF8.GetBytes("later"),
            QoS = QualityOfService.AtLeastOnce,
            Properties = new MqttProperties { WillDelayInterval = 600 },
        };
        var (will, _) = await RawMqttClient.ConnectAsync(first.Port, willConnect);
        will.Drop();
        await will.DisposeAsync();
        await first.Runner.WaitForOutputAsync("Client count-will closed its connection", Waits.Event);
        await first.SettleAsync();
        await first.KillAsync();

        const string expected = "Recovered 4 session(s), 2 queued and 1 inflight message(s), 1 QoS 2 flow(s) awaiting PUBREL, "
            + "1 delayed will(s) and 1 retained message(s) in ";
        await using var second = await location.StartAsync();
        var line = second.Recovery();
        Assert.True(line.Text.StartsWith(expected, StringComparison.Ordinal), $"expected a line starting \"{expected}\"; the log:\n{second.Runner.Stdout}");
        Assert.EndsWith(" s.", line.Text);
        Assert.InRange(line.Seconds, 0, 10);

        // Recovering changes nothing by itself: killed again at once, the next broker finds the same.
        await second.KillAsync();
        await using var third = await location.StartAsync();
        Assert.True(third.Recovery().Text.StartsWith(expected, StringComparison.Ordinal), $"expected a line starting \"{expected}\"; the log:\n{third.Runner.Stdout}");
    }
}
