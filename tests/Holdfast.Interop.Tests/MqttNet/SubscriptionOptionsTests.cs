using Holdfast.Interop.Tests.Infrastructure;
using MQTTnet;
using MQTTnet.Formatter;
using MQTTnet.Protocol;

namespace Holdfast.Interop.Tests.MqttNet;

/// <summary>MQTT 5 subscription options and identifiers (MQTT 5.0 §3.8.3.1, §3.8.2.1.2): subscription identifiers,
/// No Local, Retain As Published, Retain Handling 0/1/2.</summary>
public sealed class SubscriptionOptionsTests
{
    private const MqttProtocolVersion V5 = MqttProtocolVersion.V500;

    private static MqttClientSubscribeOptions Filter(string topic, bool noLocal = false, bool retainAsPublished = false,
        MqttRetainHandling retainHandling = MqttRetainHandling.SendAtSubscribe, uint? subscriptionId = null)
    {
        var builder = new MqttClientSubscribeOptionsBuilder().WithTopicFilter(new MqttTopicFilterBuilder()
            .WithTopic(topic).WithAtLeastOnceQoS().WithNoLocal(noLocal).WithRetainAsPublished(retainAsPublished)
            .WithRetainHandling(retainHandling).Build());
        if (subscriptionId is { } id) builder.WithSubscriptionIdentifier(id);
        return builder.Build();
    }

    [Fact]
    public async Task Subscription_identifier_is_delivered_with_matching_messages()
    {
        await using var broker = await TestBroker.StartAsync();
        await using var subscriber = await MqttNetPeer.ConnectAsync(broker.Port, V5, "subid-sub");
        Assert.True(subscriber.ConnectResult.SubscriptionIdentifiersAvailable);
        await subscriber.SubscribeAsync(Filter("subid/with/#", subscriptionId: 42));
        await subscriber.SubscribeAsync(Filter("subid/without"));
        await using var publisher = await MqttNetPeer.ConnectAsync(broker.Port, V5, "subid-pub");

        await publisher.PublishAsync("subid/with/a", "tagged");
        await publisher.PublishAsync("subid/without", "untagged");

        var tagged = await subscriber.ReceiveAsync();
        Assert.Equal("tagged", tagged.Text);
        Assert.Equal([42u], tagged.SubscriptionIdentifiers);
        var untagged = await subscriber.ReceiveAsync();
        Assert.Equal("untagged", untagged.Text);
        Assert.Empty(untagged.SubscriptionIdentifiers);
    }

    [Fact]
    public async Task No_local_keeps_a_clients_own_messages_from_it()
    {
        await using var broker = await TestBroker.StartAsync();
        await using var noLocal = await MqttNetPeer.ConnectAsync(broker.Port, V5, "nolocal-on");
        await noLocal.SubscribeAsync(Filter("nolocal/t", noLocal: true));
        await using var local = await MqttNetPeer.ConnectAsync(broker.Port, V5, "nolocal-off");
        await local.SubscribeAsync(Filter("nolocal/t", noLocal: false));

        await noLocal.PublishAsync("nolocal/t", "own");
        await local.PublishAsync("nolocal/t", "other");

        // [MQTT-3.8.3-3]: not forwarded to the publishing client's own No Local subscription.
        Assert.Equal("other", (await noLocal.ReceiveAsync()).Text);
        // Without No Local the client does see its own message (the control).
        Assert.Equal(["own", "other"], (await local.ReceiveAsync(2)).Select(m => m.Text));
        await noLocal.AssertNothingReceivedAsync();
    }

    [Fact]
    public async Task Retain_as_published_keeps_the_retain_flag_on_live_delivery()
    {
        await using var broker = await TestBroker.StartAsync();
        await using var asPublished = await MqttNetPeer.ConnectAsync(broker.Port, V5, "rap-on");
        await asPublished.SubscribeAsync(Filter("rap/t", retainAsPublished: true));
        await using var cleared = await MqttNetPeer.ConnectAsync(broker.Port, V5, "rap-off");
        await cleared.SubscribeAsync(Filter("rap/t", retainAsPublished: false));
        await using var publisher = await MqttNetPeer.ConnectAsync(broker.Port, V5, "rap-pub");

        await publisher.PublishAsync("rap/t", "retained live", retain: true);

        // [MQTT-3.3.1-12]: RAP 0 → RETAIN 0 on forwarding; [MQTT-3.3.1-13]: RAP 1 → RETAIN as published.
        Assert.True((await asPublished.ReceiveAsync()).Retain);
        Assert.False((await cleared.ReceiveAsync()).Retain);
    }

    [Fact]
    public async Task Retain_handling_0_sends_on_every_subscribe_1_only_on_a_new_one_2_never()
    {
        await using var broker = await TestBroker.StartAsync();
        await using var publisher = await MqttNetPeer.ConnectAsync(broker.Port, V5, "rh-pub");
        await publisher.PublishAsync("rh/t", "retained", retain: true);

        await using var rh0 = await MqttNetPeer.ConnectAsync(broker.Port, V5, "rh-0");
        await using var rh1 = await MqttNetPeer.ConnectAsync(broker.Port, V5, "rh-1");
        await using var rh2 = await MqttNetPeer.ConnectAsync(broker.Port, V5, "rh-2");
        foreach (var round in new[] { "first", "again" })
        {
            await rh0.SubscribeAsync(Filter("rh/t", retainHandling: MqttRetainHandling.SendAtSubscribe));
            await rh1.SubscribeAsync(Filter("rh/t", retainHandling: MqttRetainHandling.SendAtSubscribeIfNewSubscriptionOnly));
            await rh2.SubscribeAsync(Filter("rh/t", retainHandling: MqttRetainHandling.DoNotSendOnSubscribe));
            // A live message after the subscribes marks where retained deliveries for this round would have come.
            await publisher.PublishAsync("rh/t", $"live {round}");

            var expected0 = new[] { "retained", $"live {round}" };
            var expected1 = round == "first" ? expected0 : [$"live {round}"];
            string[] expected2 = [$"live {round}"];
            Assert.Equal(expected0, (await rh0.ReceiveAsync(expected0.Length)).Select(m => m.Text));
            Assert.Equal(expected1, (await rh1.ReceiveAsync(expected1.Length)).Select(m => m.Text));
            Assert.Equal(expected2, (await rh2.ReceiveAsync(expected2.Length)).Select(m => m.Text));
        }
        Assert.All(rh0.All.Where(m => m.Text == "retained"), m => Assert.True(m.Retain));
        await rh0.AssertNothingReceivedAsync();
        rh1.AssertNothingPending();
        rh2.AssertNothingPending();
    }
}
