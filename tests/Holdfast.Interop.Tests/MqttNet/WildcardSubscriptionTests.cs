using Holdfast.Interop.Tests.Infrastructure;
using MQTTnet;
using MQTTnet.Formatter;
using MQTTnet.Protocol;

namespace Holdfast.Interop.Tests.MqttNet;

/// <summary>Topic filters (MQTT 5.0 §4.7): '+' one level, '#' the parent and every level below, '$'-topics not matched
/// by a filter that starts with a wildcard; UNSUBSCRIBE stops delivery.</summary>
public sealed class WildcardSubscriptionTests
{
    [Theory]
    [InlineData(MqttProtocolVersion.V311)]
    [InlineData(MqttProtocolVersion.V500)]
    public async Task Plus_matches_exactly_one_level(MqttProtocolVersion version)
    {
        await using var broker = await TestBroker.StartAsync();
        await using var subscriber = await MqttNetPeer.ConnectAsync(broker.Port, version, $"plus-sub-{version}");
        await subscriber.SubscribeAsync("sport/+/score");
        await using var publisher = await MqttNetPeer.ConnectAsync(broker.Port, version, $"plus-pub-{version}");

        foreach (var topic in new[] { "sport/a/score", "sport/a/b/score", "sport/score", "sport//score", "sport/b/score/x", "sport/b/score" })
            await publisher.PublishAsync(topic, topic);

        var received = await subscriber.ReceiveAsync(3);
        Assert.Equal(["sport/a/score", "sport//score", "sport/b/score"], received.Select(m => m.Topic));
        await subscriber.AssertNothingReceivedAsync();
    }

    [Theory]
    [InlineData(MqttProtocolVersion.V311)]
    [InlineData(MqttProtocolVersion.V500)]
    public async Task Hash_matches_the_parent_and_every_level_below(MqttProtocolVersion version)
    {
        await using var broker = await TestBroker.StartAsync();
        await using var subscriber = await MqttNetPeer.ConnectAsync(broker.Port, version, $"hash-sub-{version}");
        await subscriber.SubscribeAsync("home/#");
        await using var publisher = await MqttNetPeer.ConnectAsync(broker.Port, version, $"hash-pub-{version}");

        foreach (var topic in new[] { "home", "homes/a", "home/a", "other/home/a", "home/a/b/c", "home/" })
            await publisher.PublishAsync(topic, topic);

        var received = await subscriber.ReceiveAsync(4);
        Assert.Equal(["home", "home/a", "home/a/b/c", "home/"], received.Select(m => m.Topic));
        await subscriber.AssertNothingReceivedAsync();
    }

    [Theory]
    [InlineData(MqttProtocolVersion.V311)]
    [InlineData(MqttProtocolVersion.V500)]
    public async Task Filters_starting_with_a_wildcard_do_not_match_dollar_topics(MqttProtocolVersion version)
    {
        // [MQTT-4.7.2-1]: '#' and '+/…' must not match topics beginning with '$'; '$foo/#' does.
        await using var broker = await TestBroker.StartAsync();
        await using var everything = await MqttNetPeer.ConnectAsync(broker.Port, version, $"dollar-hash-{version}");
        await everything.SubscribeAsync("#");
        await using var plus = await MqttNetPeer.ConnectAsync(broker.Port, version, $"dollar-plus-{version}");
        await plus.SubscribeAsync("+/bar");
        await using var explicitDollar = await MqttNetPeer.ConnectAsync(broker.Port, version, $"dollar-explicit-{version}");
        await explicitDollar.SubscribeAsync("$foo/#");
        await using var publisher = await MqttNetPeer.ConnectAsync(broker.Port, version, $"dollar-pub-{version}");

        await publisher.PublishAsync("$foo/bar", "dollar");
        Assert.Equal("$foo/bar", (await explicitDollar.ReceiveAsync()).Topic);

        // Positive control for the wildcard subscribers: a plain topic reaches both, and nothing came before it.
        await publisher.PublishAsync("foo/bar", "plain");
        Assert.Equal("foo/bar", (await everything.ReceiveAsync()).Topic);
        Assert.Equal("foo/bar", (await plus.ReceiveAsync()).Topic);
        await everything.AssertNothingReceivedAsync();
        plus.AssertNothingPending();
        Assert.DoesNotContain(everything.All, m => m.Topic.StartsWith('$'));
        Assert.DoesNotContain(plus.All, m => m.Topic.StartsWith('$'));
    }

    [Theory]
    [InlineData(MqttProtocolVersion.V311)]
    [InlineData(MqttProtocolVersion.V500)]
    public async Task Unsubscribe_stops_delivery_for_that_filter_only(MqttProtocolVersion version)
    {
        await using var broker = await TestBroker.StartAsync();
        await using var subscriber = await MqttNetPeer.ConnectAsync(broker.Port, version, $"unsub-{version}");
        await subscriber.SubscribeAsync("unsub/a");
        await subscriber.SubscribeAsync("unsub/b");

        var result = await subscriber.Client.UnsubscribeAsync(new MqttClientUnsubscribeOptionsBuilder().WithTopicFilter("unsub/a").WithTopicFilter("unsub/never").Build());
        if (version == MqttProtocolVersion.V500)
        {
            Assert.Equal([MqttClientUnsubscribeResultCode.Success, MqttClientUnsubscribeResultCode.NoSubscriptionExisted], result.Items.Select(i => i.ResultCode));
        }
        await broker.Log.WaitForAsync($"unsub-{version} unsub/a");

        await using var publisher = await MqttNetPeer.ConnectAsync(broker.Port, version, $"unsub-pub-{version}");
        await publisher.PublishAsync("unsub/a", "gone");
        await publisher.PublishAsync("unsub/b", "still");
        Assert.Equal("still", (await subscriber.ReceiveAsync()).Text);
        await subscriber.AssertNothingReceivedAsync();
    }

    [Theory]
    [InlineData(MqttProtocolVersion.V311)]
    [InlineData(MqttProtocolVersion.V500)]
    public async Task Overlapping_subscriptions_deliver_one_copy_at_the_highest_granted_qos(MqttProtocolVersion version)
    {
        // Holdfast's documented choice (MQTT 5.0 §3.3.4 allows it): one copy per session, at the highest QoS among the
        // matching subscriptions, carrying every matching subscription identifier.
        await using var broker = await TestBroker.StartAsync();
        await using var subscriber = await MqttNetPeer.ConnectAsync(broker.Port, version, $"overlap-{version}");
        bool v5 = version == MqttProtocolVersion.V500;
        var low = new MqttClientSubscribeOptionsBuilder().WithTopicFilter("overlap/#", MqttQualityOfServiceLevel.AtMostOnce);
        var high = new MqttClientSubscribeOptionsBuilder().WithTopicFilter("overlap/+/x", MqttQualityOfServiceLevel.ExactlyOnce);
        if (v5) { low.WithSubscriptionIdentifier(1); high.WithSubscriptionIdentifier(2); }
        await subscriber.SubscribeAsync(low.Build());
        await subscriber.SubscribeAsync(high.Build());

        await using var publisher = await MqttNetPeer.ConnectAsync(broker.Port, version, $"overlap-pub-{version}");
        await publisher.PublishAsync("overlap/a/x", "both match", MqttQualityOfServiceLevel.ExactlyOnce);
        await publisher.PublishAsync("overlap/a/y", "one matches", MqttQualityOfServiceLevel.ExactlyOnce);

        var both = await subscriber.ReceiveAsync();
        Assert.Equal("both match", both.Text);
        Assert.Equal(MqttQualityOfServiceLevel.ExactlyOnce, both.QoS);
        if (v5) Assert.Equal([1u, 2u], both.SubscriptionIdentifiers.Order());

        var one = await subscriber.ReceiveAsync();
        Assert.Equal("one matches", one.Text);
        Assert.Equal(MqttQualityOfServiceLevel.AtMostOnce, one.QoS);
        if (v5) Assert.Equal([1u], one.SubscriptionIdentifiers);

        await subscriber.AssertNothingReceivedAsync();
    }

    [Theory]
    [InlineData(Holdfast.Protocol.ProtocolVersion.V311)]
    [InlineData(Holdfast.Protocol.ProtocolVersion.V500)]
    public async Task Invalid_filter_gets_a_failure_code_and_valid_ones_in_the_same_subscribe_are_granted(Holdfast.Protocol.ProtocolVersion version)
    {
        // MQTT 5: 0x8F Topic Filter invalid; 3.1.1: 0x80 Failure. MQTTnet validates filters itself, so a raw client sends them.
        await using var broker = await TestBroker.StartAsync();
        var (client, _) = await RawMqttClient.ConnectAsync(broker.Port, RawMqttClient.Connect(version, $"bad-filter-{version}", persistent: false));
        await using var __ = client;
        await client.SendAsync(new Holdfast.Protocol.SubscribePacket
        {
            PacketId = 5,
            Subscriptions =
            [
                new() { TopicFilter = "ok/+", MaximumQoS = Holdfast.Protocol.QualityOfService.AtLeastOnce },
                new() { TopicFilter = "bad/#/x", MaximumQoS = Holdfast.Protocol.QualityOfService.AtLeastOnce },
                new() { TopicFilter = "bad+/x", MaximumQoS = Holdfast.Protocol.QualityOfService.AtLeastOnce },
            ],
        });
        var suback = await client.ReceiveAsync<Holdfast.Protocol.SubAckPacket>();
        Assert.Equal(5, suback.PacketId);
        var failure = version == Holdfast.Protocol.ProtocolVersion.V500 ? Holdfast.Protocol.ReasonCode.TopicFilterInvalid : Holdfast.Protocol.ReasonCode.UnspecifiedError;
        Assert.Equal([Holdfast.Protocol.ReasonCode.GrantedQoS1, failure, failure], suback.ReasonCodes);
        Assert.False(client.Closed.IsCompleted);
    }
}
