using Holdfast.Interop.Tests.Infrastructure;
using MQTTnet;
using MQTTnet.Formatter;

namespace Holdfast.Interop.Tests.MqttNet;

/// <summary>
/// A client that sends DISCONNECT and reconnects at once with the same client id: its will must not be published
/// [MQTT-3.1.2-10]. Each connection is read on its own, so the new CONNECT can reach the broker before the old
/// connection's DISCONNECT has been handled; the takeover then waits for the old connection to settle. Before that, 8
/// of 60 runs of Mosquitto's own test (07-will-reconnect-1273) saw the will.
/// </summary>
public sealed class DisconnectReconnectTests
{
    private const int Rounds = 100;

    [Theory]
    [InlineData(MqttProtocolVersion.V311)]
    [InlineData(MqttProtocolVersion.V500)]
    public async Task Disconnect_then_immediate_reconnect_never_publishes_the_will(MqttProtocolVersion version)
    {
        await using var broker = await TestBroker.StartAsync();
        string id = $"reconnect-{version}";
        string willTopic = $"reconnect-will/{version}";
        await using var watcher = await MqttNetPeer.ConnectAsync(broker.Port, version, $"reconnect-watcher-{version}");
        await watcher.SubscribeAsync(willTopic);

        var options = MqttNetPeer.Options(broker.Port, version, id).WithCleanSession(false)
            .WithWillTopic(willTopic).WithWillPayload("will");
        if (version == MqttProtocolVersion.V500) options.WithSessionExpiryInterval(60);
        using var client = new MqttClientFactory().CreateMqttClient();
        for (int round = 0; round < Rounds; round++)
        {
            await client.ConnectAsync(options.Build());
            // A message from the live connection, as in Mosquitto's test: the DISCONNECT follows right behind it.
            await client.PublishStringAsync(willTopic, $"alive {round}");
            await client.DisconnectAsync();
        }
        await client.ConnectAsync(options.Build());
        await client.PublishStringAsync(willTopic, "last");

        // Wills are published before the next CONNACK, so every one would arrive before "last".
        var received = new List<string>();
        while (received.LastOrDefault() != "last") received.Add((await watcher.ReceiveAsync()).Text);
        Assert.DoesNotContain("will", received);
        Assert.Equal(Rounds + 1, received.Count);
        Assert.False(broker.Log.Contains("already connected, closing old connection"), "no round ended in a takeover");
    }

    /// <summary>The wait before a takeover must never end the connected client: CONNECTs that are then refused (a wrong
    /// password), sent many at a time with its client id, leave it connected, its will unpublished.</summary>
    [Theory]
    [InlineData(MqttProtocolVersion.V311)]
    [InlineData(MqttProtocolVersion.V500)]
    public async Task Refused_connects_with_the_same_id_leave_the_connected_client_alone(MqttProtocolVersion version)
    {
        using var files = new Security.AclTestFiles();
        files.WritePasswords(("owner", "right"));
        await using var broker = await TestBroker.StartAsync($"allow_anonymous true\npassword_file {files.Passwords}");
        string id = $"victim-{version}", willTopic = $"victim-will/{version}";
        await using var watcher = await MqttNetPeer.ConnectAsync(broker.Port, version, $"victim-watcher-{version}");
        await watcher.SubscribeAsync(willTopic);
        await using var victim = await MqttNetPeer.ConnectAsync(broker.Port, version, id,
            b => b.WithCredentials("owner", "right").WithWillTopic(willTopic).WithWillPayload("victim gone"));

        // Many at once, so that requests to settle overlap while the victim's connection answers one.
        var options = MqttNetPeer.Options(broker.Port, version, id).WithCredentials("owner", "wrong").Build();
        for (int wave = 0; wave < 5; wave++)
        {
            var codes = await Task.WhenAll(Enumerable.Range(0, 20).Select(async _ =>
            {
                using var intruder = new MqttClientFactory().CreateMqttClient();
                return (await intruder.ConnectAsync(options)).ResultCode;
            }));
            Assert.All(codes, code => Assert.Equal(MqttClientConnectResultCode.NotAuthorized, code));
        }

        // Still connected, and still served: its own message comes back to it.
        await victim.SubscribeAsync($"victim/{version}");
        await victim.PublishAsync($"victim/{version}", "still here");
        Assert.Equal("still here", (await victim.ReceiveAsync()).Text);
        Assert.True(victim.Client.IsConnected);
        Assert.Empty(watcher.All);
        Assert.False(broker.Log.Contains("already connected, closing old connection"));
    }
}
