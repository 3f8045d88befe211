using Holdfast.Interop.Tests.Infrastructure;
using MQTTnet.Formatter;
using MQTTnet.Protocol;

namespace Holdfast.Interop.Tests.MqttNet;

/// <summary>Shared subscriptions (MQTT 5.0 §4.8.2; also offered to 3.1.1 clients, as Mosquitto does): each message
/// goes to exactly one member of the group; a plain subscription on the same topic still gets its own copy.</summary>
public sealed class SharedSubscriptionTests
{
    private const int Count = 10;

    [Theory]
    [InlineData(MqttProtocolVersion.V311)]
    [InlineData(MqttProtocolVersion.V500)]
    public async Task Each_message_goes_to_exactly_one_member_of_the_group(MqttProtocolVersion version)
    {
        await using var broker = await TestBroker.StartAsync();
        await using var memberA = await MqttNetPeer.ConnectAsync(broker.Port, version, $"shared-a-{version}");
        await using var memberB = await MqttNetPeer.ConnectAsync(broker.Port, version, $"shared-b-{version}");
        await using var plain = await MqttNetPeer.ConnectAsync(broker.Port, version, $"shared-plain-{version}");
        await memberA.SubscribeAsync("$share/group1/shared/t");
        await memberB.SubscribeAsync("$share/group1/shared/t");
        await plain.SubscribeAsync("shared/t");

        await using var publisher = await MqttNetPeer.ConnectAsync(broker.Port, version, $"shared-pub-{version}");
        for (int i = 0; i < Count; i++)
            await publisher.PublishAsync("shared/t", i.ToString());

        // The plain subscriber sees all of them: the positive control that every message was routed.
        var all = await plain.ReceiveAsync(Count);
        Assert.Equal(Enumerable.Range(0, Count).Select(i => i.ToString()), all.Select(m => m.Text));

        await Waits.UntilAsync(() => memberA.All.Count + memberB.All.Count >= Count, "the group to receive every message");
        // Bounded watch: nothing more comes to either member (a message given to both would show up here).
        await Task.Delay(Waits.Quiet);
        Assert.Equal(Count, memberA.All.Count + memberB.All.Count);

        var texts = memberA.All.Concat(memberB.All).Select(m => m.Text).Order(StringComparer.Ordinal).ToList();
        Assert.Equal(Enumerable.Range(0, Count).Select(i => i.ToString()).Order(StringComparer.Ordinal), texts);
        Assert.NotEmpty(memberA.All);
        Assert.NotEmpty(memberB.All);
        Assert.All(memberA.All.Concat(memberB.All), m => Assert.Equal("shared/t", m.Topic));
    }
}
